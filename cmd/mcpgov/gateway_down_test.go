//go:build unix

package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayUpstreamDown: a remote upstream nobody listens on, and a
// stdio server that exits at once. The client gets a JSON-RPC error that
// names the server and what failed, the gateway keeps serving, and the
// attempt is recorded.
func TestGatewayUpstreamDown(t *testing.T) {
	gov := t.TempDir()
	dead := freeAddr(t) // nothing listens there
	writeFile(t, filepath.Join(gov, "catalog.toml"), fmt.Sprintf(`[catalog]
mode = "enforce"
[servers.remote]
status = "approved"
[servers.remote.launch]
url = "http://%s/mcp"
[servers.crash]
status = "approved"
[servers.crash.launch]
command = "sh"
args = ["-c", "echo 'crash: cannot start' >&2; exit 3"]
[servers.lenient]
status = "approved"
[servers.lenient.launch]
command = "lenient-mcp-server"
`, dead))
	auditDir := filepath.Join(t.TempDir(), "audit")
	env := sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir)
	base, stderr := serveGateway(t, env, "--bundle", gov, "--allow-anonymous")
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	for _, c := range []struct{ server, want string }{
		{"remote", `"message":"upstream MCP server remote is not accepting messages: sending \"initialize\": Post \"http://` + dead + `/mcp\": dial tcp ` + dead + `: connect: connection refused"`},
		// The process may be gone before the gateway writes to it or
		// after: either way the answer names it and how it ended.
		{"crash", `: the server process ended (exit status 3)"`},
	} {
		status, body, _ := rawPost(t, base+"/servers/"+c.server+"/mcp", "", init)
		// (or before the session took the call: it then ends with why).
		if status != 200 || !strings.Contains(body, `"id":1,"error":{"code":-32603,"message":"`) ||
			!strings.Contains(body, "server "+c.server+" ") || !strings.Contains(body, c.want) {
			t.Errorf("initialize through the down server %s: %d %s; want a JSON-RPC error with %s", c.server, status, body, c.want)
		}
	}

	// A server that dies in the middle of a call: the call is answered
	// with why, recorded as an error, and the gateway serves on.
	status, _, hdr := rawPost(t, base+"/servers/lenient/mcp", "", init)
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize lenient: %d", status)
	}
	rawPost(t, base+"/servers/lenient/mcp", sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	status, body, _ := rawPost(t, base+"/servers/lenient/mcp", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash","arguments":{}}}`)
	if want := `{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"upstream MCP server lenient exited: the server process ended (exit status 7)"}}`; status != 200 || body != want {
		t.Errorf("a call whose server died: %d %s\nwant 200 %s", status, body, want)
	}
	if status, body, _ := rawPost(t, base+"/servers/lenient/mcp", sid, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`); status != 404 || !strings.Contains(body, "session not found") {
		t.Errorf("the dead server's session: %d %s; want 404 session not found (initialize anew)", status, body)
	}
	if status, body, _ := rawPost(t, base+"/servers/lenient/mcp", "", init); status != 200 || !strings.Contains(body, `"serverInfo"`) {
		t.Errorf("a new session after the crash: %d %s", status, body)
	}
	q := exec.Command("mcpgov", "audit", "query", "--tool", "crash", "--format", "jsonl")
	q.Env = env
	out, err := q.Output()
	if err != nil || !strings.Contains(string(out), `"outcome":"error"`) || !strings.Contains(string(out), "exit status 7") {
		t.Errorf("the crashed call's record: %v %s\ngateway stderr:\n%s", err, out, stderr())
	}
}

// TestGatewayMetricsListener: with --metrics-listen, /metrics is served on
// that address and not beside the MCP endpoints.
func TestGatewayMetricsListener(t *testing.T) {
	gov := t.TempDir()
	writeFile(t, filepath.Join(gov, "catalog.toml"), "[catalog]\nmode = \"enforce\"\n[servers.lenient]\nstatus = \"approved\"\n[servers.lenient.launch]\ncommand = \"lenient-mcp-server\"\n")
	metricsAddr := freeAddr(t)
	base, stderr := serveGateway(t, sandboxEnv(t), "--bundle", gov, "--allow-anonymous", "--metrics-listen", metricsAddr)
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get(base + "/metrics"); status != http.StatusNotFound {
		t.Errorf("/metrics beside the MCP endpoints: %d, want 404", status)
	}
	if status, body := get("http://" + metricsAddr + "/metrics"); status != 200 || !strings.Contains(body, "mcpgov_") {
		t.Errorf("/metrics on --metrics-listen: %d %.200s", status, body)
	}
	if !strings.Contains(stderr(), "metrics at http://"+metricsAddr+"/metrics") {
		t.Errorf("the gateway does not say where its metrics are:\n%s", stderr())
	}
}
