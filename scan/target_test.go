package scan

import (
	"strings"
	"testing"
)

// TestInstallTarget: the file each client reads a scope's servers from,
// per OS and with the clients' own overrides.
func TestInstallTarget(t *testing.T) {
	env := map[string]string{"CODEX_HOME": "/ch"}
	linux := Env{OS: "linux", Home: "/home/ann", Getenv: func(k string) string { return env[k] }}
	mac := Env{OS: "darwin", Home: "/Users/ann"}
	win := Env{OS: "windows", Home: `C:\Users\ann`, Getenv: func(k string) string { return map[string]string{"APPDATA": `C:\Users\ann\AppData\Roaming`}[k] }}
	cases := []struct {
		env    Env
		client string
		scope  Scope
		path   string
		layout Layout
	}{
		{linux, ClientClaudeCode, ScopeUser, "/home/ann/.claude.json", LayoutMCPServers},
		{linux, ClientClaudeCode, ScopeProject, "/src/app/.mcp.json", LayoutMCPServers},
		{linux, ClientClaudeCode, ScopeLocal, "/home/ann/.claude.json", LayoutClaudeLocal},
		{linux, ClientCursor, ScopeProject, "/src/app/.cursor/mcp.json", LayoutMCPServers},
		{linux, ClientVSCode, ScopeUser, "/home/ann/.config/Code/User/mcp.json", LayoutVSCode},
		{mac, ClientVSCode, ScopeUser, "/Users/ann/Library/Application Support/Code/User/mcp.json", LayoutVSCode},
		{win, ClientClaudeDesktop, ScopeUser, `C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json`, LayoutMCPServers},
		{linux, ClientWindsurf, ScopeUser, "/home/ann/.codeium/windsurf/mcp_config.json", LayoutMCPServers},
		{linux, ClientGeminiCLI, ScopeProject, "/src/app/.gemini/settings.json", LayoutMCPServers},
		{linux, ClientCodex, ScopeUser, "/ch/config.toml", LayoutCodex},
		{linux, ClientContinue, ScopeUser, "/home/ann/.continue/config.yaml", LayoutContinue},
		{linux, ClientContinue, ScopeProject, "/src/app/.continue/mcpServers/my-srv.yaml", LayoutContinueBlock},
		{linux, ClientOpencode, ScopeUser, "/home/ann/.config/opencode/opencode.json", LayoutOpencode},
		{linux, ClientZed, ScopeUser, "/home/ann/.config/zed/settings.json", LayoutZed},
		{linux, ClientCopilotCLI, ScopeUser, "/home/ann/.copilot/mcp-config.json", LayoutMCPServers},
	}
	for _, c := range cases {
		got, err := InstallTarget(c.env, c.client, c.scope, "/src/app", "my/srv")
		if err != nil || got.Path != c.path || got.Layout != c.layout {
			t.Errorf("%s %s %s: %+v %v, want %s (%s)", c.env.OS, c.client, c.scope, got, err, c.path, c.layout)
		}
	}
	if _, err := InstallTarget(linux, ClientWindsurf, ScopeProject, "/src/app", "x"); err == nil || !strings.Contains(err.Error(), "windsurf has no project scope") {
		t.Errorf("windsurf project: %v", err)
	}
	if _, err := InstallTarget(linux, ClientCursor, ScopeManaged, "/src/app", "x"); err == nil {
		t.Error("managed scope accepted")
	}
}
