package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fuzzSecret is a fake GitHub token the seeds carry in env values. Env
// values never appear in a report (only their names do), so a Server whose
// entry holds it only in env values must not show it anywhere.
const fuzzSecret = "ghp_Zq7xK2mN9pL4vR8tW1yB6cD3fG5hJ0sA1eXa"

// Seeds: realistic config files of every client, several carrying
// fuzzSecret in an env value.
var fuzzJSONSeeds = []string{
	// Cursor ~/.cursor/mcp.json
	`{
  "mcpServers": {
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "` + fuzzSecret + `" }
    },
    "linear": { "url": "https://mcp.linear.app/sse", "headers": { "Authorization": "Bearer ${env:LINEAR_TOKEN}" } }
  }
}`,
	// Claude Desktop on Windows
	`{"mcpServers":{"filesystem":{"command":"cmd","args":["/c","npx","-y","@modelcontextprotocol/server-filesystem@2025.1.14","C:\\Users\\ann\\Desktop"],"env":{"API_KEY":"` + fuzzSecret + `"}}},"globalShortcut":"Ctrl+Space"}`,
	// ~/.claude.json with user, local and project state
	`{
  "numStartups": 42,
  "mcpServers": { "sentry": { "type": "http", "url": "https://mcp.sentry.dev/mcp" } },
  "disabledMcpServers": ["sentry"],
  "projects": {
    "/home/ann/src/app": {
      "mcpServers": { "db": { "type": "stdio", "command": "uvx", "args": ["mcp-server-postgres==0.3.0"], "env": { "PGPASSWORD": "` + fuzzSecret + `" } } },
      "disabledMcpjsonServers": ["risky"],
      "enabledMcpjsonServers": []
    }
  }
}`,
	// Claude Code project .mcp.json and settings
	`{"mcpServers":{"playwright":{"command":"npx","args":["@playwright/mcp@latest"]},"remote":{"type":"sse","url":"http://mcp.internal.example.com:8080/sse?token=abc123def456"}}}`,
	`{"permissions":{"allow":[]},"disabledMcpjsonServers":["playwright"],"enableAllProjectMcpServers":false}`,
	// VS Code mcp.json with inputs, JSONC
	`{
  // workspace servers
  "inputs": [ { "type": "promptString", "id": "perplexity-key", "description": "Perplexity API Key", "password": true } ],
  "servers": {
    "perplexity": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "server-perplexity-ask"],
      "env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}", "OTHER": "` + fuzzSecret + `" },
    },
    "fetch": { "command": "uvx", "args": ["mcp-server-fetch"] },
  },
}`,
	// VS Code legacy settings.json and a .code-workspace
	`{"editor.fontSize": 14, "mcp": {"servers": {"time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone=UTC"]}}}}`,
	`{"mcp.servers": {"x": {"command": "node", "args": ["/srv/x.js"], "env": {"TOKEN": "` + fuzzSecret + `"}}}}`,
	`{"folders": [{"path": "api"}, {"path": "/abs/web"}], "settings": {"mcp": {"servers": {"ws": {"type": "http", "url": "https://ws.example.com/mcp"}}}}}`,
	// devcontainer
	`{"name": "dev", "image": "mcr.microsoft.com/devcontainers/go", "customizations": {"vscode": {"mcp": {"servers": {"dc": {"command": "mcpgov", "args": ["shim", "--", "npx", "-y", "pkg@1.0.0"]}}}}}}`,
	// Zed settings with comments, old nested command
	`// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "postgres": { "command": "npx", "args": ["-y", "@zeddev/postgres-context-server"], "env": { "DATABASE_URL": "postgresql://u:p4ssw0rd@localhost/db" } },
    "old": { "source": "custom", "command": { "path": "node", "args": ["x.js"], "env": { "K": "` + fuzzSecret + `" } } },
    "remote": { "url": "https://mcp.example.com/mcp", "enabled": false }
  }
}`,
	// Gemini CLI
	`{"mcpServers": {"stripe": {"httpUrl": "https://mcp.stripe.com", "headers": {"Authorization": "Bearer $STRIPE_KEY"}, "trust": false, "includeTools": ["a"]}, "local": {"command": "python", "args": ["-m", "srv"], "cwd": "./srv", "env": {"SECRET": "` + fuzzSecret + `"}, "timeout": 30000}}}`,
	// Windsurf and Cline
	`{"mcpServers": {"figma": {"serverUrl": "https://figma.example.com/sse"}, "cl": {"command": "bunx", "args": ["pkg"], "disabled": true, "autoApprove": [], "env": {"X": "` + fuzzSecret + `"}}}}`,
	// opencode.jsonc
	`{
  "$schema": "https://opencode.ai/config.json",
  "mcp": {
    "local": { "type": "local", "command": ["npx", "-y", "@modelcontextprotocol/server-everything"], "environment": { "TOKEN": "` + fuzzSecret + `" }, "enabled": true },
    "remote": { "type": "remote", "url": "https://mcp.example.com/mcp", "headers": { "X-Api-Key": "{env:API_KEY}" } }
  }
}`,
	// Kiro, Copilot CLI
	`{"mcpServers": {"aws-docs": {"command": "uvx", "args": ["awslabs.aws-documentation-mcp-server@latest"], "env": {"FASTMCP_LOG_LEVEL": "ERROR"}, "disabled": false, "autoApprove": []}}}`,
	`{"mcpServers": {"gh": {"type": "http", "url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ` + fuzzSecret + `"}, "tools": ["*"]}}}`,
	// Continue block in JSON, workspaceStorage, plugin
	`{"mcpServers": {"blk": {"command": "sh", "args": ["-c", "npx -y pkg@1.2.3"], "env": {"K": "` + fuzzSecret + `"}}}}`,
	`{"folder": "file:///home/ann/src/app"}`,
	`{"name": "my-plugin", "mcpServers": {"p": {"command": "${CLAUDE_PLUGIN_ROOT}/bin/server", "env": {"TOKEN": "` + fuzzSecret + `"}}}}`,
	// Wrappers
	`{"mcpServers": {"snyk": {"command": "/bin/sh", "args": ["-c", "P=/tmp/snyk_mcp_stdio_local_proxy.abc.sh; exec \"$P\" \"$@\"", "snyk_mcp_stdio_local_proxy_wrapper", "npx", "mcp-remote", "https://x.example.com/sse", "--header", "Authorization: Bearer ghp_Zq7xK2mN9pL4vR8tW1yB6cD3fG5hJ0sA1eXb"]}}}`,
	// Secrets in URL parts net/url rejects or ignores (regression seeds for
	// secret.MaskURL and launch.CanonicalURL).
	`{"mcpServers": {"z": {"url": "https://actions.zapier.com/mcp/sk-ak-Zq7xK2mN9pL4vR8tW1yB6cD3fG5h/sse"}, "p": {"url": "https://u:p{ss}w0rd12@h.example.com/x?k=ghp_Zq7xK2mN9pL4vR8tW1yB6cD3fG5hJ0sA1eXc%zz", "env": {"T": "` + fuzzSecret + `"}}}}`,
	"\xEF\xBB\xBF{\"mcpServers\": {}}",
	`[]`,
	`{"a": [[[[[[{"b": null}]]]]]]}`,
}

