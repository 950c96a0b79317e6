package scan

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// row renders a source as "client scope path" with " (glob)" for patterns,
// so a table can list every expected file of an OS exactly and in order.
func row(s source) string {
	r := fmt.Sprintf("%s %s %s", s.client, s.scope, s.path)
	if s.glob {
		r += " (glob)"
	}
	if len(s.walk) > 0 {
		r += " (walk " + strings.Join(s.walk, " ") + ")"
	}
	return r
}

func rows(srcs []source) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = row(s)
	}
	return out
}

func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// diffRows reports the first difference between two row lists with context.
func diffRows(t *testing.T, got, want []string) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("row %d:\n got  %q\n want %q", i, g, w)
		}
	}
	if t.Failed() {
		t.Logf("all rows:\n%s", strings.Join(got, "\n"))
	}
}

// skipUnlessSlash skips tables of slash-separated OSes on a Windows host,
// where Env.join uses filepath.Join and so the host's separator.
func skipUnlessSlash(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("linux and darwin tables use the host's filepath.Join")
	}
}

// hasRow reports whether srcs contain exactly row r.
func hasRow(srcs []source, r string) bool {
	for _, s := range srcs {
		if row(s) == r {
			return true
		}
	}
	return false
}

// TestUserSourcesOverrides checks each client's environment override and
// SystemRoot prefixing: the overridden file is listed and the default one is
// not.
func TestUserSourcesOverrides(t *testing.T) {
	type tc struct {
		name    string
		env     Env
		want    []string
		notWant []string
		slash   bool // a linux or darwin table
	}
	cases := []tc{
		{
			// add-mcp 2.4.0 reads CLINE_DIR, KIMI_CODE_HOME, GROK_HOME and
			// PI_CODING_AGENT_DIR; agent-scan CLAUDE_CODE_PLUGIN_CACHE_DIR.
			name:  "linux homes of the newer clients",
			slash: true,
			env: Env{OS: "linux", Home: "/home/ann", Getenv: envMap(
				"CLINE_DIR", "/cfg/cline", "KIMI_CODE_HOME", "/cfg/kimi", "GROK_HOME", "/cfg/grok",
				"PI_CODING_AGENT_DIR", "/cfg/pi", "CLAUDE_CODE_PLUGIN_CACHE_DIR", "/cfg/plugins",
				"CLAUDE_CODE_PLUGIN_SEED_DIR", "/seed/a::/seed/b",
				"XDG_CONFIG_HOME", "/cfg/xdg")},
			want: []string{
				"cline user /cfg/cline/data/settings/cline_mcp_settings.json",
				"kimi user /cfg/kimi/mcp.json",
				"grok user /cfg/grok/config.toml",
				"pi user /cfg/pi/mcp.json",
				"claude-code user /cfg/plugins/installed_plugins.json",
				"claude-code user /seed/a/installed_plugins.json",
				"claude-code user /seed/b/installed_plugins.json",
				"claude-code user /home/ann/.claude/plugins/installed_plugins.json",
				"goose user /cfg/xdg/goose/config.yaml",
				"goose user /home/ann/.config/goose/config.yaml",
				"kilo-code user /cfg/xdg/kilo/kilo.json",
				"copilot-cli user /cfg/xdg/mcp-config.json",
				"copilot-cli user /home/ann/.copilot/mcp-config.json",
			},
			notWant: []string{
				"cline user /home/ann/.cline/data/settings/cline_mcp_settings.json",
				"kimi user /home/ann/.kimi-code/mcp.json",
				"grok user /home/ann/.grok/config.toml",
				"pi user /home/ann/.pi/agent/mcp.json",
			},
		},
		{
			name: "windows APPDATA moves user data",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("APPDATA", `D:\Profiles\ann\Roaming`)},
			want: []string{
				`claude-desktop user D:\Profiles\ann\Roaming\Claude\claude_desktop_config.json`,
				`vscode user D:\Profiles\ann\Roaming\Code\User\mcp.json`,
				`zed user D:\Profiles\ann\Roaming\Zed\settings.json`,
				`cline user D:\Profiles\ann\Roaming\Cursor\User\globalStorage\saoudrizwan.claude-dev\settings\cline_mcp_settings.json`,
				`cursor user D:\Profiles\ann\Roaming\Cursor\User\workspaceStorage\*\workspace.json (glob)`,
				// Dot-folders stay in the profile.
				`cursor user C:\Users\ann\.cursor\mcp.json`,
			},
			notWant: []string{`claude-desktop user C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json`},
		},
		{
			name: "windows ProgramW6432 wins over ProgramFiles",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("ProgramW6432", `C:\Program Files`, "ProgramFiles", `C:\Program Files (x86)`)},
			want: []string{`claude-code managed C:\Program Files\ClaudeCode\managed-mcp.json`},
		},
		{
			name: "windows ProgramFiles when ProgramW6432 is unset",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("ProgramFiles", `E:\Apps`)},
			want: []string{`claude-code managed E:\Apps\ClaudeCode\managed-mcp.json`},
		},
		{
			name: "windows ProgramData",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("ProgramData", `D:\PD`)},
			want: []string{
				`gemini-cli managed D:\PD\gemini-cli\settings.json`,
				`gemini-cli managed D:\PD\gemini-cli\system-defaults.json`,
				`codex managed D:\PD\OpenAI\Codex\config.toml`,
				`opencode managed D:\PD\opencode\opencode.json`,
			},
		},
		{
			name: "windows SystemRoot prefixes machine-wide paths without their drive",
			env: Env{OS: "windows", Home: `C:\Users\ann`, SystemRoot: `T:\fakeroot\`,
				Getenv: envMap("ProgramW6432", `C:\Program Files`, "ProgramData", `C:\ProgramData`)},
			want: []string{
				`claude-code managed T:\fakeroot\Program Files\ClaudeCode\managed-mcp.json`,
				`gemini-cli managed T:\fakeroot\ProgramData\gemini-cli\settings.json`,
				`codex managed T:\fakeroot\ProgramData\OpenAI\Codex\config.toml`,
				`opencode managed T:\fakeroot\ProgramData\opencode\opencode.jsonc`,
				// User files are not under SystemRoot.
				`claude-desktop user C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json`,
			},
		},
		{
			name: "windows SystemRoot with default roots",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, SystemRoot: `T:\r`},
			want: []string{
				`claude-code managed T:\r\Program Files\ClaudeCode\managed-mcp.json`,
				`codex managed T:\r\ProgramData\OpenAI\Codex\config.toml`,
			},
		},
		{
			name: "windows ignores XDG_CONFIG_HOME",
			env:  Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("XDG_CONFIG_HOME", `D:\xdg`)},
			want: []string{
				`opencode user C:\Users\ann\.config\opencode\opencode.json`,
				`zed user C:\Users\ann\AppData\Roaming\Zed\settings.json`,
			},
		},
		{
			name: "windows client homes",
			env: Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap(
				"CLAUDE_CONFIG_DIR", `D:\claude`, "CODEX_HOME", `D:\codex`, "COPILOT_HOME", `D:\copilot`,
				"CONTINUE_GLOBAL_DIR", `D:\continue`, "VSCODE_PORTABLE", `D:\VSCode\data`,
				"GEMINI_CLI_SYSTEM_SETTINGS_PATH", `D:\gemini\system.json`,
				"OPENCODE_CONFIG", `D:\oc\custom.json`, "OPENCODE_CONFIG_DIR", `D:\ocdir`)},
			want: []string{
				`claude-code user D:\claude\.claude.json`,
				`claude-code user D:\claude\settings.json`,
				`claude-code user D:\claude\plugins\installed_plugins.json`,
				`codex user D:\codex\plugins (walk .mcp.json plugin.json)`,
				`codex user D:\codex\config.toml`,
				`codex user D:\codex\*.config.toml (glob)`,
				`copilot-cli user D:\copilot\mcp-config.json`,
				`continue user D:\continue\config.yaml`,
				`continue user D:\continue\mcpServers\* (glob)`,
				`vscode user D:\VSCode\data\user-data\User\mcp.json`,
				`vscode user D:\VSCode\data\user-data\User\settings.json`,
				`gemini-cli managed D:\gemini\system.json`,
				`opencode user D:\oc\custom.json`,
				`opencode user D:\ocdir\opencode.json`,
				`opencode user D:\ocdir\opencode.jsonc`,
			},
			notWant: []string{
				`claude-code user C:\Users\ann\.claude.json`,
				`claude-code user C:\Users\ann\.claude\settings.json`,
				`codex user C:\Users\ann\.codex\config.toml`,
				`copilot-cli user C:\Users\ann\.copilot\mcp-config.json`,
				`continue user C:\Users\ann\.continue\config.yaml`,
				`gemini-cli managed C:\ProgramData\gemini-cli\settings.json`,
				`gemini-cli managed C:\ProgramData\gemini-cli\system-defaults.json`,
			},
		},
		{
			// The default root is read too: the scan's session need not be
			// the client's, and install-mcp writes ~/.config regardless.
			name:  "linux XDG_CONFIG_HOME adds a root for user data, zed and opencode",
			slash: true,
			env:   Env{OS: "linux", Home: "/home/ann", Getenv: envMap("XDG_CONFIG_HOME", "/xdg")},
			want: []string{
				"claude-desktop user /xdg/Claude/claude_desktop_config.json",
				"vscode user /xdg/Code/User/mcp.json",
				"vscode user /xdg/Code/User/profiles/*/mcp.json (glob)",
				"cline user /xdg/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
				"zed user /xdg/zed/settings.json",
				"opencode user /xdg/opencode/opencode.json",
				"opencode user /xdg/opencode/config.json",
				"cursor user /xdg/Cursor/User/workspaceStorage/*/workspace.json (glob)",
				// Dot-folders and the VS Code server stay in the home directory.
				"cursor user /home/ann/.cursor/mcp.json",
				"vscode user /home/ann/.vscode-server/data/User/mcp.json",
				"zed user /home/ann/.config/zed/settings.json",
				"opencode user /home/ann/.config/opencode/opencode.json",
				"vscode user /home/ann/.config/Code/User/mcp.json",
				"claude-desktop user /home/ann/.config/Claude/claude_desktop_config.json",
			},
			notWant: []string{
				// Dot-folders in the home directory are not moved, so not doubled.
				"cursor user /home/ann/.config/.cursor/mcp.json",
			},
		},
		{
			name:  "darwin XDG_CONFIG_HOME adds a root for zed and opencode, not Application Support",
			slash: true,
			env:   Env{OS: "darwin", Home: "/Users/ann", Getenv: envMap("XDG_CONFIG_HOME", "/Users/ann/xdg")},
			want: []string{
				"zed user /Users/ann/xdg/zed/settings.json",
				"opencode user /Users/ann/xdg/opencode/opencode.json",
				"zed user /Users/ann/.config/zed/settings.json",
				"opencode user /Users/ann/.config/opencode/opencode.json",
				"claude-desktop user /Users/ann/Library/Application Support/Claude/claude_desktop_config.json",
				"vscode user /Users/ann/Library/Application Support/Code/User/mcp.json",
			},
		},
		{
			name:  "linux client homes",
			slash: true,
			env: Env{OS: "linux", Home: "/home/ann", Getenv: envMap(
				"CLAUDE_CONFIG_DIR", "/cfg/claude", "CODEX_HOME", "/cfg/codex", "COPILOT_HOME", "/cfg/copilot",
				"CONTINUE_GLOBAL_DIR", "/cfg/continue", "VSCODE_PORTABLE", "/opt/vscode/data",
				"GEMINI_CLI_SYSTEM_SETTINGS_PATH", "/cfg/gemini-system.json",
				"OPENCODE_CONFIG", "/cfg/oc.json", "OPENCODE_CONFIG_DIR", "/cfg/ocdir")},
			want: []string{
				"claude-code user /cfg/claude/.claude.json",
				"claude-code user /cfg/claude/settings.json",
				"claude-code user /cfg/claude/plugins/installed_plugins.json",
				"codex user /cfg/codex/plugins (walk .mcp.json plugin.json)",
				"codex user /cfg/codex/config.toml",
				"codex user /cfg/codex/*.config.toml (glob)",
				"copilot-cli user /cfg/copilot/mcp-config.json",
				"continue user /cfg/continue/config.yaml",
				"continue user /cfg/continue/mcpServers/* (glob)",
				"vscode user /opt/vscode/data/user-data/User/mcp.json",
				"vscode user /opt/vscode/data/user-data/User/settings.json",
				"gemini-cli managed /cfg/gemini-system.json",
				"opencode user /cfg/oc.json",
				"opencode user /cfg/ocdir/opencode.json",
				"opencode user /cfg/ocdir/opencode.jsonc",
				// OPENCODE_CONFIG adds to the default files, it does not replace them.
				"opencode user /home/ann/.config/opencode/opencode.json",
			},
			notWant: []string{
				"claude-code user /home/ann/.claude.json",
				"claude-code user /home/ann/.claude/settings.json",
				"codex user /home/ann/.codex/config.toml",
				"copilot-cli user /home/ann/.copilot/mcp-config.json",
				"continue user /home/ann/.continue/config.yaml",
				"gemini-cli managed /etc/gemini-cli/settings.json",
				"gemini-cli managed /etc/gemini-cli/system-defaults.json",
			},
		},
		{
			name:  "linux SystemRoot",
			slash: true,
			env:   Env{OS: "linux", Home: "/home/ann", SystemRoot: "/tmp/root"},
			want: []string{
				"claude-code managed /tmp/root/etc/claude-code/managed-mcp.json",
				"gemini-cli managed /tmp/root/etc/gemini-cli/settings.json",
				"codex managed /tmp/root/etc/codex/config.toml",
				"opencode managed /tmp/root/etc/opencode/opencode.json",
				"claude-desktop user /home/ann/.config/Claude/claude_desktop_config.json",
			},
		},
		{
			name:  "darwin SystemRoot",
			slash: true,
			env:   Env{OS: "darwin", Home: "/Users/ann", SystemRoot: "/tmp/root"},
			want: []string{
				"claude-code managed /tmp/root/Library/Application Support/ClaudeCode/managed-mcp.json",
				"gemini-cli managed /tmp/root/Library/Application Support/GeminiCli/system-defaults.json",
				"codex managed /tmp/root/etc/codex/config.toml",
				"opencode managed /tmp/root/Library/Application Support/opencode/opencode.jsonc",
			},
		},
		{
			name:  "GEMINI_CLI_SYSTEM_SETTINGS_PATH is used as given, not under SystemRoot",
			slash: true,
			env:   Env{OS: "linux", Home: "/home/ann", SystemRoot: "/tmp/root", Getenv: envMap("GEMINI_CLI_SYSTEM_SETTINGS_PATH", "/srv/gemini.json")},
			want:  []string{"gemini-cli managed /srv/gemini.json"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slash {
				skipUnlessSlash(t)
			}
			srcs := userSources(c.env)
			for _, w := range c.want {
				if !hasRow(srcs, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, nw := range c.notWant {
				if hasRow(srcs, nw) {
					t.Errorf("unexpected %q", nw)
				}
			}
			if t.Failed() {
				t.Logf("all rows:\n%s", strings.Join(rows(srcs), "\n"))
			}
		})
	}
}

// TestUserSourcesGeminiOverrideReplacesBoth checks the system settings
// override yields exactly one managed Gemini file.
func TestUserSourcesGeminiOverrideReplacesBoth(t *testing.T) {
	e := Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("GEMINI_CLI_SYSTEM_SETTINGS_PATH", `D:\g.json`)}
	var managed []string
	for _, s := range userSources(e) {
		if s.client == ClientGeminiCLI && s.scope == ScopeManaged {
			managed = append(managed, s.path)
		}
	}
	if len(managed) != 1 || managed[0] != `D:\g.json` {
		t.Fatalf("managed gemini files = %q, want [D:\\g.json]", managed)
	}
}

func TestEveryClientHasUserSourceOnEveryOS(t *testing.T) {
	homes := map[string]string{"linux": "/home/ann", "darwin": "/Users/ann", "windows": `C:\Users\ann`}
	for osName, home := range homes {
		srcs := userSources(Env{OS: osName, Home: home})
		for _, c := range Clients {
			found := false
			for _, s := range srcs {
				if s.client == c && s.scope == ScopeUser && s.shape != shapeWorkspaceStorage {
					found = true
					break
				}
			}
			// Amazon Q Developer CLI has no Windows build (agent-scan),
			// Visual Studio only a Windows one; pipelines and containers
			// live in repositories only.
			repoOnly := c == ClientGitHubActions || c == ClientGitLabCI || c == ClientContainer ||
				c == ClientCircleCI || c == ClientAzurePipeline || c == ClientBitbucket
			if !found && !repoOnly && !(osName == "windows" && c == ClientAmazonQ) && !(osName != "windows" && c == ClientVisualStudio) {
				t.Errorf("%s: client %s has no user-scope config file", osName, c)
			}
		}
		for _, s := range srcs {
			if !knownClient(s.client) {
				t.Errorf("%s: source %q names unknown client %q", osName, s.path, s.client)
			}
			if s.scope != ScopeUser && s.scope != ScopeManaged {
				t.Errorf("%s: user source %q has scope %q", osName, s.path, s.scope)
			}
			if s.glob != strings.Contains(s.path, "*") {
				t.Errorf("%s: source %q glob=%v does not match its pattern", osName, s.path, s.glob)
			}
		}
	}
}

func knownClient(id string) bool {
	for _, c := range Clients {
		if c == id {
			return true
		}
	}
	return false
}

func TestUserSourcesNoDuplicates(t *testing.T) {
	for _, e := range []Env{
		{OS: "linux", Home: "/home/ann"},
		{OS: "darwin", Home: "/Users/ann"},
		{OS: "windows", Home: `C:\Users\ann`},
	} {
		// One file may serve two clients (VS Code's settings.json holds Amp's
		// servers too), never one client twice.
		seen := map[string]bool{}
		for _, s := range userSources(e) {
			if seen[s.client+" "+s.path] {
				t.Errorf("%s: %s %q listed twice", e.OS, s.client, s.path)
			}
			seen[s.client+" "+s.path] = true
		}
	}
}

func TestProjectSources(t *testing.T) {
	t.Run("windows", func(t *testing.T) {
		root := `C:\src\proj`
		want := []string{
			`claude-code project C:\src\proj\.mcp.json`,
			`claude-code project C:\src\proj\.claude\settings.json`,
			`claude-code project C:\src\proj\.claude\settings.local.json`,
			`cursor project C:\src\proj\.cursor\mcp.json`,
			`vscode project C:\src\proj\.vscode\mcp.json`,
			`vscode project C:\src\proj\.vscode\settings.json`,
			`vscode project C:\src\proj\.devcontainer\devcontainer.json`,
			`zed project C:\src\proj\.zed\settings.json`,
			`gemini-cli project C:\src\proj\.gemini\settings.json`,
			`gemini-cli project C:\src\proj\.gemini\extensions\*\gemini-extension.json (glob)`,
			`codex project C:\src\proj\.codex\config.toml`,
			`continue project C:\src\proj\.continue\mcpServers\* (glob)`,
			`opencode project C:\src\proj\opencode.json`,
			`opencode project C:\src\proj\opencode.jsonc`,
			`kiro project C:\src\proj\.kiro\settings\mcp.json`,
			`copilot-cli project C:\src\proj\.mcp.json`,
			`copilot-cli project C:\src\proj\.github\mcp.json`,
			`windsurf project C:\src\proj\.windsurf\mcp.json`,
			`opencode project C:\src\proj\.opencode\opencode.json`,
			`opencode project C:\src\proj\.opencode\opencode.jsonc`,
			`opencode project C:\src\proj\.opencode.json`,
			`kilo-code project C:\src\proj\kilo.json`,
			`kilo-code project C:\src\proj\kilo.jsonc`,
			`kilo-code project C:\src\proj\.kilo\kilo.json`,
			`kilo-code project C:\src\proj\.kilo\kilo.jsonc`,
			`kilo-code project C:\src\proj\.kilocode\kilo.json`,
			`kilo-code project C:\src\proj\.kilocode\kilo.jsonc`,
			`roo-code project C:\src\proj\.roo\mcp.json`,
			`amazon-q project C:\src\proj\.amazonq\mcp.json`,
			`kimi project C:\src\proj\.kimi-code\mcp.json`,
			`grok project C:\src\proj\.grok\config.toml`,
			`mastra project C:\src\proj\.mastracode\mcp.json`,
			`mcporter project C:\src\proj\config\mcporter.json`,
			`pi project C:\src\proj\.pi\mcp.json`,
			`vscode project C:\src\proj\.mcp.json`,
			`junie project C:\src\proj\.junie\mcp\mcp.json`,
			`qwen-code project C:\src\proj\.qwen\settings.json`,
			`visual-studio project C:\src\proj\.mcp.json`,
			`visual-studio project C:\src\proj\.vs\mcp.json`,
			`trae project C:\src\proj\.trae\mcp.json`,
			`github-actions project C:\src\proj\.github\workflows\*.yml (glob)`,
			`github-actions project C:\src\proj\.github\workflows\*.yaml (glob)`,
			`gitlab-ci project C:\src\proj\.gitlab-ci.yml`,
			`circleci project C:\src\proj\.circleci\config.yml`,
			`azure-pipelines project C:\src\proj\azure-pipelines.yml`,
			`bitbucket-pipelines project C:\src\proj\bitbucket-pipelines.yml`,
			`container project C:\src\proj\*ockerfile* (glob)`,
			`container project C:\src\proj\compose.yaml`,
			`container project C:\src\proj\compose.yml`,
			`container project C:\src\proj\docker-compose.yml`,
			`container project C:\src\proj\docker-compose.yaml`,
			`container project C:\src\proj\.devcontainer\devcontainer.json`,
			`container project C:\src\proj\.devcontainer\Dockerfile`,
			`container project C:\src\proj\.devcontainer\docker-compose.yml`,
			`container project C:\src\proj\.devcontainer\compose.yaml`,
		}
		srcs := projectSources(Env{OS: "windows", Home: `C:\Users\ann`}, root)
		diffRows(t, rows(srcs), want)
		for _, s := range srcs {
			if s.project != root {
				t.Errorf("%s: project = %q, want %q", s.path, s.project, root)
			}
		}
	})
	t.Run("linux", func(t *testing.T) {
		skipUnlessSlash(t)
		root := "/home/ann/src/proj"
		want := []string{
			"claude-code project /home/ann/src/proj/.mcp.json",
			"claude-code project /home/ann/src/proj/.claude/settings.json",
			"claude-code project /home/ann/src/proj/.claude/settings.local.json",
			"cursor project /home/ann/src/proj/.cursor/mcp.json",
			"vscode project /home/ann/src/proj/.vscode/mcp.json",
			"vscode project /home/ann/src/proj/.vscode/settings.json",
			"vscode project /home/ann/src/proj/.devcontainer/devcontainer.json",
			"zed project /home/ann/src/proj/.zed/settings.json",
			"gemini-cli project /home/ann/src/proj/.gemini/settings.json",
			"gemini-cli project /home/ann/src/proj/.gemini/extensions/*/gemini-extension.json (glob)",
			"codex project /home/ann/src/proj/.codex/config.toml",
			"continue project /home/ann/src/proj/.continue/mcpServers/* (glob)",
			"opencode project /home/ann/src/proj/opencode.json",
			"opencode project /home/ann/src/proj/opencode.jsonc",
			"kiro project /home/ann/src/proj/.kiro/settings/mcp.json",
			"copilot-cli project /home/ann/src/proj/.mcp.json",
			"copilot-cli project /home/ann/src/proj/.github/mcp.json",
			"windsurf project /home/ann/src/proj/.windsurf/mcp.json",
			"opencode project /home/ann/src/proj/.opencode/opencode.json",
			"opencode project /home/ann/src/proj/.opencode/opencode.jsonc",
			"opencode project /home/ann/src/proj/.opencode.json",
			"kilo-code project /home/ann/src/proj/kilo.json",
			"kilo-code project /home/ann/src/proj/kilo.jsonc",
			"kilo-code project /home/ann/src/proj/.kilo/kilo.json",
			"kilo-code project /home/ann/src/proj/.kilo/kilo.jsonc",
			"kilo-code project /home/ann/src/proj/.kilocode/kilo.json",
			"kilo-code project /home/ann/src/proj/.kilocode/kilo.jsonc",
			"roo-code project /home/ann/src/proj/.roo/mcp.json",
			"amazon-q project /home/ann/src/proj/.amazonq/mcp.json",
			"kimi project /home/ann/src/proj/.kimi-code/mcp.json",
			"grok project /home/ann/src/proj/.grok/config.toml",
			"mastra project /home/ann/src/proj/.mastracode/mcp.json",
			"mcporter project /home/ann/src/proj/config/mcporter.json",
			"pi project /home/ann/src/proj/.pi/mcp.json",
			"vscode project /home/ann/src/proj/.mcp.json",
			"junie project /home/ann/src/proj/.junie/mcp/mcp.json",
			"qwen-code project /home/ann/src/proj/.qwen/settings.json",
			"visual-studio project /home/ann/src/proj/.mcp.json",
			"visual-studio project /home/ann/src/proj/.vs/mcp.json",
			"trae project /home/ann/src/proj/.trae/mcp.json",
			"github-actions project /home/ann/src/proj/.github/workflows/*.yml (glob)",
			"github-actions project /home/ann/src/proj/.github/workflows/*.yaml (glob)",
			"gitlab-ci project /home/ann/src/proj/.gitlab-ci.yml",
			"circleci project /home/ann/src/proj/.circleci/config.yml",
			"azure-pipelines project /home/ann/src/proj/azure-pipelines.yml",
			"bitbucket-pipelines project /home/ann/src/proj/bitbucket-pipelines.yml",
			"container project /home/ann/src/proj/*ockerfile* (glob)",
			"container project /home/ann/src/proj/compose.yaml",
			"container project /home/ann/src/proj/compose.yml",
			"container project /home/ann/src/proj/docker-compose.yml",
			"container project /home/ann/src/proj/docker-compose.yaml",
			"container project /home/ann/src/proj/.devcontainer/devcontainer.json",
			"container project /home/ann/src/proj/.devcontainer/Dockerfile",
			"container project /home/ann/src/proj/.devcontainer/docker-compose.yml",
			"container project /home/ann/src/proj/.devcontainer/compose.yaml",
		}
		srcs := projectSources(Env{OS: "linux", Home: "/home/ann"}, root)
		diffRows(t, rows(srcs), want)
		wantShape := map[string]shape{
			".mcp.json": shapeMCPServers, ".vscode/mcp.json": shapeVSCodeMCP, ".vscode/settings.json": shapeVSCodeSettings,
			".devcontainer/devcontainer.json": shapeDevcontainer, ".zed/settings.json": shapeZed,
			".codex/config.toml": shapeCodex, ".continue/mcpServers/*": shapeContinueBlock, "opencode.json": shapeOpencode,
			".claude/settings.local.json": shapeClaudeSettings,
		}
		for _, s := range srcs {
			rel := strings.TrimPrefix(s.path, root+"/")
			// Visual Studio reads VS Code's "servers" from the same .mcp.json.
			if s.client == ClientVisualStudio && rel == ".mcp.json" {
				if s.shape != shapeVSCodeMCP {
					t.Errorf("visual-studio %s: shape %d, want %d", rel, s.shape, shapeVSCodeMCP)
				}
				continue
			}
			if sh, ok := wantShape[rel]; ok && s.shape != sh && s.client != ClientContainer {
				t.Errorf("%s: shape %d, want %d", rel, s.shape, sh)
			}
		}
	})
	t.Run("darwin root with spaces", func(t *testing.T) {
		skipUnlessSlash(t)
		srcs := projectSources(Env{OS: "darwin", Home: "/Users/ann"}, "/Users/ann/My Projects/app")
		if got, want := srcs[0].path, "/Users/ann/My Projects/app/.mcp.json"; got != want {
			t.Errorf("path = %q, want %q", got, want)
		}
	})
}

// TestUserSourceShapes pins the parser shape of the files whose layout
// differs from the plain {"mcpServers": …} map.
func TestUserSourceShapes(t *testing.T) {
	skipUnlessSlash(t)
	want := map[string]shape{
		"/home/ann/.claude.json":                                          shapeClaudeJSON,
		"/home/ann/.claude/settings.json":                                 shapeClaudeSettings,
		"/home/ann/.config/Code/User/mcp.json":                            shapeVSCodeMCP,
		"/home/ann/.config/Code/User/settings.json":                       shapeVSCodeSettings,
		"/home/ann/.config/zed/settings.json":                             shapeZed,
		"/home/ann/.codex/config.toml":                                    shapeCodex,
		"/home/ann/.continue/config.yaml":                                 shapeContinue,
		"/home/ann/.continue/mcpServers/*":                                shapeContinueBlock,
		"/home/ann/.config/opencode/opencode.json":                        shapeOpencode,
		"/home/ann/.config/Cursor/User/workspaceStorage/*/workspace.json": shapeWorkspaceStorage,
		"/home/ann/.cursor/mcp.json":                                      shapeMCPServers,
		"/home/ann/.copilot/mcp-config.json":                              shapeMCPServers,
		"/home/ann/.gemini/settings.json":                                 shapeMCPServers,
	}
	got := map[string]source{}
	for _, s := range userSources(Env{OS: "linux", Home: "/home/ann"}) {
		if _, ok := got[s.path]; !ok {
			got[s.path] = s
		}
	}
	for p, sh := range want {
		s, ok := got[p]
		if !ok {
			t.Errorf("%s not listed", p)
			continue
		}
		if s.shape != sh {
			t.Errorf("%s: shape %d, want %d", p, s.shape, sh)
		}
	}
	if s := got["/home/ann/.config/Cursor/User/workspaceStorage/*/workspace.json"]; s.app != "Cursor" {
		t.Errorf("cursor workspaceStorage app = %q, want Cursor", s.app)
	}
}
