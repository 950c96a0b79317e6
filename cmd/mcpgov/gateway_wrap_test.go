package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// envValue is the last value of key in env.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// needPrograms skips the test when one of progs is not installed (and
// fails it when MCPGOV_E2E says they must be).
func needPrograms(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if ok, err := haveProgram(p); err != nil {
			t.Fatal(err)
		} else if !ok {
			t.Skipf("%s is not installed; make test installs it into .cache/npm", p)
		}
	}
}

// TestGatewayWrapClaude: `mcpgov wrap --gateway URL` points Claude Code's
// server at the gateway: a Streamable HTTP entry for URL/servers/ID/mcp
// whose headersHelper is `mcpgov auth token --header-json`; Claude Code
// (`claude mcp list`) reports it Connected, the gateway having served its
// session; unwrap puts the entry back as it was, although Claude Code
// rewrote the file meanwhile.
func TestGatewayWrapClaude(t *testing.T) {
	needPrograms(t, "claude", "mcp-server-everything")
	bundle := writeBundle(t)
	// A personal token the gateway issued: the one headersHelper sends
	// (a token the gateway does not know is refused, --allow-anonymous or
	// not).
	gwEnv := sandboxEnv(t)
	mint := exec.Command("mcpgov", "gateway", "token", "create", "--user", "dev@example.com", "--groups", "eng", "--expires", "1d", "--json")
	mint.Env = gwEnv
	minted, err := mint.Output()
	if err != nil {
		t.Fatalf("gateway token create: %v", err)
	}
	var issued struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(minted, &issued); err != nil || issued.Token == "" {
		t.Fatalf("gateway token create: %v\n%s", err, minted)
	}
	base, gwlog := startGatewayEnv(t, gwEnv, bundle)
	env := sandboxEnv(t, "MCPGOV_BUNDLE="+bundle, "MCP_TIMEOUT=600000", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "MCPGOV_TOKEN="+issued.Token)
	home := envValue(env, "HOME")
	const entry = `{"type": "stdio", "command": "mcp-server-everything", "args": ["stdio"]}`
	writeFile(t, filepath.Join(home, ".claude.json"), `{
  "hasCompletedOnboarding": true,
  "mcpServers": {
    "user-everything": `+entry+`
  }
}
`)
	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(await.Context(t), name, args...)
		cmd.Env, cmd.Dir = env, home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	out := run("mcpgov", "wrap", "--client", "claude-code", "--gateway", base, "--mcpgov-path", mcpgov)
	endpoint := base + "/servers/everything/mcp"
	if !regexp.MustCompile(`user-everything\s+wrapped\s+\S+\s+now a Streamable HTTP entry for ` + regexp.QuoteMeta(endpoint) + ` with the login's token from its headersHelper`).MatchString(out) {
		t.Errorf("wrap output:\n%s", out)
	}
	if !strings.Contains(out, `mcpgov: warning: the login profile "default" has no gateway_url for `+base) {
		t.Errorf("wrap does not warn that the token would not be sent:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type": "http", "url": "` + endpoint + `", "headersHelper": "` + mcpgov + ` auth token --header-json"}`; !strings.Contains(string(b), want) {
		t.Fatalf(".claude.json lacks %s:\n%s", want, b)
	}

	out = run("claude", "mcp", "list")
	if !regexp.MustCompile(`user-everything: ` + regexp.QuoteMeta(endpoint) + ` \(HTTP\) - . Connected`).MatchString(out) {
		t.Fatalf("claude mcp list:\n%s\ngateway:\n%s", out, gwlog())
	}
	// The gateway served it: Claude Code's initialize opened a session
	// on the endpoint (Claude Code does not end it with DELETE).
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`mcpgov_gateway_sessions [1-9]`).Match(metrics) ||
		!regexp.MustCompile(`mcpgov_gateway_http_requests_total\{code="200",endpoint="server",method="POST"\} [1-9]`).Match(metrics) {
		t.Errorf("the gateway served no session for Claude Code:\n%s", metrics)
	}

	out = run("mcpgov", "unwrap", "--client", "claude-code")
	if !regexp.MustCompile(`user-everything\s+unwrapped`).MatchString(out) {
		t.Errorf("unwrap output:\n%s", out)
	}
	b, err = os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(doc.MCPServers["user-everything"], &got)
	_ = json.Unmarshal([]byte(entry), &want)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("entry after unwrap: %s, want %s", gb, wb)
	}
}

// TestGatewayWrapCodexContinue: `mcpgov wrap --gateway URL` points
// Codex's config.toml and Continue's config.yaml at the gateway. Neither
// client can fetch a token for a Streamable HTTP entry (Codex reads one
// from its own environment, Continue from its file), so each entry runs
// `mcpgov shim --server ID --url URL/servers/ID/mcp`, written in place
// with the files' comments kept. Codex (`codex mcp list --json`) reads the
// entry; the command line each file now holds reaches server-everything
// through the gateway (a tools/call the gateway serves); unwrap puts both
// files back byte for byte.
func TestGatewayWrapCodexContinue(t *testing.T) {
	needPrograms(t, "codex", "mcp-server-everything")
	bundle := writeBundle(t)
	base, gwlog := startGatewayEnv(t, sandboxEnv(t), bundle)
	env := sandboxEnv(t, "MCPGOV_BUNDLE="+bundle)
	home := envValue(env, "HOME")
	env = append(env, "CODEX_HOME="+filepath.Join(home, ".codex"))
	const codexTOML = `# my codex settings
model = "o3"

[mcp_servers.everything]
command = "mcp-server-everything" # the npm build
args = ["stdio"]
startup_timeout_sec = 30
`
	const continueYAML = `name: dev
version: 1.0.0
schema: v1
mcpServers:
  - name: everything
    command: mcp-server-everything   # the npm build
    args:
      - stdio
`
	codexFile, continueFile := filepath.Join(home, ".codex", "config.toml"), filepath.Join(home, ".continue", "config.yaml")
	for f, text := range map[string]string{codexFile: codexTOML, continueFile: continueYAML} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, f, text)
	}
	mcpgov, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(await.Context(t), name, args...)
		cmd.Env, cmd.Dir = env, home
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr.String())
		}
		return string(out)
	}
	endpoint := base + "/servers/everything/mcp"
	out := run("mcpgov", "wrap", "--client", "codex,continue", "--gateway", base, "--mcpgov-path", mcpgov)
	if n := len(regexp.MustCompile(`everything\s+wrapped\s+\S+\s+now runs mcpgov shim --url `+regexp.QuoteMeta(endpoint)).FindAllString(out, -1)); n != 2 {
		t.Errorf("wrap output (%d entries pointed at the gateway, want 2):\n%s", n, out)
	}
	wantArgs := []string{"shim", "--server", "everything", "--url", endpoint}
	b, err := os.ReadFile(codexFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "command = \"" + mcpgov + "\" # the npm build\nargs = [\"shim\", \"--server\", \"everything\", \"--url\", \"" + endpoint + "\"]\nstartup_timeout_sec = 30\n"; !strings.Contains(string(b), want) {
		t.Errorf("config.toml lacks %q:\n%s", want, b)
	}
	var listed []struct {
		Name      string `json:"name"`
		Transport struct {
			Type    string   `json:"type"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"transport"`
	}
	if err := json.Unmarshal([]byte(run("codex", "mcp", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Transport.Type != "stdio" || listed[0].Transport.Command != mcpgov || strings.Join(listed[0].Transport.Args, " ") != strings.Join(wantArgs, " ") {
		t.Errorf("codex mcp list: %+v, want %s %v", listed, mcpgov, wantArgs)
	}
	b, err = os.ReadFile(continueFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "    command: \"" + mcpgov + "\"   # the npm build\n    args:\n      [\"shim\", \"--server\", \"everything\", \"--url\", \"" + endpoint + "\"]\n"; !strings.Contains(string(b), want) {
		t.Errorf("config.yaml lacks %q:\n%s", want, b)
	}

	// What each client now launches: the shim, relaying to the gateway,
	// which runs the catalog's server-everything.
	for _, client := range []string{"codex", "continue"} {
		cmd := exec.Command(mcpgov, wantArgs...)
		cmd.Env = env
		cmd.Stderr = os.Stderr
		ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
		cs, err := mcp.NewClient(&mcp.Implementation{Name: client, Version: "1"}, nil).Connect(ctx,
			&mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
		if err != nil {
			cancel()
			t.Fatalf("%s: connect through the gateway: %v\ngateway:\n%s", client, err, gwlog())
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "via " + client}})
		if err != nil || res.IsError || len(res.Content) != 1 {
			t.Errorf("%s: echo through the gateway: %v %+v", client, err, res)
		} else if tc, ok := res.Content[0].(*mcp.TextContent); !ok || !strings.Contains(tc.Text, "via "+client) {
			t.Errorf("%s: echo answered %+v", client, res.Content[0])
		}
		cs.Close()
		cancel()
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`mcpgov_gateway_http_requests_total\{code="200",endpoint="server",method="POST"\} [1-9]`).Match(metrics) {
		t.Errorf("the gateway served no call:\n%s", metrics)
	}

	out = run("mcpgov", "unwrap", "--client", "codex,continue")
	if n := len(regexp.MustCompile(`everything\s+unwrapped`).FindAllString(out, -1)); n != 2 {
		t.Errorf("unwrap output:\n%s", out)
	}
	for f, want := range map[string]string{codexFile: codexTOML, continueFile: continueYAML} {
		if b, err := os.ReadFile(f); err != nil || string(b) != want {
			t.Errorf("%s after unwrap (%v):\n%s", f, err, b)
		}
	}
}
