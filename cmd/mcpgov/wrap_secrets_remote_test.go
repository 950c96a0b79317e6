package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestWrapMoveSecretsRemote: wrap --remote --move-secrets on a Cursor
// config whose remote entries carry secrets in a header (Authorization:
// Bearer …), a query parameter (?api_key=…) and the URL's user:password.
// Each value leaves the file for the vault; the entry runs `mcpgov shim
// --url` with --secret-header / --secret-query / --secret-userinfo (and a
// plain header as --header); a Streamable HTTP server that records what
// every request carried sees the same headers, query and Basic
// credentials through the shim as from a client using the original
// entry. Nothing shows a secret; unwrap restores the file byte for byte.
func TestWrapMoveSecretsRemote(t *testing.T) {
	const (
		bearer = "Bearer ghp_R2d2C3poLukeSkywalker0123456789abcd"
		apiKey = "sk-ant-api03-R2d2C3poLukeSkywalker0123456789abcdefABCDEF"
		passwd = "R2d2C3poLuke-pa55word"
	)
	rs := newRecordingServer(t)
	ts, mu, got := rs.ts, &rs.mu, rs.got
	keyed := ts.URL + "/mcp?region=eu&api_key=" + apiKey
	basic := strings.Replace(ts.URL, "://", "://bob:"+passwd+"@", 1) + "/mcp"

	env, home := wrapSandbox(t)
	cfg := filepath.Join(home, ".cursor", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := `{
  "mcpServers": {
    "keyed": {
      "url": "` + keyed + `",
      "headers": {"Authorization": "` + bearer + `", "X-Team": "blue"}
    },
    "basic": { "url": "` + basic + `" }
  }
}
`
	writeFile(t, cfg, orig)

	// Before: a client using the entries as written.
	rs.call(t, "keyed-before", &mcp.StreamableClientTransport{Endpoint: keyed,
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {bearer}, "X-Team": {"blue"}}}}})
	rs.call(t, "basic-before", &mcp.StreamableClientTransport{Endpoint: basic})

	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string { t.Helper(); return runIn(t, env, home, "mcpgov", args...) }
	scanned := run("scan", "--json", "--client", "cursor")
	for _, field := range []string{"headers.Authorization", "url"} {
		if !regexp.MustCompile(regexp.QuoteMeta(field) + " holds a plain-text [^\"]*move it into mcpgov's vault with `mcpgov wrap --remote --move-secrets`").MatchString(scanned) {
			t.Errorf("scan does not suggest the move for %s:\n%s", field, scanned)
		}
	}
	out := run("wrap", "--client", "cursor", "--remote", "--move-secrets", "--dry-run")
	out += run("wrap", "--client", "cursor", "--remote", "--move-secrets", "--mcpgov-path", mcpgov)
	for _, want := range []string{
		`keyed\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; moved the URL's api_key to the vault; moved Authorization to the vault`,
		`basic\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; moved the URL's userinfo to the vault`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("wrap output lacks %s:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"R2d2C3poLuke"} {
		if strings.Contains(out, leak) || strings.Contains(string(b), leak) {
			t.Errorf("a secret shows in the output or the file:\n%s\n%s", out, b)
		}
		noSecretInState(t, home, leak)
	}
	if out := run("scan", "--json", "--client", "cursor"); strings.Contains(out, "plaintext-secret") || !strings.Contains(out, `"governed": true`) {
		t.Errorf("scan after the move still finds a secret, or no governed entry:\n%s", out)
	}
	var doc struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	origin := ts.URL // http://127.0.0.1:PORT, its port written
	want := map[string][]string{
		"keyed": {"shim", "--name", "keyed", "--secret-header", "Authorization=vault:config/cursor/keyed/header-Authorization", "--header", "X-Team: blue",
			"--secret-query", "api_key=vault:config/cursor/keyed/query-api_key", "--secret-origin", origin, "--url", ts.URL + "/mcp?region=eu&api_key="},
		"basic": {"shim", "--name", "basic", "--secret-userinfo", "vault:config/cursor/basic/userinfo", "--secret-origin", origin, "--url", ts.URL + "/mcp"},
	}
	// After: what Cursor launches now.
	for name, args := range want {
		e := doc.MCPServers[name]
		if e.Command != mcpgov || !slices.Equal(e.Args, args) {
			t.Errorf("%s: %s %q, want %s %q", name, e.Command, e.Args, mcpgov, args)
			continue
		}
		cmd := exec.Command(e.Command, e.Args...)
		cmd.Env, cmd.Stderr = env, os.Stderr
		rs.call(t, name+"-after", &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second})
	}
	// The entry's --url edited to another origin (the same server, named
	// localhost): the shim sends none of the moved secrets there, exits 1
	// and names both origins.
	for name, args := range want {
		moved := slices.Clone(args)
		moved[len(moved)-1] = strings.Replace(moved[len(moved)-1], "127.0.0.1", "localhost", 1)
		rs.setTag(name + "-moved")
		cmd := exec.CommandContext(await.Context(t), mcpgov, moved...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s with --url at localhost: %v, want exit 1\n%s", name, err, out)
		}
		wantErr := "--url's origin is " + strings.Replace(origin, "127.0.0.1", "localhost", 1) + ", its moved secrets (--secret-header, --secret-bearer, --secret-query, --secret-userinfo) were taken from " + origin
		if !strings.Contains(string(out), wantErr) || !strings.Contains(string(out), "mcpgov wrap --move-secrets") || strings.Contains(string(out), "R2d2C3poLuke") {
			t.Errorf("%s with --url at localhost said:\n%s\nwant %q and the remedy, no secret", name, out, wantErr)
		}
		mu.Lock()
		if n := len(got[name+"-moved"]); n != 0 {
			t.Errorf("%s with --url at localhost: the server got %d requests", name, n)
		}
		mu.Unlock()
	}
	mu.Lock()
	for _, name := range []string{"keyed", "basic"} {
		before, after := got[name+"-before"], got[name+"-after"]
		if len(before) == 0 || len(after) == 0 {
			t.Errorf("%s: the server saw %d requests before, %d after", name, len(before), len(after))
			continue
		}
		// Every request carried the same credentials.
		for _, s := range append(before[1:], after...) {
			if s != before[0] {
				t.Errorf("%s: a request carried %+v, the first one before wrap %+v", name, s, before[0])
			}
		}
	}
	if k := got["keyed-before"]; len(k) > 0 && (k[0].Authorization != bearer || k[0].Team != "blue" || k[0].Query != "region=eu&api_key="+apiKey) {
		t.Errorf("keyed before: %+v", k[0])
	}
	if b := got["basic-before"]; len(b) > 0 && b[0].Authorization != "Basic "+basicAuth("bob", passwd) {
		t.Errorf("basic before: %+v", b[0])
	}
	mu.Unlock()

	out = run("unwrap", "--client", "cursor")
	if n := len(regexp.MustCompile(`(keyed|basic)\s+unwrapped`).FindAllString(out, -1)); n != 2 {
		t.Errorf("unwrap output:\n%s", out)
	}
	if b, _ := os.ReadFile(cfg); string(b) != orig {
		t.Errorf("after unwrap:\n%s\nwant\n%s", b, orig)
	}
}

