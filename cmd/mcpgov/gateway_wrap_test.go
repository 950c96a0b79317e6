package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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

// TestGatewayWrapClaude: `mcpgov wrap --gateway URL` points Claude Code's
// server at the gateway: a Streamable HTTP entry for URL/servers/ID/mcp
// whose headersHelper is `mcpgov auth token --header-json`; Claude Code
// (`claude mcp list`) reports it Connected, the gateway having served its
// session; unwrap puts the entry back as it was, although Claude Code
// rewrote the file meanwhile.
func TestGatewayWrapClaude(t *testing.T) {
	for _, p := range []string{"claude", "mcp-server-everything"} {
		if ok, err := haveProgram(p); err != nil {
			t.Fatal(err)
		} else if !ok {
			t.Skipf("%s is not installed; make test installs it into .cache/npm", p)
		}
	}
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
