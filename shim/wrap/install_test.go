package wrap

import (
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

func installOpts(t *testing.T) InstallOptions {
	t.Helper()
	return InstallOptions{Options: Options{
		MCPGovPath: shimPath, StateDir: filepath.Join(t.TempDir(), "state"), Version: "test",
		Now: func() time.Time { return time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC) },
	}}
}

func everything(client, file string, layout scan.Layout) InstallEntry {
	return InstallEntry{Client: client, Scope: "user", File: file, Layout: layout, Name: "everything", CatalogID: "everything",
		Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything@2026.1.1"},
		Env: []EnvVar{{"TOKEN", "${TOKEN}"}}}
}

// TestInstallLayouts: the new entry follows each file's layout; only new
// bytes appear; Uninstall gives the original file back byte for byte.
func TestInstallLayouts(t *testing.T) {
	const launch = `"command": "/usr/local/bin/mcpgov",`
	cases := []struct {
		name, client, file string
		layout             scan.Layout
		before, want       string
	}{
		{"two spaces", scan.ClientCursor, "mcp.json", scan.LayoutMCPServers,
			"{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" }\n  }\n}\n",
			"{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" },\n    \"everything\": {\n      " + launch + "\n      \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n      \"env\": {\n        \"TOKEN\": \"${TOKEN}\"\n      }\n    }\n  }\n}\n"},
		{"jsonc crlf bom tabs trailing comma comment", scan.ClientCursor, "mcp.json", scan.LayoutMCPServers,
			"\xEF\xBB\xBF{\r\n\t\"mcpServers\": {\r\n\t\t\"a\": {\"command\": \"x\"}, // first\r\n\t},\r\n}\r\n",
			"\xEF\xBB\xBF{\r\n\t\"mcpServers\": {\r\n\t\t\"a\": {\"command\": \"x\"}, // first\r\n\t\t\"everything\": {\r\n\t\t\t" + launch + "\r\n\t\t\t\"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\r\n\t\t\t\"env\": {\r\n\t\t\t\t\"TOKEN\": \"${TOKEN}\"\r\n\t\t\t}\r\n\t\t},\r\n\t},\r\n}\r\n"},
		{"comment after last member", scan.ClientCursor, "mcp.json", scan.LayoutMCPServers,
			"{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"} // keep me\n  }\n}\n",
			"{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}, // keep me\n    \"everything\": {\n      " + launch + "\n      \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n      \"env\": {\n        \"TOKEN\": \"${TOKEN}\"\n      }\n    }\n  }\n}\n"},
		{"minified", scan.ClientGeminiCLI, "settings.json", scan.LayoutMCPServers,
			`{"theme":"x","mcpServers":{"g":{"command":"python"}}}`,
			`{"theme":"x","mcpServers":{"g":{"command":"python"},"everything":{"command":"/usr/local/bin/mcpgov","args":["shim","--server","everything","--","npx","-y","@modelcontextprotocol/server-everything@2026.1.1"],"env":{"TOKEN":"${TOKEN}"}}}}`},
		{"no container", scan.ClientWindsurf, "mcp_config.json", scan.LayoutMCPServers,
			"{\n    \"other\": 1\n}\n",
			"{\n    \"other\": 1,\n    \"mcpServers\": {\n        \"everything\": {\n            " + launch + "\n            \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n            \"env\": {\n                \"TOKEN\": \"${TOKEN}\"\n            }\n        }\n    }\n}\n"},
		{"empty container", scan.ClientKiro, "mcp.json", scan.LayoutMCPServers,
			"{\n  \"mcpServers\": {}\n}",
			"{\n  \"mcpServers\": {\n    \"everything\": {\n      " + launch + "\n      \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n      \"env\": {\n        \"TOKEN\": \"${TOKEN}\"\n      }\n    }\n  }\n}"},
		{"opencode argv", scan.ClientOpencode, "opencode.json", scan.LayoutOpencode,
			"{\n  \"mcp\": {}\n}\n",
			"{\n  \"mcp\": {\n    \"everything\": {\n      \"type\": \"local\",\n      \"command\": [\"/usr/local/bin/mcpgov\", \"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n      \"environment\": {\n        \"TOKEN\": \"${TOKEN}\"\n      },\n      \"enabled\": true\n    }\n  }\n}\n"},
		{"codex toml", scan.ClientCodex, "config.toml", scan.LayoutCodex,
			"model = \"o3\" # pick\n\n[mcp_servers.docs]\ncommand = \"npx\"\n",
			"model = \"o3\" # pick\n\n[mcp_servers.docs]\ncommand = \"npx\"\n\n[mcp_servers.everything]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"]\nenv = { TOKEN = \"${TOKEN}\" }\n"},
		{"continue yaml", scan.ClientContinue, "config.yaml", scan.LayoutContinue,
			"name: cfg\nmcpServers:\n  - name: a\n    command: x\n\n# models\nmodels: []\n",
			"name: cfg\nmcpServers:\n  - name: a\n    command: x\n  - name: \"everything\"\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"]\n    env:\n      \"TOKEN\": \"${TOKEN}\"\n\n# models\nmodels: []\n"},
		{"continue yaml without servers", scan.ClientContinue, "config.yaml", scan.LayoutContinue,
			"name: cfg\nmodels: []",
			"name: cfg\nmodels: []\nmcpServers:\n  - name: \"everything\"\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"]\n    env:\n      \"TOKEN\": \"${TOKEN}\"\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.before), 0o640); err != nil {
				t.Fatal(err)
			}
			o := installOpts(t)
			e := everything(c.client, path, c.layout)
			res, ch, err := Install(context.Background(), e, o)
			if err != nil {
				t.Fatal(err)
			}
			got := readFile(t, path)
			if got != c.want {
				t.Errorf("installed:\n%s\nwant:\n%s", got, c.want)
			}
			if res.Action != ActionInstalled || ch == nil || res.Line == 0 {
				t.Errorf("result %+v", res)
			}
			if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", fi.Mode().Perm())
			}
			// Installing again changes nothing.
			res, ch, err = Install(context.Background(), e, o)
			if err != nil || res.Action != ActionAlreadyInstalled || ch != nil {
				t.Errorf("second install: %+v %v", res, err)
			}
			// The file still scans as a governed entry of the catalog id.
			results, _, err := Uninstall(context.Background(), func(InstallRecord) bool { return true }, o.Options)
			if err != nil || len(results) != 1 || results[0].Action != ActionUninstalled {
				t.Fatalf("uninstall: %+v %v", results, err)
			}
			if got := readFile(t, path); got != c.before {
				t.Errorf("after uninstall:\n%q\nwant:\n%q", got, c.before)
			}
		})
	}
}

