package wrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

// layout is one way people and tools lay out a JSON config.
type layout struct {
	indent, nl   string
	bom          bool
	comments     bool // JSONC: line and block comments
	trailing     bool // JSONC: trailing commas
	minified     bool
	argsMultiLin bool
	trailingNL   bool
}

func (l layout) render(withArgs bool) string {
	if l.minified {
		s := `{"other":{"k":[1,2]},"mcpServers":{"a":{"command":"npx","env":{"X":"${env:X}"}`
		if withArgs {
			s = `{"other":{"k":[1,2]},"mcpServers":{"a":{"command":"npx","args":["-y","p@1.0.0","${workspaceFolder}"],"env":{"X":"${env:X}"}`
		}
		return s + `},"b":{"url":"https://x.example.com/mcp"}}}`
	}
	i := func(n int) string { return strings.Repeat(l.indent, n) }
	var b strings.Builder
	w := func(s string) { b.WriteString(s + l.nl) }
	tc := ""
	if l.trailing {
		tc = ","
	}
	if l.bom {
		b.WriteString("\xEF\xBB\xBF")
	}
	w("{")
	if l.comments {
		w(i(1) + "// servers for this machine")
	}
	w(i(1) + `"other": {"k": [1, 2]},`)
	w(i(1) + `"mcpServers": {`)
	w(i(2) + `"a": {`)
	cmd := i(3) + `"command": "npx"`
	if l.comments {
		cmd += " /* runner */"
	}
	switch {
	case withArgs && l.argsMultiLin:
		w(cmd + ",")
		w(i(3) + `"args": [`)
		if l.comments {
			w(i(4) + "// pinned")
		}
		w(i(4) + `"-y",`)
		w(i(4) + `"p@1.0.0",`)
		w(i(4) + `"${workspaceFolder}"` + tc)
		w(i(3) + `],`)
	case withArgs:
		w(cmd + ",")
		w(i(3) + `"args": ["-y", "p@1.0.0", "${workspaceFolder}"],`)
	default:
		w(cmd + ",")
	}
	w(i(3) + `"env": {"X": "${env:X}"}` + tc)
	w(i(2) + `},`)
	w(i(2) + `"b": {"url": "https://x.example.com/mcp"}` + tc)
	w(i(1) + `}` + tc)
	b.WriteString("}")
	if l.trailingNL {
		b.WriteString(l.nl)
	}
	return b.String()
}

