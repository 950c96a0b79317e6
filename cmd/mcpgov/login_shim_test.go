//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// shim starts `mcpgov shim ARGS...` in the sandbox as an MCP client would
// and returns the session and the shim's stderr.
func (s *loginSandbox) shim(args ...string) (*mcp.ClientSession, *syncBuffer) {
	s.t.Helper()
	ctx := await.Context(s.t)
	cmd := s.command(ctx, "", append([]string{"shim"}, args...)...)
	cmd.Stdin = nil // the transport owns the pipes
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "login-e2e", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		s.t.Fatalf("connect to mcpgov shim %v: %v\n%s", args, err, stderr)
	}
	s.t.Cleanup(func() { cs.Close() })
	return cs, stderr
}

// syncBuffer is the log a test reads while a child process writes it.
type syncBuffer = logbuf.Buffer

func echo(t *testing.T, cs *mcp.ClientSession) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: catalogtest.ToolEcho, Arguments: map[string]any{"message": "hello"}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return strings.Join(text, "\n"), res.IsError
}

// TestLoginShimIdentity: once a login is configured the shim needs it. In
// enforce mode a call without one is answered with a result that says to
// run `mcpgov login`; in audit mode it goes through; after a login it
// goes through in enforce mode too.
func TestLoginShimIdentity(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	bundle := writeBundle(t)
	sb.config(dexProfile(d))

	cs, _ := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	text, isErr := echo(t, cs)
	t.Logf("refusal: %s", text)
	if !isErr || !strings.Contains(text, "not logged in") || !strings.Contains(text, "run `mcpgov login`") {
		t.Fatalf("enforce mode without a login: isError=%v %q", isErr, text)
	}
	cs, _ = sb.shim("--bundle", bundle, "--mode", "audit", "--", "fake-mcp-server")
	if text, isErr := echo(t, cs); isErr || text != "hello" {
		t.Fatalf("audit mode without a login: isError=%v %q", isErr, text)
	}

	deviceLogin(t, d, sb).wantExit(t, 0)
	st, _ := sb.status()
	cs, stderr := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	if text, isErr := echo(t, cs); isErr || text != "hello" {
		t.Fatalf("enforce mode after login: isError=%v %q", isErr, text)
	}
	// The verified identity reached the shim's enforcement config: it
	// names the user's subject and groups from the ID token.
	want := fmt.Sprintf("mcpgov: identity: alice@example.com (subject %s; groups eng,mcp-admins; issuer %s; via oidc)\n", st["subject"], d.Issuer)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("shim stderr lacks %q:\n%s", want, stderr)
	}

	// The IdP goes down and the token runs out: the shim cannot refresh
	// and says why.
	d.Stop()
	sb.expire("default")
	cs, _ = sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	text, isErr = echo(t, cs)
	if !isErr || !strings.Contains(text, "is unavailable") || !strings.Contains(text, "mcpgov login") {
		t.Fatalf("enforce mode with the IdP down: isError=%v %q", isErr, text)
	}
}

// TestLoginShimGatewayToken: the shim sends the user's access token to the
// configured gateway and to no other HTTP upstream.
func TestLoginShimGatewayToken(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	var mu sync.Mutex
	seen := map[string][]string{}
	upstream := func(name string) *httptest.Server {
		srv := catalogtest.NewServer(catalogtest.Options{})
		h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = append(seen[name], r.Header.Get("Authorization"))
			mu.Unlock()
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	gateway, other := upstream("gateway"), upstream("other")
	bundle := t.TempDir()
	writeFile(t, bundle+"/catalog.toml", `[catalog]
mode = "enforce"
[servers.gateway]
status = "approved"
[servers.gateway.launch]
url = "`+gateway.URL+`/mcp"
[servers.other]
status = "approved"
[servers.other.launch]
url = "`+other.URL+`/mcp"
`)
	sb.config(dexProfile(d) + `gateway_url = "` + gateway.URL + `/mcp"` + "\n")
	deviceLogin(t, d, sb).wantExit(t, 0)
	token := strings.TrimSpace(sb.must("", "auth", "token").Stdout)

	for _, u := range []string{gateway.URL + "/mcp", other.URL + "/mcp"} {
		cs, stderr := sb.shim("--bundle", bundle, "--url", u)
		if text, isErr := echo(t, cs); isErr || text != "hello" {
			t.Fatalf("%s: isError=%v %q\n%s", u, isErr, text, stderr)
		}
		cs.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen["gateway"]) == 0 || len(seen["other"]) == 0 {
		t.Fatalf("upstreams not reached: %v", seen)
	}
	for _, h := range seen["gateway"] {
		if h != "Bearer "+token {
			t.Errorf("gateway request had Authorization %q, want the user's token", h)
		}
	}
	for _, h := range seen["other"] {
		if h != "" {
			t.Errorf("a non-gateway upstream got Authorization %q", h)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
