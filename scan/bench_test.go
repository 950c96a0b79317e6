package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The fleet home: 1,000 config files holding 10,000 servers at the clients'
// real user and project paths — 16 user files and 246 projects that
// ~/.claude.json remembers, each with .mcp.json, .vscode/mcp.json,
// .cursor/mcp.json and .codex/config.toml.
const (
	fleetServersPerFile = 10
	fleetProjects       = 246
	fleetUserFiles      = 16
	fleetFiles          = fleetUserFiles + 4*fleetProjects
	// A project .mcp.json is Claude Code's, GitHub Copilot CLI's and VS
	// Code's, ~/.copilot/mcp-config.json Copilot CLI's and VS Code's: their
	// servers are reported once for each.
	fleetServers = (fleetFiles + 2*fleetProjects + 1) * fleetServersPerFile
)

// fleetEntry is one generated server: a realistic mix of package runners,
// containers, remote servers, bridges and wrappers, with env placeholders
// and the odd literal secret.
type fleetEntry struct {
	name    string
	command string
	args    []string
	url     string
	env     map[string]string
}

func fleetEntries(file int) []fleetEntry {
	out := make([]fleetEntry, fleetServersPerFile)
	for i := range out {
		n := file*fleetServersPerFile + i
		e := fleetEntry{name: fmt.Sprintf("srv-%d", i), env: map[string]string{}}
		switch n % 8 {
		case 0:
			e.command, e.args = "npx", []string{"-y", fmt.Sprintf("@acme/mcp-server-%d@1.%d.0", n%40, n%7), "/srv/data"}
			e.env["API_TOKEN"] = "${env:ACME_TOKEN}"
		case 1:
			e.command, e.args = "uvx", []string{fmt.Sprintf("mcp-server-tool-%d", n%30), "--verbose"}
			e.env["LOG_LEVEL"] = "debug"
		case 2:
			e.command, e.args = "docker", []string{"run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:v0.5.0"}
			e.env["GITHUB_PERSONAL_ACCESS_TOKEN"] = "ghp_" + fake(36, alnum)
		case 3:
			e.url = fmt.Sprintf("https://mcp%d.example.com/mcp", n%50)
		case 4:
			e.command, e.args = "npx", []string{"-y", "mcp-remote", fmt.Sprintf("https://remote%d.example.com/sse", n%20), "--header", "Authorization: Bearer ${TOKEN}"}
		case 5:
			e.command, e.args = "cmd", []string{"/c", fmt.Sprintf("npx -y pkg-%d@latest", n%25)}
		case 6:
			e.command, e.args = "mcpgov", []string{"shim", "--", "uvx", fmt.Sprintf("mcp-server-fetch==2025.4.%d", n%9)}
		case 7:
			e.command, e.args = "node", []string{fmt.Sprintf("/opt/mcp/server-%d/index.js", n%60), "--api-key", "a1b2c3d4e5f6g7h8"}
			e.env["DB_PASSWORD"] = "hunter2hunter2"
		}
		out[i] = e
	}
	return out
}

func jsonString(s string) string { return fmt.Sprintf("%q", s) }

func jsonStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = jsonString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// jsonServers renders entries as a JSON object of servers; opencode spells
// them its own way.
func jsonServers(es []fleetEntry, opencode bool) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i, e := range es {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    %s: {", jsonString(e.name))
		var fields []string
		switch {
		case e.url != "" && opencode:
			fields = append(fields, `"type": "remote"`, `"url": `+jsonString(e.url))
		case e.url != "":
			fields = append(fields, `"type": "http"`, `"url": `+jsonString(e.url))
		case opencode:
			fields = append(fields, `"type": "local"`, `"command": `+jsonStrings(append([]string{e.command}, e.args...)))
		default:
			fields = append(fields, `"command": `+jsonString(e.command), `"args": `+jsonStrings(e.args))
		}
		if len(e.env) > 0 {
			var env []string
			for k, v := range e.env {
				env = append(env, jsonString(k)+": "+jsonString(v))
			}
			key := `"env"`
			if opencode {
				key = `"environment"`
			}
			fields = append(fields, key+": {"+strings.Join(env, ", ")+"}")
		}
		b.WriteString(strings.Join(fields, ", "))
		b.WriteString("}")
	}
	b.WriteString("\n  }")
	return b.String()
}