// TestLayouts checks, over many layouts, that wrap keeps the file's syntax
// (strict JSON stays strict), changes only the entry's command and args,
// keeps every byte outside them, and that unwrap restores it exactly.
func TestLayouts(t *testing.T) {
	var layouts []layout
	for _, ind := range []string{"  ", "    ", "\t"} {
		for _, nl := range []string{"\n", "\r\n"} {
			for _, jsonc := range []bool{false, true} {
				for _, multi := range []bool{false, true} {
					layouts = append(layouts, layout{indent: ind, nl: nl, bom: nl == "\r\n", comments: jsonc, trailing: jsonc, argsMultiLin: multi, trailingNL: !multi})
				}
			}
		}
	}
	layouts = append(layouts, layout{minified: true})
	for n, l := range layouts {
		for _, withArgs := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d-args=%v", n, withArgs), func(t *testing.T) {
				dir := t.TempDir()
				home, state := filepath.Join(dir, "home"), filepath.Join(dir, "state")
				p := filepath.Join(home, ".cursor", "mcp.json")
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				_ = os.MkdirAll(filepath.Join(home, "work"), 0o755)
				orig := []byte(l.render(withArgs))
				if err := os.WriteFile(p, orig, 0o600); err != nil {
					t.Fatal(err)
				}
				ss := scanHome(t, home)
				if len(ss) != 2 {
					t.Fatalf("scan found %d servers in\n%s", len(ss), orig)
				}
				if _, err := Wrap(context.Background(), ss, opts(t, state)); err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(p)
				text := bytes.TrimPrefix(got, utf8BOM)
				if bytes.HasPrefix(orig, utf8BOM) != bytes.HasPrefix(got, utf8BOM) {
					t.Error("BOM changed")
				}
				if json.Valid(bytes.TrimPrefix(orig, utf8BOM)) && !json.Valid(text) {
					t.Errorf("strict JSON no longer strict:\n%s", got)
				}
				if _, err := hujson.Parse(text); err != nil {
					t.Errorf("wrapped file does not parse: %v\n%s", err, got)
				}
				if l.nl == "\r\n" && bytes.Count(got, []byte("\n")) != bytes.Count(got, []byte("\r\n")) {
					t.Errorf("bare LF added:\n%q", got)
				}
				if bytes.Count(got, []byte("//")) != bytes.Count(orig, []byte("//")) || bytes.Count(got, []byte("/*")) != bytes.Count(orig, []byte("/*")) {
					t.Error("comments added or lost")
				}
				// Outside the entry "a" nothing changed: same prefix up to its
				// command value, same suffix from its env member.
				cut := bytes.Index(orig, []byte(`"command":`))
				if !bytes.Equal(got[:cut], orig[:cut]) {
					t.Error("bytes before the entry changed")
				}
				envAt := bytes.Index(orig, []byte(`"env":`))
				if !bytes.HasSuffix(got, orig[envAt:]) {
					t.Errorf("bytes after args changed:\n%s", got)
				}
				// Scan sees it governed, launching the original command line.
				for _, s := range scanHome(t, home) {
					if s.Name != "a" {
						continue
					}
					l := s.Launch()
					if !s.Governed || (withArgs && (l.Package != "p" || l.Version != "1.0.0")) || (!withArgs && l.Command != "npx") {
						t.Errorf("after wrap: governed %v launch %+v", s.Governed, l)
					}
				}
				if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), opts(t, state)); err != nil {
					t.Fatal(err)
				}
				if back, _ := os.ReadFile(p); !bytes.Equal(back, orig) {
					t.Errorf("not restored:\n got %q\nwant %q", back, orig)
				}
			})
		}
	}
}

func TestTOMLLayouts(t *testing.T) {
	cases := map[string]string{
		"crlf-bom":       "\xEF\xBB\xBF# codex\r\n[mcp_servers.a]\r\ncommand = \"npx\"\r\nargs = [\"-y\", \"p@1.0.0\"]\r\n",
		"no-args-at-eof": "[mcp_servers.a]\nenv = { K = \"v\" }\ncommand = 'npx'",
		"quoted-name":    "[mcp_servers.\"a\"]\n  command = \"npx\"   # indented\n  args = [\n    \"-y\",   # flags\n    \"p@1.0.0\",\n  ]\n\n[other]\nx = 1\n",
		"dotted-keys":    "[mcp_servers]\na.command = \"npx\"\na.args = [\"-y\", \"p@1.0.0\"]\n",
	}
	for name, orig := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			home, state := filepath.Join(dir, "home"), filepath.Join(dir, "state")
			p := filepath.Join(home, ".codex", "config.toml")
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			_ = os.MkdirAll(filepath.Join(home, "work"), 0o755)
			if err := os.WriteFile(p, []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := Wrap(context.Background(), only(scanHome(t, home), "codex"), opts(t, state))
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Results) != 1 || out.Results[0].Action != ActionWrapped {
				t.Fatalf("results %+v", out.Results)
			}
			got, _ := os.ReadFile(p)
			if os.Getenv("WRAP_DUMP") != "" {
				t.Logf("%q", got)
			}
			if strings.Contains(orig, "\r\n") && bytes.Count(got, []byte("\n")) != bytes.Count(got, []byte("\r\n")) {
				t.Errorf("bare LF added: %q", got)
			}
			for _, s := range only(scanHome(t, home), "codex") {
				if !s.Governed || s.Launch().Package != "p" && s.Launch().Command != "npx" {
					t.Errorf("after wrap: %+v\n%s", s.Launch(), got)
				}
			}
			if _, err := Unwrap(context.Background(), governed(only(scanHome(t, home), "codex")), opts(t, state)); err != nil {
				t.Fatal(err)
			}
			if back, _ := os.ReadFile(p); string(back) != orig {
				t.Errorf("not restored:\n got %q\nwant %q", back, orig)
			}
		})
	}
}
