package scan

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Claude Desktop on macOS: the plugins an agent session installed are the
// ones its rpm/manifest.json lists, each a directory named by its id beside
// the manifest; a plugin directory no manifest lists is never read, nor is
// an id that tries to leave the rpm directory.
// Verified against: snyk/agent-scan agents/claude_desktop.py.
func TestClaudeDesktopPluginsListedOnly(t *testing.T) {
	home := t.TempDir()
	rpm := filepath.Join(home, "Library", "Application Support", "Claude", "local-agent-mode-sessions", "org-1", "acct-2", "rpm")
	files := map[string]string{
		filepath.Join(rpm, "manifest.json"):                                  `{"plugins": [{"id": "plugin_listed"}, {"id": "../escape"}, {"id": ".."}, {"name": "no-id"}]}`,
		filepath.Join(rpm, "plugin_listed", ".mcp.json"):                     `{"mcpServers": {"listed-server": {"command": "node", "args": ["l.js"]}}}`,
		filepath.Join(rpm, "plugin_listed", ".claude-plugin", "plugin.json"): `{"name": "listed", "mcpServers": {"inline-server": {"type": "http", "url": "https://mcp.example.com/mcp"}}}`,
		filepath.Join(rpm, "plugin_unlisted", ".mcp.json"):                   `{"mcpServers": {"unlisted-server": {"command": "node"}}}`,
		filepath.Join(rpm, "..", "escape", ".mcp.json"):                      `{"mcpServers": {"escaped-server": {"command": "node"}}}`,
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Scan(context.Background(), Options{Env: Env{OS: "darwin", Home: home}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Servers {
		got = append(got, s.Client+" "+string(s.Scope)+" "+s.Name+" "+string(s.Transport))
	}
	sort.Strings(got)
	want := []string{
		"claude-desktop user inline-server http",
		"claude-desktop user listed-server stdio",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range rep.Errors {
		t.Errorf("error %s: %s", e.File, e.Message)
	}
}

// Claude Desktop's connectors, as its sessions log them: one server per
// organisation and uuid, with the URL of the newest session (by
// lastActivityAt); an entry without a uuid or URL is not a connector.
// Verified against: snyk/agent-scan agents/claude_desktop.py
// (discover_logged_mcp_servers).
func TestClaudeDesktopConnectorsNewestPerOrg(t *testing.T) {
	home := t.TempDir()
	base := filepath.Join(home, "Library", "Application Support", "Claude")
	files := map[string]string{
		filepath.Join(base, "claude-code-sessions", "u1", "org-a", "local_1.json"): `{"lastActivityAt": 100, "createdAt": 1,
			"remoteMcpServersConfig": [{"uuid": "c-1", "url": "https://old.example.com/mcp", "name": "Linear"}, {"uuid": "c-2"}, {"url": "https://nouuid.example.com"}]}`,
		filepath.Join(base, "local-agent-mode-sessions", "u1", "org-a", "local_2.json"): `{"lastActivityAt": 200, "createdAt": 2,
			"remoteMcpServersConfig": [{"uuid": "c-1", "url": "https://new.example.com/mcp", "name": "Linear"}]}`,
		filepath.Join(base, "claude-code-sessions", "u1", "org-b", "local_3.json"): `{"lastActivityAt": 50,
			"remoteMcpServersConfig": [{"uuid": "c-1", "url": "https://other-org.example.com/mcp"}]}`,
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Scan(context.Background(), Options{Env: Env{OS: "darwin", Home: home}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Servers {
		got = append(got, s.Client+" "+s.Name+" "+string(s.Transport)+" "+s.URL)
	}
	sort.Strings(got)
	want := []string{
		"claude-desktop Linear http https://new.example.com/mcp",
		"claude-desktop c-1 http https://other-org.example.com/mcp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range rep.Errors {
		t.Errorf("error %s: %s", e.File, e.Message)
	}
}