// seen is what one request to a recordingServer carried.
type seen struct{ Authorization, Team, Query string }

// recordingServer is a Streamable HTTP MCP server that records, under the
// current tag, the credentials every request to /mcp carried.
type recordingServer struct {
	ts  *httptest.Server
	mu  sync.Mutex
	got map[string][]seen
	tag string
}

func newRecordingServer(t *testing.T) *recordingServer {
	rs := &recordingServer{got: map[string][]seen{}}
	srv := catalogtest.NewServer(catalogtest.Options{})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	rs.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mcp" {
			rs.mu.Lock()
			rs.got[rs.tag] = append(rs.got[rs.tag], seen{r.Header.Get("Authorization"), r.Header.Get("X-Team"), r.URL.RawQuery})
			rs.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rs.ts.Close)
	return rs
}

// wrapSandbox is a sandbox environment for `wrap --move-secrets`, extra
// added: a bundle in audit mode and a vault key. It returns the
// environment and its HOME.
func wrapSandbox(t *testing.T, extra ...string) (env []string, home string) {
	t.Helper()
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), "[catalog]\nmode = \"audit\"\n")
	env = sandboxEnv(t, append([]string{"MCPGOV_BUNDLE=" + bundle, "MCPGOV_VAULT_KEY=env:VAULT_KEY", "VAULT_KEY=q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="}, extra...)...)
	return env, envValue(env, "HOME")
}