var fuzzTOMLSeeds = []string{
	`model = "o3"
approval_policy = "on-request"

[mcp_servers.github]
command = "docker"
args = ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:v0.5.0"]
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "` + fuzzSecret + `" }
startup_timeout_sec = 20

[mcp_servers.fetch]
command = "uvx"
args = ["mcp-server-fetch==2025.4.7"]
env_vars = ["HTTP_PROXY"]

[mcp_servers.fetch.env]
LOG_LEVEL = "debug"
API_TOKEN = "` + fuzzSecret + `"

[mcp_servers."remote server"]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "REMOTE_TOKEN"
http_headers = { "X-Team" = "core" }
env_http_headers = { "X-Api-Key" = "REMOTE_API_KEY" }
enabled = false

[projects."/home/ann/src/app"]
trust_level = "trusted"
`,
	`[mcp_servers]
time = { command = "uvx", args = ["mcp-server-time"], env = { TZ = "UTC", SECRET = "` + fuzzSecret + `" } }
`,
	"mcp_servers.dotted.command = \"npx\"\nmcp_servers.dotted.args = ['-y', 'pkg@1.0.0']\n",
	"[[arr]]\nx = 1\n[[arr]]\nx = \"\"\"multi\nline\"\"\"\n",
	"a = [1, [2, [3]]]\nb = {c = {d = 1979-05-27T07:32:00Z}}\n",
	"[mcp_servers.bad\n",
	// Regression seeds: nesting the decoder once recursed into without a
	// bound, and strings that must not hide it from the depth check.
	"a = " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n",
	"a = [\"\"\"x\"\"\"\", " + strings.Repeat("[", 300) + "\n",
	"a" + strings.Repeat(".a", 300) + " = 1\n",
}

