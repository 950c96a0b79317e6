package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayTrustedProxy runs the gateway behind the real nginx, which
// reaches it from 127.0.0.2 ([gateway] trusted_proxies) and appends the
// caller's address to X-Forwarded-For. Two callers behind nginx (from
// 127.0.0.3 and 127.0.0.4) fail authentication: each gets a failure
// bucket of its own, and the records name each one's address. A caller
// that reaches the gateway directly, from an untrusted peer, and writes
// the second caller's address in X-Forwarded-For is counted under its
// own address: the header is ignored, and the second caller is not held
// off for it.
func TestGatewayTrustedProxy(t *testing.T) {
	bundle := writeBundle(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, `[gateway]
trusted_proxies = ["127.0.0.2"]
auth_failures = 2
auth_failure_window = "10m"
`)
	auditDir := filepath.Join(dir, "audit")
	env := sandboxEnv(t, "MCPGOV_CONFIG="+config, "MCPGOV_AUDIT_DIR="+auditDir)
	// A token store, so that the gateway authenticates callers; the
	// callers here only ever send a token it did not issue.
	create := exec.Command("mcpgov", "gateway", "token", "create", "--user", "ann", "--groups", "eng", "--expires", "1h")
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	g := runGateway(t, env, "--bundle", bundle, "--listen", addr)
	lb := startNginxWith(t, []string{addr}, `      proxy_bind 127.0.0.2;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
`)
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	call := func(c *http.Client, base, xff string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, base+"/servers/fake/mcp",
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer mcpgov_pat_not-a-real-token")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	a, b, spoofer := from("127.0.0.3"), from("127.0.0.4"), from("127.0.0.5")
	direct := "http://" + addr
	for _, step := range []struct {
		name        string
		client      *http.Client
		base, xff   string
		status      int
		heldOffAddr string
	}{
		{"A behind nginx", a, lb, "", 401, ""},
		{"A again: its limit", a, lb, "", 401, ""},
		{"A held off", a, lb, "", 429, "127.0.0.3"},
		{"B behind nginx: a bucket of its own", b, lb, "", 401, ""},
		{"B spoofing an address through nginx: nginx appends B's", b, lb, "203.0.113.9", 401, ""},
		{"B held off under its own address", b, lb, "203.0.113.10", 429, "127.0.0.4"},
		{"direct caller claiming to be A", spoofer, direct, "127.0.0.3", 401, ""},
		{"direct caller claiming to be B", spoofer, direct, "127.0.0.4", 401, ""},
		{"direct caller held off under its own address", spoofer, direct, "198.51.100.1", 429, "127.0.0.5"},
	} {
		status, body := call(step.client, step.base, step.xff)
		if status != step.status || step.heldOffAddr != "" && !strings.Contains(body, "too many failed authentications from "+step.heldOffAddr+";") {
			t.Fatalf("%s: %d %q, want %d (held off: %q)\n%s", step.name, status, body, step.status, step.heldOffAddr, g.stderr())
		}
	}

	// The refused calls are recorded with the client's address.
	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	for ip, n := range map[string]int{"127.0.0.3": 2, "127.0.0.4": 2, "127.0.0.5": 2} {
		if got := strings.Count(string(out), "authentication failed from "+ip+":"); got != n {
			t.Errorf("records of failures from %s: %d, want %d\n%s", ip, got, n, out)
		}
	}
	if strings.Contains(string(out), "203.0.113.") || strings.Contains(string(out), "127.0.0.2") {
		t.Errorf("a record names a spoofed or the proxy's address:\n%s", out)
	}
}
