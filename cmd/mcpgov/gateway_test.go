package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
)

// buildConformanceServer builds the go-sdk's conformance fixture server
// (the module's conformance/everything-server) into a temporary directory.
func buildConformanceServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "everything-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server").CombinedOutput()
	if err != nil {
		t.Fatalf("build the go-sdk conformance server: %v\n%s", err, out)
	}
	return bin
}

// startProcess starts a server process in its own group, killed with its
// group when the test ends.
func startProcess(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
}

// listening waits until addr accepts connections.
func listening(t *testing.T, addr string) {
	t.Helper()
	await.Until(t, addr+" listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// startConformanceHTTP runs the conformance server over Streamable HTTP
// (with sessions) and returns its /mcp URL.
func startConformanceHTTP(t *testing.T, bin string) string {
	t.Helper()
	addr := freeAddr(t)
	startProcess(t, os.Environ(), bin, "-http", addr, "-stateless=false")
	listening(t, addr)
	return "http://" + addr + "/mcp"
}

// startGateway runs `mcpgov gateway serve` on bundle and returns its base
// URL and a function that returns its stderr so far.
func startGateway(t *testing.T, bundle string, extra ...string) (string, func() string) {
	t.Helper()
	return startGatewayEnv(t, sandboxEnv(t), bundle, extra...)
}

// startGatewayEnv is startGateway with the gateway's environment.
func startGatewayEnv(t *testing.T, env []string, bundle string, extra ...string) (string, func() string) {
	t.Helper()
	return serveGateway(t, env, append([]string{"--bundle", bundle, "--allow-anonymous"}, extra...)...)
}

// serveGateway runs `mcpgov gateway serve ARGS` on a free loopback
// address with env until the test ends, and returns its base URL (once it
// answers /healthz) and its stderr so far.
func serveGateway(t *testing.T, env []string, args ...string) (string, func() string) {
	t.Helper()
	return serveGatewayAt(t, freeAddr(t), env, args...)
}

// serveGatewayAt is serveGateway on addr, for a test that must name the
// gateway's URL before it starts (an identity provider's redirect URI).
func serveGatewayAt(t *testing.T, addr string, env []string, args ...string) (string, func() string) {
	t.Helper()
	cmd := exec.Command("mcpgov", append([]string{"gateway", "serve", "--listen", addr}, args...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	copied := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if testing.Verbose() {
				fmt.Fprintln(os.Stderr, "gateway:", sc.Text())
			}
		}
		close(copied)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-copied
		cmd.Wait()
	})
	base := "http://" + addr
	await.Until(t, "the gateway answering /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return base, log.String
}

// runConformanceServerSuite runs the server scenarios of npm
// @modelcontextprotocol/conformance against url and returns, per
// scenario, whether every check passed.
func runConformanceServerSuite(t *testing.T, suite conformance.Suite, url string) map[string]bool {
	t.Helper()
	out := t.TempDir()
	cmd := suite.Command(await.Context(t), "server", "--url", url, "-o", out)
	cmd.Env = sandboxEnv(t)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		// Failing scenarios make it exit 1; the checks say which.
		t.Logf("conformance against %s: %v", url, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "server-*", "checks.json"))
	if len(dirs) == 0 {
		t.Fatalf("conformance against %s wrote no results:\n%s", url, outb)
	}
	stamp := regexp.MustCompile(`-\d{4}-\d{2}-\d{2}T.*$`)
	results := map[string]bool{}
	for _, f := range dirs {
		name := stamp.ReplaceAllString(strings.TrimPrefix(filepath.Base(filepath.Dir(f)), "server-"), "")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var checks []struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ok := len(checks) > 0
		for _, c := range checks {
			if c.Status == "FAILURE" {
				ok = false
			}
		}
		results[name] = ok
	}
	return results
}

// TestGatewayConformance runs the conformance server suite against the
// go-sdk conformance server directly and through the gateway's proxy
// endpoint, once reaching it over Streamable HTTP and once launching it
// over stdio: the gateway passes every scenario the server passes.
func TestGatewayConformance(t *testing.T) {
	suite := conformance.Need(t)
	server := buildConformanceServer(t)
	upstream := startConformanceHTTP(t, server)
	bundle := catalogBundle(t, fmt.Sprintf(`[catalog]
name = "conformance"
mode = "enforce"
[servers.conf]
status = "approved"
[servers.conf.launch]
url = %q
[servers.confstdio]
status = "approved"
[servers.confstdio.launch]
command = %q
`, upstream, server))
	base, _ := startGateway(t, bundle)

	direct := runConformanceServerSuite(t, suite, upstream)
	passed := 0
	for _, ok := range direct {
		if ok {
			passed++
		}
	}
	if passed == 0 {
		t.Fatalf("no scenario passed directly: %v", direct)
	}
	for _, ep := range []string{"/servers/conf/mcp", "/servers/confstdio/mcp"} {
		through := runConformanceServerSuite(t, suite, base+ep)
		var lost []string
		n := 0
		for name, ok := range direct {
			switch {
			case through[name]:
				n++
			case ok:
				lost = append(lost, name)
			}
		}
		sort.Strings(lost)
		if len(lost) > 0 {
			t.Errorf("%s: scenarios that pass directly fail through the gateway: %v", ep, lost)
		}
		t.Logf("%s: %d of %d scenarios pass directly, %d through the gateway", ep, passed, len(direct), n)
	}
}

// TestGatewayAggregate connects a go-sdk client to /mcp over Streamable
// HTTP with two real servers behind it (server-everything launched over
// stdio, the conformance server over HTTP): it sees both servers' tools,
// namespaced, calls one of each, and neither sees nor may call the tool
// the catalog denies. Bad input gets precise errors.
func TestGatewayAggregate(t *testing.T) {
	bundle := everythingConfBundle(t, "two", `[servers.unapproved]
status = "pending"
[servers.unapproved.launch]
command = "never-started"
`)
	auditDir := filepath.Join(t.TempDir(), "audit")
	base, stderr := startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir), bundle, "--max-body", "4096")

	ctx := await.Context(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "gateway-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr())
	}
	defer cs.Close()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	for _, want := range []string{"everything__echo", "conf__test_simple_text"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "everything__") && !strings.HasPrefix(name, "conf__") {
			t.Errorf("tool %s is not namespaced by its server", name)
		}
	}
	if slices.Contains(names, "everything__get-env") {
		t.Errorf("the denied tool is listed: %v", names)
	}
	for name, args := range map[string]map[string]any{
		"everything__echo":       {"message": "through the gateway"},
		"conf__test_simple_text": {},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil || res.IsError || len(res.Content) == 0 {
			t.Fatalf("call %s: %+v, %v", name, res, err)
		}
		b, _ := json.Marshal(res.Content)
		t.Logf("%s -> %s", name, b)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "everything__get-env", Arguments: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Errorf("the denied tool was callable or refused unclearly: %v", err)
	}

	// One record per call, before its reply: the two calls and the
	// refused one, each with the anonymous identity.
	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	records := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(records) != 3 {
		t.Fatalf("%d tool_call records, want 3:\n%s", len(records), out)
	}
	for _, r := range records {
		if !strings.Contains(r, `"identity":{"method":"anonymous"}`) {
			t.Errorf("record without the anonymous identity: %s", r)
		}
	}

	t.Run("bad input", func(t *testing.T) {
		init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
		status, _, hdr := rawPost(t, base+"/servers/conf/mcp", "", init)
		sid := hdr.Get("Mcp-Session-Id")
		if status != 200 || sid == "" {
			t.Fatalf("initialize: %d, session %q", status, sid)
		}
		for _, c := range []struct {
			name, path, session, body string
			status                    int
			want                      string
		}{
			{"malformed JSON-RPC", "/servers/conf/mcp", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"`, 400, `"code":-32700,"message":"Parse error`},
			{"missing session id", "/servers/conf/mcp", "", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, 400, `missing Mcp-Session-Id header`},
			{"session of another endpoint", "/servers/everything/mcp", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, 404, `session not found`},
			{"oversized body", "/servers/conf/mcp", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{"pad":"` + strings.Repeat("x", 5000) + `"}}}`, 413, `exceeds the gateway's limit of 4096 bytes`},
			{"server not approved", "/servers/unapproved/mcp", "", init, 403, `unapproved is pending, not approved`},
			{"server not in the catalog", "/servers/nope/mcp", "", init, 404, `not in the catalog`},
		} {
			t.Run(c.name, func(t *testing.T) {
				status, body, _ := rawPost(t, base+c.path, c.session, c.body)
				if status != c.status || !strings.Contains(body, c.want) {
					t.Fatalf("got %d %q, want %d containing %q", status, body, c.status, c.want)
				}
			})
		}
	})
}

// rawPost posts one JSON-RPC message, with the session id when given and
// the extra headers, accepting a JSON answer; it returns the status, the
// body and the headers. A transport error (a replica killed under the
// request) is status 0 with the error as the body.
func rawPost(t testing.TB, url, session, body string, extra ...http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range extra {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error(), http.Header{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
