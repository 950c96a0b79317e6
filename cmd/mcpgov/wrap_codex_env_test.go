package main

import (
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
// env_http_headers), and one whose headers are a table of their own
// ([mcp_servers.tab.http_headers], a secret bearer token and a plain
// X-Team). `wrap --remote --move-secrets` keeps the first's in the
// environment: the entry runs
// `mcpgov shim --url` with --secret-bearer env:NAME and --secret-header
// NAME=env:VAR, and names the variables in env_vars so Codex passes them
// on. Codex itself (`codex mcp list --json`) reads the wrapped entry; a
// recording Streamable HTTP server sees the same Authorization and
// X-Team through the shim, launched with only the environment Codex
// gives it plus env_vars, as from a client using the original entry. The
// table's token goes to the vault and its X-Team to --header, the table
// leaves the file, and the server sees the same headers through the
// shim. Unwrap restores the file byte for byte.
func TestWrapCodexEnvHeaders(t *testing.T) {
	needPrograms(t, "codex")
	const token, team = "lin-tok-7f3a9c2e5b1d4086", "blue"
	const tabBearer = "Bearer ghp_T4bleR2d2C3poLuke0123456789abcdef"
	rs := newRecordingServer(t)
	env, home := wrapSandbox(t)
	env = append(env, "CODEX_HOME="+filepath.Join(home, ".codex"))
	cfg := filepath.Join(home, ".codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "# codex\n[mcp_servers.lin]\nurl = \"" + rs.ts.URL + "/mcp\" # hosted\nbearer_token_env_var = \"LIN_TOKEN\"\nenv_http_headers = { \"X-Team\" = \"LIN_TEAM\" }\nstartup_timeout_sec = 20\n" +
		"\n[mcp_servers.tab]\nurl = \"" + rs.ts.URL + "/mcp\"\n\n[mcp_servers.tab.http_headers]\nAuthorization = \"" + tabBearer + "\"\nX-Team = \"blue\"\n"
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
	// Before: what Codex sends for the entries as written.
	rs.call(t, "before", &mcp.StreamableClientTransport{Endpoint: rs.ts.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {"Bearer " + token}, "X-Team": {team}}}}})
	rs.call(t, "tab-before", &mcp.StreamableClientTransport{Endpoint: rs.ts.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{http.Header{"Authorization": {tabBearer}, "X-Team": {"blue"}}}}})

	out := run(nil, "mcpgov", "wrap", "--client", "codex", "--remote", "--move-secrets", "--mcpgov-path", mcpgov)
	if !regexp.MustCompile(`lin\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; Codex passes LIN_TOKEN, LIN_TEAM on to it \(env_vars\)`).MatchString(out) ||
		!regexp.MustCompile(`tab\s+wrapped\s+\S+\s+remote entry now runs mcpgov shim --url; moved Authorization to the vault`).MatchString(out) {
		t.Errorf("wrap output:\n%s", out)
	}
	var listed []codexListed
	if err := json.Unmarshal([]byte(run(nil, "codex", "mcp", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"shim", "--name", "lin", "--secret-bearer", "env:LIN_TOKEN", "--secret-header", "X-Team=env:LIN_TEAM", "--secret-origin", rs.ts.URL, "--url", rs.ts.URL + "/mcp"}
	tabArgs := []string{"shim", "--name", "tab", "--secret-header", "Authorization=vault:config/codex/tab/header-Authorization", "--header", "X-Team: blue", "--secret-origin", rs.ts.URL, "--url", rs.ts.URL + "/mcp"}
	slices.SortFunc(listed, func(a, b codexListed) int { return strings.Compare(a.Name, b.Name) })
	if len(listed) != 2 || listed[0].Transport.Type != "stdio" || listed[0].Transport.Command != mcpgov || !slices.Equal(listed[0].Transport.Args, wantArgs) ||
		!slices.Equal(listed[0].Transport.EnvVars, []string{"LIN_TOKEN", "LIN_TEAM"}) ||
		listed[1].Transport.Type != "stdio" || !slices.Equal(listed[1].Transport.Args, tabArgs) || len(listed[1].Transport.EnvVars) != 0 {
		t.Fatalf("codex mcp list after wrap: %+v\nwant stdio %s %q, env_vars LIN_TOKEN LIN_TEAM; and %q", listed, mcpgov, wantArgs, tabArgs)
	}
	tabCmd := exec.Command(mcpgov, tabArgs...)
	tabCmd.Env, tabCmd.Stderr = env, os.Stderr
	rs.call(t, "tab-after", &mcp.CommandTransport{Command: tabCmd, TerminateDuration: 2 * time.Second})
	// After: the command Codex runs, with the variables env_vars names.
	tr := listed[0].Transport
	cmd := exec.Command(tr.Command, tr.Args...)
	cmd.Env, cmd.Stderr = env, os.Stderr
	for _, name := range tr.EnvVars {
		cmd.Env = append(cmd.Env, name+"="+map[string]string{"LIN_TOKEN": token, "LIN_TEAM": team}[name])
	}
	rs.call(t, "after", &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second})

	rs.sawAlike(t, "before", "after", "Bearer "+token, team)
	rs.sawAlike(t, "tab-before", "tab-after", tabBearer, "blue")
	if b, _ := os.ReadFile(cfg); strings.Contains(string(b), token) || strings.Contains(string(b), "T4bleR2d2") || strings.Contains(string(b), "http_headers") {
		t.Errorf("a token or the http_headers table is in the file:\n%s", b)
	}

	run(nil, "mcpgov", "unwrap", "--client", "codex")
	noSecretInState(t, home, "T4bleR2d2")
	if b, _ := os.ReadFile(cfg); string(b) != orig {
		t.Errorf("after unwrap:\n%s\nwant\n%s", b, orig)
	}
}

// codexListed is one server of `codex mcp list --json`.
type codexListed struct {
	Name      string `json:"name"`
	Transport struct {
		Type    string   `json:"type"`
		Command string   `json:"command"`
		Args    []string `json:"args"`
		EnvVars []string `json:"env_vars"`
	} `json:"transport"`
}
