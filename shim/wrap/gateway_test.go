package wrap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan"
)

// TestGatewayWrapRoundTrip: a --gateway wrap points every JSON entry the
// gateway serves (stdio and remote alike) at its endpoint through
// `mcpgov shim --url`, keeps the rest of each entry, wraps what the
// gateway does not serve through the local shim with the reason, is
// idempotent, and unwrap restores every file byte for byte.
func TestGatewayWrapRoundTrip(t *testing.T) {
	home, state := setup(t)
	orig := snapshot(t, home)
	ctx := context.Background()
	const gw = "https://gw.example.com/servers/"
	o := opts(t, state)
	o.Gateway = func(s scan.Server) string {
		if s.Name == "bare" {
			return "" // not in the catalog
		}
		return gw + s.Name + "/mcp"
	}
	out, err := Wrap(ctx, scanHome(t, home), o)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range out.Results {
		reasons[r.Client+"/"+r.Server] = string(r.Action) + ": " + r.Reason
	}
	for k, want := range map[string]string{
		"cursor/fs":              "wrapped: now runs mcpgov shim --url " + gw + "fs/mcp",
		"cursor/bare":            "wrapped: " + reasonGatewayNoCatalog,
		"cursor/remote":          "wrapped: remote entry now runs mcpgov shim --url",
		"cursor/bridged":         "skipped-other-governor: wrapped by mcp-remote",
		"claude-code/everything": "wrapped: now runs mcpgov shim --url " + gw + "everything/mcp",
		"vscode/noargs":          "wrapped: now runs mcpgov shim --url " + gw + "noargs/mcp",
		"opencode/oc":            "wrapped: now runs mcpgov shim --url " + gw + "oc/mcp",
		"opencode/ocr":           "wrapped: remote entry now runs mcpgov shim --url",
		"codex/docs":             "wrapped: now runs mcpgov shim --url " + gw + "docs/mcp",
		"codex/plain":            "wrapped: now runs mcpgov shim --url " + gw + "plain/mcp",
		"continue/cont":          "wrapped: now runs mcpgov shim --url " + gw + "cont/mcp",
		"continue/block":         "wrapped: now runs mcpgov shim --url " + gw + "block/mcp",
		"continue/noargs":        "wrapped: now runs mcpgov shim --url " + gw + "noargs/mcp",
		"continue/remote":        "skipped-remote: sse transport; mcpgov shim --url speaks Streamable HTTP",
		"continue/hosted":        "wrapped: remote entry now runs mcpgov shim --url",
	} {
		if reasons[k] != want {
			t.Errorf("%s: %q, want %q", k, reasons[k], want)
		}
	}
	wrapped := snapshot(t, home)
	for rel, b := range wrapped {
		if strings.HasSuffix(rel, ".json") && json.Valid(bytes.TrimPrefix(orig[rel], utf8BOM)) && !json.Valid(b) {
			t.Errorf("%s: strict JSON became invalid:\n%s", rel, b)
		}
	}
	for rel, want := range map[string]string{
		".cursor/mcp.json":               `"command": "/usr/local/bin/mcpgov",` + "\n" + `      "args": ["shim", "--url", "https://gw.example.com/servers/fs/mcp"]`,
		".claude.json":                   `"type": "stdio",` + "\n" + `      "command": "/usr/local/bin/mcpgov",` + "\n" + `      "args": ["shim", "--url", "https://gw.example.com/servers/everything/mcp"],` + "\n" + `      "env": {}`,
		".config/opencode/opencode.json": `"command": ["/usr/local/bin/mcpgov", "shim", "--url", "https://gw.example.com/servers/oc/mcp"]`,
		".gemini/settings.json":          `"h":{"command":"/usr/local/bin/mcpgov","args":["shim","--url","https://gw.example.com/servers/h/mcp"]}`,
		// Codex: in place, the comment after command and the layout kept.
		".codex/config.toml": "[mcp_servers.docs]\ncommand = \"/usr/local/bin/mcpgov\" # runner\nargs = [\"shim\", \"--url\", \"https://gw.example.com/servers/docs/mcp\"]\n\n" +
			"[mcp_servers.plain]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--url\", \"https://gw.example.com/servers/plain/mcp\"]\nenv = { A = \"1\" }\n",
		// Continue: flow and block sequences become one flow sequence
		// where they stood; a missing args is added under command.
		".continue/config.yaml": "  - name: cont\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--url\", \"https://gw.example.com/servers/cont/mcp\"]\n" +
			"  - name: block\n    command: \"/usr/local/bin/mcpgov\"   # python\n    args:\n      [\"shim\", \"--url\", \"https://gw.example.com/servers/block/mcp\"]\n" +
			"  - name: noargs\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--url\", \"https://gw.example.com/servers/noargs/mcp\"]\n" +
			"  - name: remote\n    type: sse\n    url: https://r.example.com/sse\n" +
			"  - name: hosted\n    type: stdio # http\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--url\", \"https://gw.example.com/servers/hosted/mcp\"]\n",
	} {
		if !bytes.Contains(wrapped[rel], []byte(want)) {
			t.Errorf("%s lacks %s:\n%s", rel, want, wrapped[rel])
		}
	}
	if bytes.Contains(wrapped[".cursor/mcp.json"], []byte("server-filesystem")) {
		t.Errorf("the gateway entry still launches the local server:\n%s", wrapped[".cursor/mcp.json"])
	}
	for _, s := range scanHome(t, home) {
		if strings.HasPrefix(reasons[s.Client+"/"+s.Name], "wrapped") && !s.Governed {
			t.Errorf("%s/%s not governed after the gateway wrap: %s %v", s.Client, s.Name, s.Command, s.Args)
		}
	}
	out2, err := Wrap(ctx, scanHome(t, home), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(out2.Changes) != 0 {
		t.Errorf("a second gateway wrap changed %d files", len(out2.Changes))
	}
	if _, err := Unwrap(ctx, governed(scanHome(t, home)), o); err != nil {
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
	for _, r := range m.Entries {
		t.Errorf("manifest keeps %s/%s after unwrap", r.Client, r.Server)
	}
}

// TestGatewayUnwrapRewrittenFile: a client that rewrites its file after a
// --gateway wrap (Claude Code reformats ~/.claude.json) leaves spans that
// no longer match; unwrap restores the command line from the manifest.
func TestGatewayUnwrapRewrittenFile(t *testing.T) {
	home, state := setup(t)
	ctx := context.Background()
	o := opts(t, state)
	o.Gateway = func(s scan.Server) string { return "https://gw.example.com/servers/" + s.Name + "/mcp" }
	if _, err := Wrap(ctx, scanHome(t, home), o); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(home, ".claude.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	re, _ := json.MarshalIndent(v, "", "\t") // the client's own layout
	if err := os.WriteFile(p, re, 0o640); err != nil {
		t.Fatal(err)
	}
	out, err := Unwrap(ctx, governed(scanHome(t, home)), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Results {
		if r.Client == "claude-code" && r.Action != ActionUnwrapped {
			t.Errorf("%s: %s %s", r.Server, r.Action, r.Reason)
		}
	}
	b, _ = os.ReadFile(p)
	var doc struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if e := doc.MCPServers["everything"]; e.Command != "npx" || strings.Join(e.Args, " ") != "-y @modelcontextprotocol/server-everything" {
		t.Errorf("entry after unwrap: %+v\n%s", e, b)
	}
}

// TestGatewayWrapHTTPEntry: with a headers helper, Claude Code's stdio
// entries become Streamable HTTP entries for the gateway (url,
// headersHelper, type http; env kept), other clients' entries run the
// shim; wrapping again changes nothing, and unwrap restores every file
// byte for byte, or from the manifest once Claude Code rewrote its file.
func TestGatewayWrapHTTPEntry(t *testing.T) {
	for _, rewrite := range []bool{false, true} {
		home, state := setup(t)
		orig := snapshot(t, home)
		ctx := context.Background()
		o := opts(t, state)
		o.Gateway = func(s scan.Server) string { return "https://gw.example.com/servers/" + s.Name + "/mcp" }
		o.HeadersHelper = shimPath + " auth token --header-json"
		out, err := Wrap(ctx, scanHome(t, home), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Results {
			if r.Client == "claude-code" && (r.Action != ActionWrapped || !strings.HasPrefix(r.Reason, "now a Streamable HTTP entry for https://gw.example.com/servers/")) {
				t.Errorf("%s: %s %s", r.Server, r.Action, r.Reason)
			}
		}
		b, _ := os.ReadFile(filepath.Join(home, ".claude.json"))
		want := `"everything": {
      "type": "http",
      "url": "https://gw.example.com/servers/everything/mcp",
      "headersHelper": "/usr/local/bin/mcpgov auth token --header-json",
      "env": {}
    }`
		if !strings.Contains(string(b), want) || !json.Valid(b) {
			t.Fatalf(".claude.json after the gateway wrap:\n%s", b)
		}
		out2, err := Wrap(ctx, scanHome(t, home), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(out2.Changes) != 0 {
			t.Errorf("a second wrap changed %d files", len(out2.Changes))
		}
		if rewrite {
			var v any
			_ = json.Unmarshal(b, &v)
			re, _ := json.MarshalIndent(v, "", "\t")
			if err := os.WriteFile(filepath.Join(home, ".claude.json"), re, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Unwrap(ctx, scanHome(t, home), o); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, home)
		for rel, b := range got {
			if rewrite && rel == ".claude.json" {
				continue
			}
			if !bytes.Equal(b, orig[rel]) {
				t.Errorf("%s: not restored byte for byte:\n got %q\nwant %q", rel, b, orig[rel])
			}
		}
		if rewrite {
			var doc, want any
			_ = json.Unmarshal(got[".claude.json"], &doc)
			_ = json.Unmarshal(orig[".claude.json"], &want)
			gb, _ := json.Marshal(doc)
			wb, _ := json.Marshal(want)
			if string(gb) != string(wb) {
				t.Errorf(".claude.json after unwrap of a rewritten file:\n%s\nwant\n%s", gb, wb)
			}
		}
	}
}

// TestGatewayWrapSecretsLeft: with --move-secrets, an entry pointed at
// the gateway keeps its env secret (nothing would inject it: the gateway
// runs the catalog's launch) and the result says so.
func TestGatewayWrapSecretsLeft(t *testing.T) {
	text := "{\n  \"mcpServers\": {\n    \"k\": {\"command\": \"npx\", \"args\": [\"k-mcp\"], \"env\": {\"GITHUB_TOKEN\": \"ghp_R2d2C3poLukeSkywalker0123456789abcd\"}}\n  }\n}\n"
	_, state, _, servers := moveFixture(t, ".cursor/mcp.json", text)
	o := memVault{}.opts(opts(t, state))
	o.Gateway = func(scan.Server) string { return "https://gw.example.com/servers/k/mcp" }
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	want := "now runs mcpgov shim --url https://gw.example.com/servers/k/mcp; env.GITHUB_TOKEN left in the config: the gateway runs the catalog's launch with the catalog's credentials, so nothing reads it now; remove it by hand"
	if r := out.Results[0]; r.Action != ActionWrapped || r.Reason != want {
		t.Errorf("%s %q\nwant %q", r.Action, r.Reason, want)
	}
}