// TestInstallAgreesWithWrap: the entry install writes is the one wrap makes
// of a plain entry of the same catalog server.
func TestInstallAgreesWithWrap(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.json")
	writeFile(t, plain, `{"mcpServers": {"everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything@2026.1.1"], "env": {"TOKEN": "${TOKEN}"}}}}`)
	srv := scan.Server{Client: scan.ClientCursor, Scope: scan.ScopeUser, File: plain, Line: 1, Name: "everything", Transport: scan.TransportStdio,
		Command: "npx", Catalog: &scan.CatalogRef{ID: "everything", Status: "approved"}}
	o := installOpts(t)
	if _, err := Wrap(context.Background(), []scan.Server{srv}, o.Options); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(dir, "installed.json")
	writeFile(t, installed, `{"mcpServers": {}}`)
	if _, _, err := Install(context.Background(), everything(scan.ClientCursor, installed, scan.LayoutMCPServers), o); err != nil {
		t.Fatal(err)
	}
	if !sameJSON(readFile(t, plain), readFile(t, installed)) {
		t.Errorf("wrap and install disagree:\nwrap:    %s\ninstall: %s", readFile(t, plain), readFile(t, installed))
	}
	// And wrap sees the installed entry as governed already.
	srv.File = installed
	out, err := Wrap(context.Background(), []scan.Server{srv}, o.Options)
	if err != nil || out.Results[0].Action != ActionAlreadyGoverned {
		t.Errorf("wrap over an installed entry: %+v %v", out.Results, err)
	}
}

// TestInstallAgreesWithWrapRemote: a Streamable HTTP server installs as
// the stdio entry wrap --remote makes of a url entry.
func TestInstallAgreesWithWrapRemote(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.json")
	writeFile(t, plain, `{"mcpServers": {"remote": {"url": "https://mcp.example.com/mcp"}}}`)
	srv := scan.Server{Client: scan.ClientCursor, Scope: scan.ScopeUser, File: plain, Line: 1, Name: "remote", Transport: scan.TransportHTTP,
		URL: "https://mcp.example.com/mcp", Catalog: &scan.CatalogRef{ID: "remote", Status: "approved"}}
	o := installOpts(t)
	wo := o.Options
	wo.Remote = true
	if out, err := Wrap(context.Background(), []scan.Server{srv}, wo); err != nil || out.Results[0].Action != ActionWrapped {
		t.Fatalf("%+v %v", out, err)
	}
	installed := filepath.Join(dir, "installed.json")
	writeFile(t, installed, `{"mcpServers": {}}`)
	e := InstallEntry{Client: scan.ClientCursor, Scope: "user", File: installed, Layout: scan.LayoutMCPServers, Name: "remote", CatalogID: "remote", URL: "https://mcp.example.com/mcp"}
	if _, _, err := Install(context.Background(), e, o); err != nil {
		t.Fatal(err)
	}
	if !sameJSON(readFile(t, plain), readFile(t, installed)) {
		t.Errorf("wrap --remote and install disagree:\nwrap:    %s\ninstall: %s", readFile(t, plain), readFile(t, installed))
	}
}