var fuzzYAMLSeeds = []string{
	`name: My Assistant
version: 1.0.0
schema: v1
mcpServers:
  - name: SQLite
    command: npx
    args:
      - -y
      - mcp-sqlite
      - /home/ann/data.db
    env:
      SQLITE_KEY: "` + fuzzSecret + `"
  - name: remote
    type: streamable-http
    url: https://mcp.example.com/mcp
    requestOptions:
      headers:
        Authorization: Bearer ${{ secrets.MCP_TOKEN }}
`,
	`name: block
version: 0.0.1
schema: v1
mcpServers:
  - name: fetch
    command: uvx
    args: ["mcp-server-fetch==2025.4.7"]
    env: {TOKEN: "` + fuzzSecret + `"}
`,
	`x-base: &base
  command: npx
  env:
    KEY: "` + fuzzSecret + `"
mcpServers:
  - name: a
    <<: *base
    args: [pkg@1.0.0]
  - name: b
    command: mine
    <<: *base
`,
	"mcpServers:\n  - name: t\n    command: docker\n    args: [run, -i, 'mcp/time:latest']\n    disabled: true\n",
	"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
	"- just\n- a list\n",
	"# comment only\n",
}

// fuzzSources are the shapes a file of each format is read as.
func fuzzSources(f format) []source {
	switch f {
	case formatTOML:
		return []source{
			{client: ClientCodex, scope: ScopeUser, path: "/home/ann/.codex/config.toml", shape: shapeCodex},
			{client: ClientCodex, scope: ScopeProject, path: "/p/.codex/config.toml", shape: shapeCodex, project: "/p"},
			{client: ClientCodex, scope: ScopeUser, path: "/home/ann/.codex/plugins/x/.mcp.json", shape: shapePlugin},
			{client: ClientGrok, scope: ScopeUser, path: "/home/ann/.grok/config.toml", shape: shapeCodex},
			{client: ClientMistralVibe, scope: ScopeUser, path: "/home/ann/.vibe/config.toml", shape: shapeVibe},
		}
	case formatYAML:
		return []source{
			{client: ClientContinue, scope: ScopeUser, path: "/home/ann/.continue/config.yaml", shape: shapeContinue},
			{client: ClientContinue, scope: ScopeProject, path: "/p/.continue/mcpServers/a.yaml", shape: shapeContinueBlock, project: "/p"},
			{client: ClientGoose, scope: ScopeUser, path: "/home/ann/.config/goose/config.yaml", shape: shapeGoose},
			{client: ClientGitHubActions, scope: ScopeProject, path: "/p/.github/workflows/a.yml", shape: shapeWorkflow, project: "/p"},
			{client: ClientGitLabCI, scope: ScopeProject, path: "/p/.gitlab-ci.yml", shape: shapeGitLabCI, project: "/p"},
			{client: ClientContainer, scope: ScopeProject, path: "/p/compose.yaml", shape: shapeCompose, project: "/p"},
			{client: ClientCircleCI, scope: ScopeProject, path: "/p/.circleci/config.yml", shape: shapeCIYAML, project: "/p"},
		}
	case formatDockerfile:
		return []source{
			{client: ClientContainer, scope: ScopeProject, path: "/p/Dockerfile", shape: shapeDockerfile, project: "/p"},
		}
	}
	return []source{
		{client: ClientCursor, scope: ScopeUser, path: "/home/ann/.cursor/mcp.json", shape: shapeMCPServers},
		{client: ClientClaudeCode, scope: ScopeProject, path: "/p/.mcp.json", shape: shapeMCPServers, project: "/p"},
		{client: ClientGeminiCLI, scope: ScopeUser, path: "/home/ann/.gemini/settings.json", shape: shapeMCPServers},
		{client: ClientClaudeCode, scope: ScopeUser, path: "/home/ann/.claude.json", shape: shapeClaudeJSON},
		{client: ClientClaudeCode, scope: ScopeProject, path: "/p/.claude/settings.json", shape: shapeClaudeSettings, project: "/p"},
		{client: ClientVSCode, scope: ScopeUser, path: "/home/ann/.config/Code/User/mcp.json", shape: shapeVSCodeMCP},
		{client: ClientVSCode, scope: ScopeUser, path: "/home/ann/.config/Code/User/settings.json", shape: shapeVSCodeSettings},
		{client: ClientVSCode, scope: ScopeProject, path: "/p/x.code-workspace", shape: shapeCodeWorkspace, project: "/p"},
		{client: ClientVSCode, scope: ScopeProject, path: "/p/.devcontainer/devcontainer.json", shape: shapeDevcontainer, project: "/p"},
		{client: ClientZed, scope: ScopeUser, path: "/home/ann/.config/zed/settings.json", shape: shapeZed},
		{client: ClientOpencode, scope: ScopeUser, path: "/home/ann/.config/opencode/opencode.jsonc", shape: shapeOpencode},
		{client: ClientContinue, scope: ScopeProject, path: "/p/.continue/mcpServers/a.json", shape: shapeContinueBlock, project: "/p"},
		{client: ClientCursor, scope: ScopeUser, path: "/home/ann/.config/Cursor/User/workspaceStorage/1/workspace.json", shape: shapeWorkspaceStorage, app: "Cursor"},
		{client: ClientClaudeCode, scope: ScopeUser, path: "/home/ann/.claude/plugins/x/.mcp.json", shape: shapePlugin},
		{client: ClientClaudeCode, scope: ScopeUser, path: "/home/ann/.claude/plugins/installed_plugins.json", shape: shapeClaudePlugins},
		{client: ClientAmp, scope: ScopeUser, path: "/home/ann/.config/amp/settings.json", shape: shapeAmp},
		{client: ClientContainer, scope: ScopeProject, path: "/p/.devcontainer/devcontainer.json", shape: shapeDevcontainerFeatures, project: "/p"},
		{client: ClientKiloCode, scope: ScopeUser, path: "/home/ann/.config/kilo/kilo.json", shape: shapeOpencode},
		{client: ClientCopilotCLI, scope: ScopeUser, path: "/home/ann/.copilot/permissions-config.json", shape: shapeCopilotPermissions},
		{client: ClientClaudeDesktop, scope: ScopeUser, path: "/home/ann/Claude/local-agent-mode-sessions/a/b/rpm/manifest.json", shape: shapeDesktopPlugins},
		{client: ClientClaudeDesktop, scope: ScopeUser, path: "/home/ann/Claude/claude-code-sessions/a/b/local_1.json", shape: shapeDesktopSession},
		{client: ClientVSCode, scope: ScopeUser, path: "/home/ann/.vscode/extensions/x/mcp.json", shape: shapeExtensionMCP},
		{client: ClientOpencode, scope: ScopeUser, path: "/home/ann/.local/share/opencode/storage/project/a.json", shape: shapeOpencodeProject},
	}
}

