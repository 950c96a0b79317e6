package wrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/scan"
)

const shimPath = "/usr/local/bin/mcpgov"

// fixtures are client configs in the layouts clients write, keyed by path
// relative to the fake home.
var fixtures = map[string]string{
	// Cursor: 2-space indent, LF, no args on one entry, ${…} placeholders.
	".cursor/mcp.json": `{
  "mcpServers": {
    "fs": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.1.1", "${userHome}/docs"]
    },
    "bare": {
      "command": "/opt/bin/server&co"
    },
    "remote": { "url": "https://mcp.example.com/mcp" },
    "bridged": { "command": "npx", "args": ["-y", "mcp-remote", "https://x.example.com/sse"] }
  }
}
`,
	// Claude Code: user and local (projects[…]) scopes, strict JSON, 2 spaces.
	".claude.json": `{
  "numStartups": 3,
  "mcpServers": {
    "everything": {
      "type": "stdio",
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-everything"
      ],
      "env": {}
    }
  },
  "projects": {
    "/home/u/proj": {
      "mcpServers": {
        "local-one": {"type": "stdio", "command": "uvx", "args": [], "env": {}}
      }
    }
  }
}`,
	// VS Code: JSONC with comments and trailing commas, CRLF and a BOM, tabs.
	".config/Code/User/mcp.json": "\xEF\xBB\xBF{\r\n\t// my servers\r\n\t\"servers\": {\r\n\t\t\"gh\": {\r\n\t\t\t\"type\": \"stdio\", // local\r\n\t\t\t\"command\": \"docker\",\r\n\t\t\t\"args\": [\"run\", \"-i\", \"--rm\", \"ghcr.io/github/github-mcp-server:v1\"], /* pinned */\r\n\t\t\t\"env\": {\"TOKEN\": \"${input:token}\"},\r\n\t\t},\r\n\t\t\"noargs\": {\r\n\t\t\t\"command\": \"my-server\",\r\n\t\t},\r\n\t},\r\n\t\"inputs\": [],\r\n}\r\n",
	// Windsurf: 4-space indent.
	".codeium/windsurf/mcp_config.json": "{\n    \"mcpServers\": {\n        \"w\": {\n            \"command\": \"node\",\n            \"args\": [\"server.js\"],\n            \"disabled\": true\n        }\n    }\n}\n",
	// Gemini CLI: minified.
	".gemini/settings.json": `{"theme":"x","mcpServers":{"g":{"command":"python","args":["-m","srv"]},"h":{"command":"srv2"}}}`,
	// Kiro: only change is one entry; no trailing newline.
	".kiro/settings/mcp.json": "{\n  \"mcpServers\": {\n    \"k\": {\n      \"command\": \"uvx\",\n      \"args\": [\"awslabs.core-mcp-server@1.0.0\"]\n    }\n  }\n}",
	// Zed: context_servers with required args, JSONC.
	".config/zed/settings.json": "// Zed settings\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": {\n    \"z\": {\n      \"command\": \"npx\",\n      \"args\": [],\n      \"env\": {},\n    },\n  },\n}\n",
	// opencode: argv in one array.
	".config/opencode/opencode.json": "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"mcp\": {\n    \"oc\": {\n      \"type\": \"local\",\n      \"command\": [\"npx\", \"-y\", \"pkg@1\"],\n      \"enabled\": true\n    },\n    \"ocr\": {\"type\": \"remote\", \"url\": \"https://r.example.com/mcp\"}\n  }\n}\n",
	// Codex: TOML with comments, an entry without args.
	".codex/config.toml": "model = \"o3\"\n\n# servers\n[mcp_servers.docs]\ncommand = \"npx\" # runner\nargs = [\n  \"-y\",\n  \"docs-mcp\",\n]\n\n[mcp_servers.plain]\ncommand = 'C:\\bin\\srv.exe'\nenv = { A = \"1\" }\n",
	// Continue: YAML, not supported yet.
	".continue/config.yaml": "name: my config\nmcpServers:\n  - name: cont\n    command: npx\n    args: [\"-y\", \"c\"]\n  - name: block\n    command: \"uvx\"   # python\n    args:\n      - mcp-server-time\n      - --local-timezone=UTC\n  - name: noargs\n    command: my-server\n  - name: remote\n    type: sse\n    url: https://r.example.com/sse\n  - name: hosted\n    type: streamable-http # http\n    url: https://h.example.com/mcp\nmodels: []\n",
}

func writeFixtures(t *testing.T, home string) {
	t.Helper()
	for rel, text := range fixtures {
		p := filepath.Join(home, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func scanHome(t *testing.T, home string) []scan.Server {
	t.Helper()
	rep, err := scan.Scan(context.Background(), scan.Options{
		Env:     scan.Env{OS: runtime.GOOS, Home: home, Getenv: func(string) string { return "" }, SystemRoot: filepath.Join(home, "sys")},
		WorkDir: filepath.Join(home, "work"),
		Paths:   []string{filepath.Join(home, "work")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Errors {
		if !strings.Contains(e.Message, "no such file") {
			t.Logf("scan error: %+v", e)
		}
	}
	return rep.Servers
}

func snapshot(t *testing.T, home string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for rel := range fixtures {
		b, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = b
	}
	return out
}

func opts(t *testing.T, state string) Options {
	return Options{
		MCPGovPath: shimPath, StateDir: state, Version: "test",
		Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	}
}

func setup(t *testing.T) (home, state string) {
	t.Helper()
	dir := t.TempDir()
	home, state = filepath.Join(dir, "home"), filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(home, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFixtures(t, home)
	return home, state
}

func actions(out *Outcome) map[string]Action {
	m := map[string]Action{}
	for _, r := range out.Results {
		m[r.Client+"/"+r.Server] = r.Action
	}
	return m
}

func reasons(out *Outcome) map[string]string {
	m := map[string]string{}
	for _, r := range out.Results {
		m[r.Client+"/"+r.Server] = r.Reason
	}
	return m
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	home, state := setup(t)
	orig := snapshot(t, home)
	ctx := context.Background()

	out, err := Wrap(ctx, scanHome(t, home), opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	got := actions(out)
	want := map[string]Action{
		"cursor/fs": ActionWrapped, "cursor/bare": ActionWrapped, "cursor/remote": ActionSkippedRemote,
		"cursor/bridged":         ActionSkippedOtherGovernor,
		"claude-code/everything": ActionWrapped, "claude-code/local-one": ActionWrapped,
		"vscode/gh": ActionWrapped, "vscode/noargs": ActionWrapped,
		"windsurf/w": ActionWrapped, "gemini-cli/g": ActionWrapped, "gemini-cli/h": ActionWrapped,
		"kiro/k": ActionWrapped, "zed/z": ActionWrapped, "opencode/oc": ActionWrapped,
		"opencode/ocr": ActionSkippedRemote, "codex/docs": ActionWrapped, "codex/plain": ActionWrapped,
		"continue/cont": ActionWrapped, "continue/block": ActionWrapped, "continue/noargs": ActionWrapped,
		"continue/remote": ActionSkippedRemote,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: action %q, want %q (all: %v)", k, got[k], w, out.Results)
		}
	}
	wrapped := snapshot(t, home)
	if os.Getenv("WRAP_DUMP") != "" {
		for rel, b := range wrapped {
			t.Logf("== %s\n%s", rel, b)
		}
	}
	for rel, b := range wrapped {
		if bytes.Equal(b, orig[rel]) {
			t.Errorf("%s: not changed by wrap", rel)
		}
		if !bytes.Contains(b, []byte(shimPath)) {
			t.Errorf("%s: no shim path:\n%s", rel, b)
		}
		if strings.HasSuffix(rel, ".json") && json.Valid(bytes.TrimPrefix(orig[rel], utf8BOM)) && !json.Valid(b) {
			t.Errorf("%s: strict JSON became invalid:\n%s", rel, b)
		}
		if bytes.HasPrefix(orig[rel], utf8BOM) != bytes.HasPrefix(b, utf8BOM) {
			t.Errorf("%s: BOM not kept", rel)
		}
		if bytes.Count(orig[rel], []byte("\r\n")) > 0 && bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
			t.Errorf("%s: mixed line endings after wrap:\n%q", rel, b)
		}
		info, _ := os.Stat(filepath.Join(home, rel))
		if info.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", rel, info.Mode().Perm())
		}
	}

	// The wrapped entries scan as governed, launching the original.
	for _, s := range scanHome(t, home) {
		if want[s.Client+"/"+s.Name] == ActionWrapped && !s.Governed {
			t.Errorf("%s/%s not governed after wrap: %s %v", s.Client, s.Name, s.Command, s.Args)
		}
	}

	// Wrapping again changes nothing.
	out2, err := Wrap(ctx, scanHome(t, home), opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	if len(out2.Changes) != 0 {
		t.Errorf("second wrap changed %d files", len(out2.Changes))
	}
	for k, a := range actions(out2) {
		if want[k] == ActionWrapped && a != ActionAlreadyGoverned {
			t.Errorf("second wrap: %s: %s", k, a)
		}
	}
	if !mapsEqual(wrapped, snapshot(t, home)) {
		t.Error("second wrap changed bytes")
	}

	// Unwrap restores every file byte for byte.
	if _, err := Unwrap(ctx, governed(scanHome(t, home)), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	for rel, b := range snapshot(t, home) {
		if !bytes.Equal(b, orig[rel]) {
			t.Errorf("%s: not restored byte for byte:\n got %q\nwant %q", rel, b, orig[rel])
		}
	}
	m, err := LoadManifest(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 0 {
		t.Errorf("manifest keeps %d entries after unwrap", len(m.Entries))
	}
}

func governed(ss []scan.Server) []scan.Server {
	var out []scan.Server
	for _, s := range ss {
		if s.Governed {
			out = append(out, s)
		}
	}
	return out
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestSymlinkWrittenThrough(t *testing.T) {
	home, state := setup(t)
	real := filepath.Join(home, "dotfiles", "cursor-mcp.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(home, ".cursor", "mcp.json")
	if err := os.Rename(link, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	orig, _ := os.ReadFile(real)
	ss := only(scanHome(t, home), "cursor")
	if _, err := Wrap(context.Background(), ss, opts(t, state)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("symlink replaced: %v", err)
	}
	b, _ := os.ReadFile(real)
	if !bytes.Contains(b, []byte(shimPath)) {
		t.Fatalf("link target not wrapped:\n%s", b)
	}
	m, _ := LoadManifest(state)
	if len(m.Entries) == 0 || m.Entries[0].File != real || m.Entries[0].Config != link {
		t.Errorf("manifest file/config = %+v", m.Entries)
	}
	if _, err := Unwrap(context.Background(), governed(only(scanHome(t, home), "cursor")), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(real); !bytes.Equal(b, orig) {
		t.Errorf("not restored:\n%s", b)
	}
}

func only(ss []scan.Server, client string) []scan.Server {
	var out []scan.Server
	for _, s := range ss {
		if s.Client == client {
			out = append(out, s)
		}
	}
	return out
}

func TestManifestRecordsOriginals(t *testing.T) {
	home, state := setup(t)
	if _, err := Wrap(context.Background(), only(scanHome(t, home), "cursor"), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 {
		t.Fatalf("manifest has %d entries, want 2: %+v", len(m.Entries), m.Entries)
	}
	r := m.Entries[0]
	file, _ := filepath.EvalSymlinks(filepath.Join(home, ".cursor", "mcp.json"))
	if r.File != file || r.Pointer != "/mcpServers/fs" || r.Command != "npx" ||
		strings.Join(r.Args, " ") != "-y @modelcontextprotocol/server-filesystem@2025.1.1 ${userHome}/docs" ||
		r.Version != "test" || r.MCPGovPath != shimPath || !r.Time.Equal(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("record = %+v", r)
	}
	orig := []byte(fixtures[".cursor/mcp.json"])
	now, _ := os.ReadFile(file)
	if r.HashBefore != sum(orig) || r.HashAfter != sum(now) {
		t.Errorf("hashes before/after do not match the file")
	}
	backup, err := os.ReadFile(r.Backup)
	if err != nil || !bytes.Equal(backup, orig) {
		t.Errorf("backup %s does not hold the original: %v", r.Backup, err)
	}
	if m.Entries[1].Pointer != "/mcpServers/bare" || m.Entries[1].Args == nil {
		t.Errorf("second record = %+v", m.Entries[1])
	}
}

func TestOnlyTouchedBytesChange(t *testing.T) {
	home, state := setup(t)
	rel := ".kiro/settings/mcp.json"
	before := []byte(fixtures[rel])
	if _, err := Wrap(context.Background(), only(scanHome(t, home), "kiro"), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(home, rel))
	// Common prefix and suffix cover everything outside the command and args values.
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	// Only the command value changes and an args member is inserted after it.
	changed := string(before[p : len(before)-s])
	want := `uvx",` + "\n" + `      "args": [`
	if changed != want {
		t.Errorf("changed original bytes = %q, want %q", changed, want)
	}
}

func TestBrokenFileRefused(t *testing.T) {
	home, state := setup(t)
	ss := only(scanHome(t, home), "cursor")
	p := filepath.Join(home, ".cursor", "mcp.json")
	broken := []byte("{\n  \"mcpServers\": {\n    \"fs\": {\"command\": \"npx\",,}\n}\n")
	if err := os.WriteFile(p, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Wrap(context.Background(), ss, opts(t, state))
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want one naming the file and line 3", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, broken) {
		t.Error("broken file was changed")
	}
}

func TestConcurrentWriterRetried(t *testing.T) {
	home, state := setup(t)
	p := filepath.Join(home, ".cursor", "mcp.json")
	o := opts(t, state)
	n := 0
	o.beforeCommit = func(string) {
		n++
		if n == 1 { // a client rewrites the file once, keeping the entries
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte("{\n"), []byte("{\n  \"theme\": \"dark\",\n"), 1)
			_ = os.WriteFile(p, b, 0o640)
		}
	}
	if _, err := Wrap(context.Background(), only(scanHome(t, home), "cursor"), o); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if n != 2 || !bytes.Contains(b, []byte(`"theme": "dark"`)) || bytes.Count(b, []byte(shimPath)) != 2 {
		t.Fatalf("attempts %d; file:\n%s", n, b)
	}
}

func TestConcurrentWriterAbort(t *testing.T) {
	home, state := setup(t)
	p := filepath.Join(home, ".cursor", "mcp.json")
	o := opts(t, state)
	n := 0
	var last []byte
	o.beforeCommit = func(string) { // a client that never stops writing
		n++
		b, _ := os.ReadFile(p)
		last = append(b, ' ')
		_ = os.WriteFile(p, last, 0o640)
	}
	_, err := Wrap(context.Background(), only(scanHome(t, home), "cursor"), o)
	var ce *ChangedError
	if !errorsAs(err, &ce) {
		t.Fatalf("err = %v, want ChangedError", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, last) || n != maxAttempts {
		t.Errorf("client's write clobbered (attempts %d)", n)
	}
}

func TestUnwrapWithoutManifest(t *testing.T) {
	home, state := setup(t)
	orig := snapshot(t, home)
	if _, err := Wrap(context.Background(), scanHome(t, home), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	out, err := Unwrap(context.Background(), governed(scanHome(t, home)), opts(t, filepath.Join(t.TempDir(), "empty")))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Results {
		if r.Action != ActionUnwrapped {
			t.Errorf("%s/%s: %s %s", r.Client, r.Server, r.Action, r.Reason)
		}
	}
	// Semantically restored: the scan sees the original launches again.
	for _, s := range scanHome(t, home) {
		if s.Governed {
			t.Errorf("%s/%s still governed", s.Client, s.Name)
		}
	}
	// Entries that had args come back byte for byte.
	for _, rel := range []string{".codeium/windsurf/mcp_config.json", ".kiro/settings/mcp.json", ".config/opencode/opencode.json"} {
		if b, _ := os.ReadFile(filepath.Join(home, rel)); !bytes.Equal(b, orig[rel]) {
			t.Errorf("%s:\n%s", rel, b)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	home, state := setup(t)
	orig := snapshot(t, home)
	o := opts(t, state)
	o.DryRun = true
	out, err := Wrap(context.Background(), scanHome(t, home), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Changes) != 10 {
		t.Errorf("dry run reports %d changed files, want 10", len(out.Changes))
	}
	if !mapsEqual(orig, snapshot(t, home)) {
		t.Error("dry run wrote")
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("dry run created the state dir")
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestRemoteWrap(t *testing.T) {
	home, state := setup(t)
	extra := map[string]string{
		// Codex: a Streamable HTTP entry with an indented url line and a
		// comment; one whose token comes from Codex's own env keeps it
		// there (the shim reads the variable Codex passes on).
		".codex/config.toml":                        "model = \"o3\"\n\n[mcp_servers.linear]\n  url = \"https://mcp.linear.app/mcp\"  # hosted\n  startup_timeout_sec = 20\n\n[mcp_servers.tokened]\nurl = \"https://t.example.com/mcp\"\nbearer_token_env_var = \"T_TOKEN\"\n",
		".config/Claude/claude_desktop_config.json": "{\n  \"mcpServers\": {\n    \"api\": {\n      \"type\": \"http\",\n      \"url\": \"https://mcp.example.com/mcp?k=${KEY}\"\n    },\n    \"hdr\": {\"type\": \"http\", \"url\": \"https://h.example.com/mcp\", \"headers\": {\"A\": \"b\"}},\n    \"sse\": {\"url\": \"https://s.example.com/sse\"}\n  }\n}\n",
	}
	for rel, text := range extra {
		p := filepath.Join(home, filepath.FromSlash(rel))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	orig := snapshot(t, home)
	o := opts(t, state)
	o.Remote = true
	ss := scanHome(t, home)
	out, err := Wrap(context.Background(), ss, o)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(out)
	for k, w := range map[string]Action{
		"cursor/remote": ActionWrapped, "opencode/ocr": ActionWrapped,
		"claude-desktop/api": ActionWrapped, "claude-desktop/hdr": ActionSkippedRemote, "claude-desktop/sse": ActionSkippedRemote,
		"codex/linear": ActionWrapped, "codex/tokened": ActionWrapped,
	} {
		if got[k] != w {
			t.Errorf("%s: %s, want %s (%s)", k, got[k], w, reasons(out)[k])
		}
	}
	cd := filepath.Join(home, ".config/Claude/claude_desktop_config.json")
	b, _ := os.ReadFile(cd)
	want := "    \"api\": {\n      \"type\": \"stdio\",\n      \"command\": \"/usr/local/bin/mcpgov\",\n      \"args\": [\"shim\", \"--url\", \"https://mcp.example.com/mcp?k=${KEY}\"]\n    },"
	if !bytes.Contains(b, []byte(want)) || !json.Valid(b) {
		t.Errorf("claude desktop:\n%s", b)
	}
	cx, _ := os.ReadFile(filepath.Join(home, ".codex/config.toml"))
	if !bytes.Contains(cx, []byte("[mcp_servers.linear]\n  command = \"/usr/local/bin/mcpgov\"\n  args = [\"shim\", \"--url\", \"https://mcp.linear.app/mcp\"]  # hosted\n  startup_timeout_sec = 20\n")) {
		t.Errorf("codex:\n%s", cx)
	}
	if !bytes.HasSuffix(cx, []byte("[mcp_servers.tokened]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--secret-bearer\", \"env:T_TOKEN\", \"--secret-origin\", \"https://t.example.com:443\", \"--url\", \"https://t.example.com/mcp\"]\nenv_vars = [\"T_TOKEN\"]\n")) {
		t.Errorf("codex, bearer_token_env_var:\n%s", cx)
	}
	oc, _ := os.ReadFile(filepath.Join(home, ".config/opencode/opencode.json"))
	if !bytes.Contains(oc, []byte(`"ocr": {"type": "local", "command": ["/usr/local/bin/mcpgov", "shim", "--url", "https://r.example.com/mcp"]}`)) {
		t.Errorf("opencode:\n%s", oc)
	}
	for _, s := range scanHome(t, home) {
		if s.Client != "continue" && (s.Name == "api" || s.Name == "ocr" || s.Name == "remote" || s.Name == "linear") && (!s.Governed || s.Transport != scan.TransportStdio) {
			t.Errorf("%s/%s after remote wrap: governed %v transport %s", s.Client, s.Name, s.Governed, s.Transport)
		}
	}
	if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), o); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(cd)
	if string(b) != extra[".config/Claude/claude_desktop_config.json"] {
		t.Errorf("claude desktop not restored:\n%s", b)
	}
	for rel, b := range snapshot(t, home) {
		if !bytes.Equal(b, orig[rel]) {
			t.Errorf("%s not restored:\n%s", rel, b)
		}
	}
}

func TestConcurrentWraps(t *testing.T) {
	home, state := setup(t)
	ss := scanHome(t, home)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := Wrap(context.Background(), ss, opts(t, state))
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	m, err := LoadManifest(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 17 {
		t.Errorf("manifest has %d entries, want 17 (one per wrapped entry)", len(m.Entries))
	}
	if _, err := os.Stat(filepath.Join(state, "lock")); err == nil {
		t.Error("lock left behind")
	}
}

// A minified ~/.claude.json puts the user and the local entry of one name on
// the same line; each must be wrapped once, in its own place.
func TestMinifiedSameNameOneLine(t *testing.T) {
	dir := t.TempDir()
	home, state := filepath.Join(dir, "home"), filepath.Join(dir, "state")
	_ = os.MkdirAll(filepath.Join(home, "work"), 0o755)
	orig := `{"projects":{"/p":{"mcpServers":{"a":{"command":"local-a"}}}},"mcpServers":{"a":{"command":"user-a"}}}`
	p := filepath.Join(home, ".claude.json")
	if err := os.WriteFile(p, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	ss := only(scanHome(t, home), "claude-code")
	if len(ss) != 2 {
		t.Fatalf("scan found %d servers", len(ss))
	}
	out, err := Wrap(context.Background(), ss, opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := `{"projects":{"/p":{"mcpServers":{"a":{"command":"/usr/local/bin/mcpgov","args":["shim","--","local-a"]}}}},"mcpServers":{"a":{"command":"/usr/local/bin/mcpgov","args":["shim","--","user-a"]}}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s\n%+v", b, want, out.Results)
	}
	if _, err := Unwrap(context.Background(), governed(only(scanHome(t, home), "claude-code")), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Errorf("not restored: %s", b)
	}
}

// TestDesktopConnectorSkipped: a Claude Desktop connector found in a
// session log is skipped by wrap --remote (and --gateway) with the reason,
// not reported as an entry not found, and its log is left as it was.
func TestDesktopConnectorSkipped(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "Claude", "claude-code-sessions", "u1", "org-a", "local_1.json")
	const text = `{"lastActivityAt": 1, "remoteMcpServersConfig": [{"uuid": "c-1", "url": "https://linear.example.com/mcp", "name": "Linear"}]}`
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, log, text)
	conn := scan.Server{Client: scan.ClientClaudeDesktop, Scope: scan.ScopeUser, File: log, Line: 1, Name: "Linear",
		Transport: scan.TransportHTTP, URL: "https://linear.example.com/mcp"}
	if !scan.IsDesktopConnector(conn) {
		t.Fatal("IsDesktopConnector: false for a session log's connector")
	}
	if cfg := (scan.Server{Client: scan.ClientClaudeDesktop, File: filepath.Join(dir, "Claude", "claude_desktop_config.json")}); scan.IsDesktopConnector(cfg) {
		t.Error("IsDesktopConnector: true for claude_desktop_config.json")
	}
	o := opts(t, filepath.Join(dir, "state"))
	o.Remote = true
	o.Gateway = func(scan.Server) string { return "https://gw.example.com/servers/linear/mcp" }
	out, err := Wrap(context.Background(), []scan.Server{conn}, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionSkippedRemote || r.Reason != reasonDesktopConnector {
		t.Errorf("wrap: %s %q", r.Action, r.Reason)
	}
	out, err = Unwrap(context.Background(), []scan.Server{conn}, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionNotWrapped || r.Reason != reasonDesktopConnector {
		t.Errorf("unwrap: %s %q", r.Action, r.Reason)
	}
	if got := readFile(t, log); got != text {
		t.Errorf("the session log changed:\n%s", got)
	}
}