func tomlServers(es []fleetEntry) string {
	var b strings.Builder
	b.WriteString("# Codex\nmodel = \"o3\"\n")
	for _, e := range es {
		fmt.Fprintf(&b, "\n[mcp_servers.%s]\n", e.name)
		if e.url != "" {
			fmt.Fprintf(&b, "url = %s\n", jsonString(e.url))
		} else {
			fmt.Fprintf(&b, "command = %s\nargs = %s\n", jsonString(e.command), jsonStrings(e.args))
		}
		if len(e.env) > 0 {
			fmt.Fprintf(&b, "\n[mcp_servers.%s.env]\n", e.name)
			for k, v := range e.env {
				fmt.Fprintf(&b, "%s = %s\n", k, jsonString(v))
			}
		}
	}
	return b.String()
}

func yamlServers(es []fleetEntry) string {
	var b strings.Builder
	b.WriteString("name: fleet\nversion: 1.0.0\nschema: v1\nmcpServers:\n")
	for _, e := range es {
		fmt.Fprintf(&b, "  - name: %s\n", e.name)
		if e.url != "" {
			fmt.Fprintf(&b, "    type: streamable-http\n    url: %s\n", e.url)
		} else {
			fmt.Fprintf(&b, "    command: %s\n    args:\n", e.command)
			for _, a := range e.args {
				fmt.Fprintf(&b, "      - %s\n", jsonString(a))
			}
		}
		if len(e.env) > 0 {
			b.WriteString("    env:\n")
			for k, v := range e.env {
				fmt.Fprintf(&b, "      %s: %s\n", k, jsonString(v))
			}
		}
	}
	return b.String()
}

// fleetHome writes the fleet home under root and returns the scan options
// and the files it wrote.
func fleetHome(tb testing.TB, root string) (Options, []string) {
	tb.Helper()
	home := filepath.Join(root, "home")
	env := Env{OS: runtime.GOOS, Home: home, SystemRoot: filepath.Join(root, "system")}
	var files []string
	fileNo := 0
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
		files = append(files, path)
		fileNo++
	}
	// userPath is the first plain (non-glob) user file of client in shape.
	userPath := func(client string, sh shape) string {
		for _, s := range userSources(env) {
			if s.client == client && s.shape == sh && s.scope == ScopeUser && !s.glob && len(s.walk) == 0 {
				return s.path
			}
		}
		tb.Fatalf("no user file for %s shape %d", client, sh)
		return ""
	}
	mcpServers := func() string { return "{\n  \"mcpServers\": " + jsonServers(fleetEntries(fileNo), false) + "\n}\n" }

	projects := make([]string, fleetProjects)
	for i := range projects {
		projects[i] = filepath.Join(home, "src", fmt.Sprintf("project-%03d", i))
	}
	var remembered []string
	for _, p := range projects {
		remembered = append(remembered, fmt.Sprintf("    %s: {\"mcpServers\": {}, \"allowedTools\": [], \"hasTrustDialogAccepted\": true}", jsonString(p)))
	}
	write(filepath.Join(home, ".claude.json"), "{\n  \"numStartups\": 300,\n  \"mcpServers\": "+jsonServers(fleetEntries(fileNo), false)+
		",\n  \"projects\": {\n"+strings.Join(remembered, ",\n")+"\n  }\n}\n")
	write(userPath(ClientCursor, shapeMCPServers), mcpServers())
	write(userPath(ClientClaudeDesktop, shapeMCPServers), mcpServers())
	write(userPath(ClientVSCode, shapeVSCodeMCP), "// user servers\n{\n  \"servers\": "+jsonServers(fleetEntries(fileNo), false)+",\n}\n")
	write(userPath(ClientVSCode, shapeVSCodeSettings), "{\n  \"editor.fontSize\": 13,\n  \"mcp\": {\"servers\": "+jsonServers(fleetEntries(fileNo), false)+"}\n}\n")
	write(userPath(ClientWindsurf, shapeMCPServers), mcpServers())
	write(userPath(ClientCline, shapeMCPServers), mcpServers())
	write(userPath(ClientZed, shapeZed), "// Zed\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": "+jsonServers(fleetEntries(fileNo), false)+"\n}\n")
	write(userPath(ClientGeminiCLI, shapeMCPServers), mcpServers())
	write(userPath(ClientCodex, shapeCodex), tomlServers(fleetEntries(fileNo)))
	write(userPath(ClientContinue, shapeContinue), yamlServers(fleetEntries(fileNo)))
	write(filepath.Join(filepath.Dir(userPath(ClientContinue, shapeContinue)), "mcpServers", "fleet.yaml"), yamlServers(fleetEntries(fileNo)))
	write(userPath(ClientOpencode, shapeOpencode), "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"mcp\": "+jsonServers(fleetEntries(fileNo), true)+"\n}\n")
	write(userPath(ClientKiro, shapeMCPServers), mcpServers())
	write(filepath.Join(filepath.Dir(filepath.Dir(userPath(ClientKiro, shapeMCPServers))), "agents", "fleet.json"), mcpServers())
	write(userPath(ClientCopilotCLI, shapeMCPServers), mcpServers())
	if fileNo != fleetUserFiles {
		tb.Fatalf("wrote %d user files, want %d", fileNo, fleetUserFiles)
	}
	for _, p := range projects {
		write(filepath.Join(p, ".mcp.json"), mcpServers())
		write(filepath.Join(p, ".vscode", "mcp.json"), "{\n  \"servers\": "+jsonServers(fleetEntries(fileNo), false)+"\n}\n")
		write(filepath.Join(p, ".cursor", "mcp.json"), mcpServers())
		write(filepath.Join(p, ".codex", "config.toml"), tomlServers(fleetEntries(fileNo)))
	}
	if len(files) != fleetFiles {
		tb.Fatalf("wrote %d files, want %d", len(files), fleetFiles)
	}
	return Options{
		Env:  env,
		Host: Host{Name: "bench", OS: runtime.GOOS, Home: home},
		Now:  func() time.Time { return time.Unix(0, 0) },
	}, files
}