// secretOutsideEnv reports whether lit occurs in an entry anywhere but in
// an env value: its name, project, a key, or any other value. Values of
// members named env or environment (at any depth) are the only place the
// property covers.
func secretOutsideEnv(e rawEntry, lit string) bool {
	if strings.Contains(e.name, lit) || strings.Contains(e.project, lit) {
		return true
	}
	var walk func(n *node) bool
	walk = func(n *node) bool {
		if n == nil {
			return false
		}
		if strings.Contains(n.str, lit) {
			return true
		}
		for _, m := range n.members {
			if strings.Contains(m.key, lit) {
				return true
			}
			if m.key == "env" || m.key == "environment" {
				// Only the names of variables are reported.
				if m.val != nil && m.val.kind == kObject {
					for _, v := range m.val.members {
						if strings.Contains(v.key, lit) {
							return true
						}
					}
				}
				continue
			}
			if walk(m.val) {
				return true
			}
		}
		for _, it := range n.items {
			if walk(it) {
				return true
			}
		}
		return false
	}
	return walk(e.node)
}

func fuzzReader(f *testing.F, fm format, seeds []string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	srcs := fuzzSources(fm)
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := decodeText(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, errEmpty) {
				t.Fatalf("decodeText error %T %v is neither a ParseError nor errEmpty", err, err)
			}
			return
		}
		root, err := parse(text, fm)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, errEmpty) {
				t.Fatalf("parse error %T %v is neither a ParseError nor errEmpty", err, err)
			}
			if pe != nil && (pe.Line < 0 || pe.Column < 0 || pe.Msg == "") {
				t.Fatalf("malformed ParseError %+v", pe)
			}
			return
		}
		if root == nil || root.kind != kObject {
			t.Fatalf("parse returned a %s root without error", kindName(root))
		}
		for _, src := range srcs {
			x := extract(src, root)
			for _, e := range x.entries {
				s := newServer(src, src.path, e, Env{OS: "linux", Home: "/home/ann"}, fakeFS{})
				js, err := json.Marshal(s)
				if err != nil {
					t.Fatalf("marshal server: %v", err)
				}
				if bytes.Contains(js, []byte(fuzzSecret)) && !secretOutsideEnv(e, fuzzSecret) {
					t.Fatalf("server %q (shape %d) shows an env value in its report:\n%s", e.name, src.shape, js)
				}
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) { fuzzReader(f, formatJSON, fuzzJSONSeeds) }
func FuzzParseTOML(f *testing.F) { fuzzReader(f, formatTOML, fuzzTOMLSeeds) }
func FuzzParseYAML(f *testing.F) { fuzzReader(f, formatYAML, fuzzYAMLSeeds) }

// TestFuzzSeedsExerciseTheProperty keeps the seeds honest: each reader has
// seeds that parse and yield servers whose env values hold fuzzSecret.
func TestFuzzSeedsExerciseTheProperty(t *testing.T) {
	for _, c := range []struct {
		f     format
		seeds []string
	}{{formatJSON, fuzzJSONSeeds}, {formatTOML, fuzzTOMLSeeds}, {formatYAML, fuzzYAMLSeeds}} {
		covered := 0
		for _, seed := range c.seeds {
			text, err := decodeText([]byte(seed))
			if err != nil {
				continue
			}
			root, err := parse(text, c.f)
			if err != nil {
				continue
			}
			for _, src := range fuzzSources(c.f) {
				for _, e := range extract(src, root).entries {
					if strings.Contains(seedEnv(e), fuzzSecret) && !secretOutsideEnv(e, fuzzSecret) {
						covered++
					}
				}
			}
		}
		if covered < 2 {
			t.Errorf("format %d: %d seeded entries carry the secret only in env values, want several", c.f, covered)
		}
	}
}

func seedEnv(e rawEntry) string {
	f := readFields(e, fakeFS{})
	var vals []string
	for _, v := range f.env {
		vals = append(vals, v.value)
	}
	return strings.Join(vals, " ")
}
