package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"gopkg.in/yaml.v3"
)

// TestWrapContinueRequestOptions: a Continue config.yaml Streamable HTTP
// entry with requestOptions.headers (a secret bearer token, a plain
// X-Team). scan suggests the move; `wrap --remote --move-secrets` takes
// requestOptions out: the
// entry runs `mcpgov shim --url` with the token from the vault
// (--secret-header) and X-Team as --header; a recording Streamable HTTP
// server sees the same Authorization and X-Team through the shim as from
// a client sending the entry's headers; no secret is in the file or the
// state directory; unwrap restores the file byte for byte.
func TestWrapContinueRequestOptions(t *testing.T) {
	const bearer = "Bearer ghp_C0ntinueR2d2C3poLuke0123456789abcd"
	rs := newRecordingServer(t)
	env, home := wrapSandbox(t)
	cfg := filepath.Join(home, ".continue", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "name: dev\nversion: 1.0.0\nschema: v1\nmcpServers:\n  - name: notes\n    type: streamable-http\n    url: " + rs.ts.URL + "/mcp\n    requestOptions:\n      headers:\n        Authorization: \"" + bearer + "\"\n        X-Team: blue   # our team\n"
	writeFile(t, cfg, orig)
	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string { t.Helper(); return runIn(t, env, home, "mcpgov", args...) }
	rs.call(t, "before", &mcp.StreamableClientTransport{Endpoint: rs.ts.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {bearer}, "X-Team": {"blue"}}}}})

	if scanned := run("scan", "--json", "--client", "continue"); !regexp.MustCompile(`headers.Authorization holds a plain-text [^"]*move it into mcpgov's vault with ` + "`mcpgov wrap --remote --move-secrets`").MatchString(scanned) {
		t.Errorf("scan does not suggest the move for requestOptions.headers.Authorization:\n%s", scanned)
	}
	out := run("wrap", "--client", "continue", "--remote", "--move-secrets", "--mcpgov-path", mcpgov)
	if !regexp.MustCompile(`notes\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; moved Authorization to the vault`).MatchString(out) {
		t.Errorf("wrap output:\n%s", out)
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "R2d2C3poLuke") || strings.Contains(out, "R2d2C3poLuke") || strings.Contains(string(b), "requestOptions") {
		t.Errorf("after wrap, a secret or requestOptions is left:\n%s\n%s", out, b)
	}
	noSecretInState(t, home, "R2d2C3poLuke")
	var doc struct {
		MCPServers []struct {
			Name    string   `yaml:"name"`
			Type    string   `yaml:"type"`
			Command string   `yaml:"command"`
			Args    []string `yaml:"args"`
		} `yaml:"mcpServers"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.MCPServers) != 1 || doc.MCPServers[0].Type != "stdio" || doc.MCPServers[0].Command != mcpgov {
		t.Fatalf("the wrapped entry: %v\n%s", err, b)
	}
	e := doc.MCPServers[0]
	cmd := exec.Command(e.Command, e.Args...)
	cmd.Env, cmd.Stderr = env, os.Stderr
	rs.call(t, "after", &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second})

	rs.sawAlike(t, "before", "after", bearer, "blue")

	run("unwrap", "--client", "continue")
	if b, _ := os.ReadFile(cfg); string(b) != orig {
		t.Errorf("after unwrap:\n%s\nwant\n%s", b, orig)
	}
}
