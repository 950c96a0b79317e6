package main

import (
	"encoding/json"
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
// server at the gateway (`mcpgov shim --server ID --url
// URL/servers/ID/mcp`); Claude Code (`claude mcp list`) reports it
// Connected through the gateway, which opened a session for it; unwrap
// puts the entry back as it was.
func TestGatewayWrapClaude(t *testing.T) {
	for _, p := range []string{"claude", "mcp-server-everything"} {
		if ok, err := haveProgram(p); err != nil {
			t.Fatal(err)
		} else if !ok {
			t.Skipf("%s is not installed; make test installs it into .cache/npm", p)
		}
	}
	bundle := writeBundle(t)
	base, gwlog := startGateway(t, bundle)
	env := sandboxEnv(t, "MCPGOV_BUNDLE="+bundle, "MCP_TIMEOUT=600000", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
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
	if !regexp.MustCompile(`user-everything\s+wrapped\s+\S+\s+now runs mcpgov shim --url ` + regexp.QuoteMeta(endpoint)).MatchString(out) {
		t.Errorf("wrap output:\n%s", out)
	}
	if !strings.Contains(out, `mcpgov: warning: the login profile "default" has no gateway_url for `+base) {
		t.Errorf("wrap does not warn that the token would not be sent:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"args": ["shim", "--server", "everything", "--url", "` + endpoint + `"]`; !strings.Contains(string(b), want) {
		t.Fatalf(".claude.json lacks %s:\n%s", want, b)
	}

	out = run("claude", "mcp", "list")
	if !regexp.MustCompile(`user-everything: \S+/mcpgov shim --server everything --url ` + regexp.QuoteMeta(endpoint) + ` - . Connected`).MatchString(out) {
		t.Fatalf("claude mcp list:\n%s\ngateway:\n%s", out, gwlog())
	}
	await.Until(t, "the gateway serving Claude Code's session", func() bool {
		return strings.Contains(gwlog(), "session on /servers/everything/mcp ended")
	})

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