// checkFleetHome scans the fleet home once and checks it yields what it was
// built to hold.
func checkFleetHome(tb testing.TB, opts Options) {
	tb.Helper()
	rep, err := Scan(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	if len(rep.Errors) != 0 {
		tb.Fatalf("fleet home: %d errors, first %+v", len(rep.Errors), rep.Errors[0])
	}
	if len(rep.Servers) != fleetServers || rep.Host.Files != fleetFiles {
		tb.Fatalf("fleet home: %d servers in %d files, want %d in %d", len(rep.Servers), rep.Host.Files, fleetServers, fleetFiles)
	}
	if len(rep.Host.Projects) != fleetProjects {
		tb.Fatalf("fleet home: %d projects, want %d", len(rep.Host.Projects), fleetProjects)
	}
}

func TestFleetHomeFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000 files")
	}
	opts, _ := fleetHome(t, t.TempDir())
	checkFleetHome(t, opts)
}

func BenchmarkScanFleetHome(b *testing.B) {
	opts, _ := fleetHome(b, b.TempDir())
	checkFleetHome(b, opts)
	ctx := context.Background()
	var servers int
	for b.Loop() {
		rep, err := Scan(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		servers = len(rep.Servers)
	}
	b.ReportMetric(float64(servers), "servers/op")
	b.ReportMetric(float64(fleetFiles), "files/op")
}

// BenchmarkReadFilesOnly is the baseline: reading the same 1,000 files with
// os.ReadFile and nothing else.
func BenchmarkReadFilesOnly(b *testing.B) {
	_, files := fleetHome(b, b.TempDir())
	var n int
	for b.Loop() {
		n = 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			n += len(data)
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
	b.ReportMetric(float64(n), "bytes/op")
}

func benchParse(b *testing.B, text string, f format) {
	data := []byte(text)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t, err := decodeText(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parse(t, f); err != nil {
			b.Fatal(err)
		}
	}
}

// The parse benchmarks read one realistic file of each format: a JSONC VS
// Code mcp.json, a Codex config.toml and a Continue config.yaml, ten
// servers each.
func BenchmarkParseJSON(b *testing.B) {
	benchParse(b, "// user servers\n{\n  \"servers\": "+jsonServers(fleetEntries(0), false)+",\n}\n", formatJSON)
}

func BenchmarkParseTOML(b *testing.B) { benchParse(b, tomlServers(fleetEntries(0)), formatTOML) }

func BenchmarkParseYAML(b *testing.B) { benchParse(b, yamlServers(fleetEntries(0)), formatYAML) }