// runIn runs name with args in env, from dir, and returns its output
// (stdout and stderr); a failure ends the test.
func runIn(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(await.Context(t), name, args...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// noSecretInState fails t when leak is in a file of mcpgov's state
// directory under home.
func noSecretInState(t *testing.T, home, leak string) {
	t.Helper()
	if o, _ := exec.Command("grep", "-r", leak, filepath.Join(home, ".local", "state", "mcpgov")).Output(); len(o) > 0 {
		t.Errorf("a secret is in the state directory:\n%s", o)
	}
}

// setTag records the requests from now on under tag.
func (rs *recordingServer) setTag(tag string) {
	rs.mu.Lock()
	rs.tag = tag
	rs.mu.Unlock()
}

// call connects a client through tr, its requests recorded under tag, and
// calls echo once.
func (rs *recordingServer) call(t *testing.T, tag string, tr mcp.Transport) {
	t.Helper()
	rs.setTag(tag)
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("%s: connect: %v", tag, err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); err != nil {
		t.Errorf("%s: echo: %v", tag, err)
	}
}

// sawAlike checks what the server recorded under the tags before and
// after: requests under both, the first before carrying authorization and
// team, and every request after carrying what that one did.
func (rs *recordingServer) sawAlike(t *testing.T, before, after, authorization, team string) {
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	b, a := rs.got[before], rs.got[after]
	if len(b) == 0 || len(a) == 0 || b[0].Authorization != authorization || b[0].Team != team {
		t.Errorf("the server saw %d requests %s (%+v), %d %s", len(b), before, b, len(a), after)
	}
	for _, s := range a {
		if len(b) > 0 && s != b[0] {
			t.Errorf("%s: a request through the shim carried %+v, %s %+v", after, s, before, b[0])
		}
	}
}

// TestWrapMoveSecretsRemoteClaude: Claude Code itself before and after
// `wrap --remote --move-secrets`: its Streamable HTTP entry with a bearer
// header and an api_key query parameter connects (claude mcp list), then
// runs `mcpgov shim --url` with the secrets in the vault and connects
// again, and the server saw the same credentials on every request. Claude
// Code rewrites ~/.claude.json meanwhile; unwrap still puts the entry back
// with its secrets.
func TestWrapMoveSecretsRemoteClaude(t *testing.T) {
	needPrograms(t, "claude")
	const (
		bearer = "Bearer ghp_R2d2C3poLukeSkywalker0123456789abcd"
		apiKey = "sk-ant-api03-R2d2C3poLukeSkywalker0123456789abcdefABCDEF"
	)
	rs := newRecordingServer(t)
	keyed := rs.ts.URL + "/mcp?region=eu&api_key=" + apiKey
	env, home := wrapSandbox(t, "MCP_TIMEOUT=600000", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
	entry := `{"type": "http", "url": "` + keyed + `", "headers": {"Authorization": "` + bearer + `", "X-Team": "blue"}}`
	writeFile(t, filepath.Join(home, ".claude.json"), "{\n  \"hasCompletedOnboarding\": true,\n  \"mcpServers\": {\n    \"keyed\": "+entry+"\n  }\n}\n")
	run := func(tag, name string, args ...string) string {
		t.Helper()
		rs.setTag(tag)
		return runIn(t, env, home, name, args...)
	}
	if out := run("before", "claude", "mcp", "list"); !regexp.MustCompile(`keyed: .* \(HTTP\) - . Connected`).MatchString(out) {
		t.Fatalf("claude mcp list before wrap:\n%s", out)
	}
	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	out := run("", "mcpgov", "wrap", "--client", "claude-code", "--remote", "--move-secrets", "--mcpgov-path", mcpgov)
	if !strings.Contains(out, "moved the URL's api_key to the vault; moved Authorization to the vault") {
		t.Errorf("wrap:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".claude.json")); strings.Contains(string(b), "R2d2C3poLuke") || strings.Contains(out, "R2d2C3poLuke") {
		t.Errorf("a secret is still in ~/.claude.json or the output:\n%s\n%s", b, out)
	}
	if out := run("after", "claude", "mcp", "list"); !regexp.MustCompile(`keyed: ` + regexp.QuoteMeta(mcpgov) + ` shim .* - . Connected`).MatchString(out) {
		t.Fatalf("claude mcp list after wrap:\n%s", out)
	}
	rs.mu.Lock()
	before, after := rs.got["before"], rs.got["after"]
	rs.mu.Unlock()
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("the server saw %d requests from Claude Code before, %d after", len(before), len(after))
	}
	if want := (seen{bearer, "blue", "region=eu&api_key=" + apiKey}); before[0] != want {
		t.Errorf("before: %+v, want %+v", before[0], want)
	}
	for _, s := range append(before[1:], after...) {
		if s != before[0] {
			t.Errorf("a request carried %+v, the first one before wrap %+v", s, before[0])
		}
	}
	out = run("", "mcpgov", "unwrap", "--client", "claude-code")
	if !regexp.MustCompile(`keyed\s+unwrapped`).MatchString(out) {
		t.Errorf("unwrap:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var gotEntry, wantEntry any
	_ = json.Unmarshal(doc.MCPServers["keyed"], &gotEntry)
	_ = json.Unmarshal([]byte(entry), &wantEntry)
	if gb, wb := mustJSON(t, gotEntry), mustJSON(t, wantEntry); gb != wb {
		t.Errorf("entry after unwrap: %s, want %s", gb, wb)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