// TestInstallCreatesFile: a missing config is created (private, in a new
// directory), and removed by Uninstall when nothing else was added.
func TestInstallCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", ".cursor", "mcp.json")
	o := installOpts(t)
	res, _, err := Install(context.Background(), everything(scan.ClientCursor, path, scan.LayoutMCPServers), o)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"mcpServers\": {\n    \"everything\": {\n      \"command\": \"/usr/local/bin/mcpgov\",\n      \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n      \"env\": {\n        \"TOKEN\": \"${TOKEN}\"\n      }\n    }\n  }\n}\n"
	if got := readFile(t, path); got != want || !res.Created || res.Line != 3 {
		t.Errorf("created (%+v):\n%s", res, got)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if _, _, err := Uninstall(context.Background(), func(InstallRecord) bool { return true }, o.Options); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the created file is still there: %v", err)
	}
}

// TestInstallExisting: a different entry of the same name is refused
// without Force, replaced with it, and restored by Uninstall.
func TestInstallExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcp.json")
	before := "{\n  \"mcpServers\": {\n    \"everything\": {\"command\": \"old\"},\n    \"b\": {\"command\": \"y\"}\n  }\n}\n"
	writeFile(t, path, before)
	o := installOpts(t)
	e := everything(scan.ClientCursor, path, scan.LayoutMCPServers)
	_, _, err := Install(context.Background(), e, o)
	var exists *ExistsError
	if !errors.As(err, &exists) || exists.Line != 3 {
		t.Fatalf("want ExistsError at line 3, got %v", err)
	}
	if readFile(t, path) != before {
		t.Fatal("a refused install changed the file")
	}
	o.Force = true
	res, _, err := Install(context.Background(), e, o)
	if err != nil || res.Action != ActionReplaced {
		t.Fatalf("forced: %+v %v", res, err)
	}
	if got := readFile(t, path); !strings.Contains(got, "\"everything\": {\n      \"command\": \"/usr/local/bin/mcpgov\"") || !strings.Contains(got, "\"b\": {\"command\": \"y\"}") {
		t.Errorf("replaced:\n%s", got)
	}
	if _, _, err := Uninstall(context.Background(), func(InstallRecord) bool { return true }, o.Options); err != nil {
		t.Fatal(err)
	}
	if readFile(t, path) != before {
		t.Errorf("uninstall did not restore the replaced entry:\n%s", readFile(t, path))
	}
}

// TestInstallClaudeLocalAndInputs: Claude Code's local scope goes under
// projects[…]; VS Code gets its inputs declared once.
func TestInstallClaudeLocalAndInputs(t *testing.T) {
	dir := t.TempDir()
	claude := filepath.Join(dir, ".claude.json")
	writeFile(t, claude, "{\n  \"numStartups\": 1,\n  \"projects\": {\n    \"/p\": {\n      \"allowedTools\": []\n    }\n  }\n}")
	o := installOpts(t)
	e := everything(scan.ClientClaudeCode, claude, scan.LayoutClaudeLocal)
	e.Scope, e.Project = "local", "/p"
	if _, _, err := Install(context.Background(), e, o); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"numStartups\": 1,\n  \"projects\": {\n    \"/p\": {\n      \"allowedTools\": [],\n      \"mcpServers\": {\n        \"everything\": {\n          \"type\": \"stdio\",\n          \"command\": \"/usr/local/bin/mcpgov\",\n          \"args\": [\"shim\", \"--server\", \"everything\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-everything@2026.1.1\"],\n          \"env\": {\n            \"TOKEN\": \"${TOKEN}\"\n          }\n        }\n      }\n    }\n  }\n}"
	if got := readFile(t, claude); got != want {
		t.Errorf("claude local:\n%s", got)
	}

	vs := filepath.Join(dir, "vs.json")
	writeFile(t, vs, "{\n\t\"servers\": {},\n\t\"inputs\": [\n\t\t{\"type\": \"promptString\", \"id\": \"other\"}\n\t]\n}\n")
	v := everything(scan.ClientVSCode, vs, scan.LayoutVSCode)
	v.Env = []EnvVar{{"TOKEN", "${input:everything-token}"}}
	v.Inputs = []ClientInput{{ID: "everything-token", Description: "TOKEN for everything", Password: true}}
	if _, _, err := Install(context.Background(), v, o); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, vs)
	if !strings.Contains(got, "\t\t{\"type\": \"promptString\", \"id\": \"other\"},\n\t\t{\n\t\t\t\"type\": \"promptString\",\n\t\t\t\"id\": \"everything-token\",\n\t\t\t\"description\": \"TOKEN for everything\",\n\t\t\t\"password\": true\n\t\t}\n\t]") ||
		!strings.Contains(got, "\"TOKEN\": \"${input:everything-token}\"") {
		t.Errorf("vscode:\n%s", got)
	}
	if _, _, err := Uninstall(context.Background(), func(r InstallRecord) bool { return r.Client == scan.ClientVSCode }, o.Options); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, vs); got != "{\n\t\"servers\": {},\n\t\"inputs\": [\n\t\t{\"type\": \"promptString\", \"id\": \"other\"}\n\t]\n}\n" {
		t.Errorf("vscode after uninstall:\n%s", got)
	}
}

