package main

import (
	"context"
	"encoding/json"
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
	type seen struct{ Authorization, Team, Query string }
	var (
		mu  sync.Mutex
		got = map[string][]seen{}
		tag string
	)
	srv := catalogtest.NewServer(catalogtest.Options{})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[tag] = append(got[tag], seen{r.Header.Get("Authorization"), r.Header.Get("X-Team"), r.URL.RawQuery})
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	keyed := ts.URL + "/mcp?region=eu&api_key=" + apiKey
	basic := strings.Replace(ts.URL, "://", "://bob:"+passwd+"@", 1) + "/mcp"

	env := sandboxEnv(t, "MCPGOV_VAULT_KEY=env:VAULT_KEY", "VAULT_KEY=q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
	home := envValue(env, "HOME")
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), "[catalog]\nmode = \"audit\"\n")
	env = append(env, "MCPGOV_BUNDLE="+bundle)
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

	call := func(name string, tr mcp.Transport) {
		t.Helper()
		mu.Lock()
		tag = name
		mu.Unlock()
		ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, tr, nil)
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); err != nil {
			t.Errorf("%s: echo: %v", name, err)
		}
		cs.Close()
	}
	// Before: a client using the entries as written.
	call("keyed-before", &mcp.StreamableClientTransport{Endpoint: keyed,
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {bearer}, "X-Team": {"blue"}}}}})
	call("basic-before", &mcp.StreamableClientTransport{Endpoint: basic})

	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(await.Context(t), "mcpgov", args...)
		cmd.Env, cmd.Dir = env, home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mcpgov %v: %v\n%s", args, err, out)
		}
		return string(out)
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
		if o, _ := exec.Command("grep", "-r", leak, filepath.Join(home, ".local", "state", "mcpgov")).Output(); len(o) > 0 {
			t.Errorf("a secret is in the state directory:\n%s", o)
		}
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
	want := map[string][]string{
		"keyed": {"shim", "--name", "keyed", "--secret-header", "Authorization=vault:config/cursor/keyed/header-Authorization", "--header", "X-Team: blue",
			"--secret-query", "api_key=vault:config/cursor/keyed/query-api_key", "--url", ts.URL + "/mcp?region=eu&api_key="},
		"basic": {"shim", "--name", "basic", "--secret-userinfo", "vault:config/cursor/basic/userinfo", "--url", ts.URL + "/mcp"},
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
		call(name+"-after", &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second})
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

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
