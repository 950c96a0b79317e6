package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestWrapCodexEnvHeaders: a Codex Streamable HTTP entry whose token and
// header come from Codex's environment (bearer_token_env_var,
// env_http_headers). `wrap --remote` keeps them there: the entry runs
// `mcpgov shim --url` with --secret-bearer env:NAME and --secret-header
// NAME=env:VAR, and names the variables in env_vars so Codex passes them
// on. Codex itself (`codex mcp list --json`) reads the wrapped entry; a
// recording Streamable HTTP server sees the same Authorization and
// X-Team through the shim, launched with only the environment Codex
// gives it plus env_vars, as from a client using the original entry;
// unwrap restores the file byte for byte.
func TestWrapCodexEnvHeaders(t *testing.T) {
	needPrograms(t, "codex")
	const token, team = "lin-tok-7f3a9c2e5b1d4086", "blue"
	rs := newRecordingServer(t)
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), "[catalog]\nmode = \"audit\"\n")
	env := sandboxEnv(t, "MCPGOV_BUNDLE="+bundle)
	home := envValue(env, "HOME")
	env = append(env, "CODEX_HOME="+filepath.Join(home, ".codex"))
	cfg := filepath.Join(home, ".codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "# codex\n[mcp_servers.lin]\nurl = \"" + rs.ts.URL + "/mcp\" # hosted\nbearer_token_env_var = \"LIN_TOKEN\"\nenv_http_headers = { \"X-Team\" = \"LIN_TEAM\" }\nstartup_timeout_sec = 20\n"
	writeFile(t, cfg, orig)
	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(extra []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(await.Context(t), name, args...)
		cmd.Env, cmd.Dir = append(append([]string{}, env...), extra...), home
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	call := func(tag string, tr mcp.Transport) {
		t.Helper()
		rs.mu.Lock()
		rs.tag = tag
		rs.mu.Unlock()
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
	// Before: what Codex sends for the entry as written.
	call("before", &mcp.StreamableClientTransport{Endpoint: rs.ts.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {"Bearer " + token}, "X-Team": {team}}}}})

	out := run(nil, "mcpgov", "wrap", "--client", "codex", "--remote", "--mcpgov-path", mcpgov)
	if !regexp.MustCompile(`lin\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; Codex passes LIN_TOKEN, LIN_TEAM on to it \(env_vars\)`).MatchString(out) {
		t.Errorf("wrap output:\n%s", out)
	}
	var listed []struct {
		Name      string `json:"name"`
		Transport struct {
			Type    string   `json:"type"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
			EnvVars []string `json:"env_vars"`
		} `json:"transport"`
	}
	if err := json.Unmarshal([]byte(run(nil, "codex", "mcp", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"shim", "--name", "lin", "--secret-bearer", "env:LIN_TOKEN", "--secret-header", "X-Team=env:LIN_TEAM", "--secret-origin", rs.ts.URL, "--url", rs.ts.URL + "/mcp"}
	if len(listed) != 1 || listed[0].Transport.Type != "stdio" || listed[0].Transport.Command != mcpgov || !slices.Equal(listed[0].Transport.Args, wantArgs) ||
		!slices.Equal(listed[0].Transport.EnvVars, []string{"LIN_TOKEN", "LIN_TEAM"}) {
		t.Fatalf("codex mcp list after wrap: %+v\nwant stdio %s %q, env_vars LIN_TOKEN LIN_TEAM", listed, mcpgov, wantArgs)
	}
	// After: the command Codex runs, with the variables env_vars names.
	tr := listed[0].Transport
	cmd := exec.Command(tr.Command, tr.Args...)
	cmd.Env, cmd.Stderr = env, os.Stderr
	for _, name := range tr.EnvVars {
		cmd.Env = append(cmd.Env, name+"="+map[string]string{"LIN_TOKEN": token, "LIN_TEAM": team}[name])
	}
	call("after", &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second})

	rs.mu.Lock()
	before, after := rs.got["before"], rs.got["after"]
	if len(before) == 0 || len(after) == 0 || before[0].Authorization != "Bearer "+token || before[0].Team != team {
		t.Errorf("the server saw %d requests before (%+v), %d after", len(before), before, len(after))
	}
	for _, s := range after {
		if len(before) > 0 && s != before[0] {
			t.Errorf("a request through the shim carried %+v, before wrap %+v", s, before[0])
		}
	}
	rs.mu.Unlock()
	if b, _ := os.ReadFile(cfg); strings.Contains(string(b), token) {
		t.Errorf("the token is in the file:\n%s", b)
	}

	run(nil, "mcpgov", "unwrap", "--client", "codex")
	if b, _ := os.ReadFile(cfg); string(b) != orig {
		t.Errorf("after unwrap:\n%s\nwant\n%s", b, orig)
	}
}