// TestUninstallAfterClientRewrite: a client that reformats its file (Claude
// Code rewrites ~/.claude.json) still gets the entry removed, by key,
// while it is as installed; an entry changed since is left alone.
func TestUninstallAfterClientRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".claude.json")
	writeFile(t, path, "{\"a\": 1}")
	o := installOpts(t)
	e := everything(scan.ClientClaudeCode, path, scan.LayoutMCPServers)
	if _, _, err := Install(context.Background(), e, o); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := decodeJSONC(readFile(t, path), &v); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, mustIndent(t, v, "    ")) // "the client rewrote it"
	results, _, err := Uninstall(context.Background(), func(InstallRecord) bool { return true }, o.Options)
	if err != nil || !strings.Contains(results[0].Reason, "by its key") {
		t.Fatalf("%+v %v", results, err)
	}
	if got := readFile(t, path); !sameJSON(got, `{"a": 1, "mcpServers": {}}`) {
		t.Errorf("after uninstall: %s", got)
	}

	if _, _, err := Install(context.Background(), e, o); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(readFile(t, path), `"TOKEN"`, `"OTHER"`, 1)
	writeFile(t, path, edited)
	if _, _, err := Uninstall(context.Background(), func(InstallRecord) bool { return true }, o.Options); err == nil || !strings.Contains(err.Error(), "changed since it was installed") {
		t.Errorf("an edited entry: %v", err)
	}
	if readFile(t, path) != edited {
		t.Error("an edited entry was touched")
	}
}

// TestUnwrapRemovesInstalled: unwrap takes an installed entry out (undoing
// the install) and unwraps a wrapped one beside it.
func TestUnwrapRemovesInstalled(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".cursor", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	before := "{\n  \"mcpServers\": {\n    \"w\": {\"command\": \"node\", \"args\": [\"s.js\"]}\n  }\n}\n"
	writeFile(t, path, before)
	o := installOpts(t)
	if _, _, err := Install(context.Background(), everything(scan.ClientCursor, path, scan.LayoutMCPServers), o); err != nil {
		t.Fatal(err)
	}
	rep, err := scan.Scan(context.Background(), scan.Options{Env: scan.Env{OS: runtime.GOOS, Home: t.TempDir()}, Paths: []string{path}})
	if err != nil || len(rep.Servers) != 2 {
		t.Fatalf("scan: %v %+v", err, rep)
	}
	if _, err := Wrap(context.Background(), rep.Servers, o.Options); err != nil {
		t.Fatal(err)
	}
	rep, _ = scan.Scan(context.Background(), scan.Options{Env: scan.Env{OS: runtime.GOOS, Home: t.TempDir()}, Paths: []string{path}})
	out, err := Unwrap(context.Background(), rep.Servers, o.Options)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != before {
		t.Errorf("after unwrap:\n%s\nresults %+v", got, out.Results)
	}
	if out.Results[1].Action != ActionUnwrapped || !strings.Contains(out.Results[1].Reason, "installed by mcpgov catalog install") {
		t.Errorf("results %+v", out.Results)
	}
}

// TestInstallRedoneWhenFileChanges: a client writing the file between read
// and rename gets its write kept and the entry added to it.
func TestInstallRedoneWhenFileChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcp.json")
	writeFile(t, path, "{\"mcpServers\": {}}\n")
	o := installOpts(t)
	n := 0
	o.beforeCommit = func(p string) {
		if n++; n == 1 {
			writeFile(t, p, "{\"mcpServers\": {\"mine\": {\"command\": \"x\"}}}\n")
		}
	}
	if _, _, err := Install(context.Background(), everything(scan.ClientCursor, path, scan.LayoutMCPServers), o); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if !strings.Contains(got, `"mine"`) || !strings.Contains(got, `"everything"`) {
		t.Errorf("the client's write or the install was lost:\n%s", got)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustIndent(t *testing.T, v any, ind string) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", ind)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}
