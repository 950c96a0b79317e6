package wrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeHome writes one config file under a fresh home and returns the
// home, the state directory and the file's path.
func writeHome(t *testing.T, rel, text string) (home, state, path string) {
	t.Helper()
	dir := t.TempDir()
	home, state = filepath.Join(dir, "home"), filepath.Join(dir, "state")
	path = filepath.Join(home, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Join(home, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return home, state, path
}

// Bug: with a server name written twice, wrap patched the first copy — the
// one JSON.parse ignores — and reported the copy the client runs as "entry
// not found", still exiting 0: the client ran the server ungoverned. Both
// copies are now refused (failed, naming both lines); the other entries of
// the file are wrapped, and unwrap restores the file byte for byte.
func TestWrapRefusesDuplicateServerNames(t *testing.T) {
	orig := `{
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "hidden-github"]},
    "other": {"command": "other"},
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]}
  }
}
`
	home, state, p := writeHome(t, ".cursor/mcp.json", orig)
	ss := only(scanHome(t, home), "cursor")
	if len(ss) != 3 {
		t.Fatalf("scan found %d entries, want both copies and the other", len(ss))
	}
	out, err := Wrap(context.Background(), ss, opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Results {
		switch r.Server {
		case "github":
			if r.Action != ActionFailed || !strings.Contains(r.Reason, `duplicate server name "github" (lines 3 and 5)`) || !strings.Contains(r.Reason, "last") {
				t.Errorf("line %d: %s %q, want failed naming lines 3 and 5", r.Line, r.Action, r.Reason)
			}
		case "other":
			if r.Action != ActionWrapped {
				t.Errorf("other: %s %q, want wrapped", r.Action, r.Reason)
			}
		}
	}
	b, _ := os.ReadFile(p)
	if strings.Count(string(b), shimPath) != 1 || !strings.Contains(string(b), `"args": ["-y", "hidden-github"]`) {
		t.Errorf("only the unique entry should be wrapped:\n%s", b)
	}
	if _, err := Unwrap(context.Background(), governed(only(scanHome(t, home), "cursor")), opts(t, state)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Errorf("not restored byte for byte:\n%s", b)
	}
}

// The same on one line (a minified file): the copies share the line, and
// the second must not be handed the first's key path.
func TestWrapRefusesDuplicatesMinified(t *testing.T) {
	orig := `{"mcpServers":{"a":{"command":"first"},"a":{"command":"second"}}}`
	home, state, p := writeHome(t, ".cursor/mcp.json", orig)
	out, err := Wrap(context.Background(), only(scanHome(t, home), "cursor"), opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 2 {
		t.Fatalf("results %+v", out.Results)
	}
	for _, r := range out.Results {
		if r.Action != ActionFailed || !strings.Contains(r.Reason, `duplicate server name "a" (line 1)`) {
			t.Errorf("%s %q, want failed", r.Action, r.Reason)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Errorf("file changed: %s", b)
	}
}

// A key on the way to the entry, or one of the entry's own members,
// written twice is as ambiguous: patching the last "command" would leave
// an earlier one that a later edit brings back.
func TestWrapRefusesDuplicateKeys(t *testing.T) {
	for _, c := range []struct{ name, text, reason string }{
		{"servers map twice", "{\n  \"mcpServers\": {\"a\": {\"command\": \"x\"}},\n  \"mcpServers\": {\"b\": {\"command\": \"y\"}}\n}\n", `duplicate key "mcpServers" (lines 2 and 3)`},
		{"command twice", "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"x\",\n      \"command\": \"y\"\n    }\n  }\n}\n", `the entry has "command" twice (lines 4 and 5)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			home, state, p := writeHome(t, ".cursor/mcp.json", c.text)
			ss := only(scanHome(t, home), "cursor")
			if len(ss) == 0 {
				t.Fatal("scan found nothing")
			}
			out, err := Wrap(context.Background(), ss, opts(t, state))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Results {
				if r.Action != ActionFailed || !strings.Contains(r.Reason, c.reason) {
					t.Errorf("%s: %s %q, want failed with %q", r.Server, r.Action, r.Reason, c.reason)
				}
			}
			if b, _ := os.ReadFile(p); string(b) != c.text {
				t.Errorf("file changed: %s", b)
			}
		})
	}
}

// Continue's YAML parser rejects a mapping key written twice; wrap refuses
// the file rather than pick a copy.
func TestWrapRefusesDuplicateYAMLKeys(t *testing.T) {
	orig := "mcpServers:\n  - name: a\n    command: x\n    command: y\n"
	home, state, p := writeHome(t, ".continue/config.yaml", orig)
	ss := only(scanHome(t, home), "continue")
	if len(ss) != 1 {
		t.Fatalf("scan found %d entries", len(ss))
	}
	_, err := Wrap(context.Background(), ss, opts(t, state))
	if err == nil || !strings.Contains(err.Error(), `line 4: key "command" is already defined at line 3`) {
		t.Fatalf("err = %v, want the duplicate key named with its lines", err)
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Errorf("file changed: %s", b)
	}
}

// A copy wrapped before duplicates were refused (or by hand) can still be
// unwrapped: it is found by its line and restored, the other copy is left
// as it is.
func TestUnwrapDuplicateCopy(t *testing.T) {
	text := `{
  "mcpServers": {
    "a": {"command": "/usr/local/bin/mcpgov", "args": ["shim", "--", "first", "x"]},
    "a": {"command": "second"}
  }
}
`
	home, state, p := writeHome(t, ".cursor/mcp.json", text)
	out, err := Unwrap(context.Background(), only(scanHome(t, home), "cursor"), opts(t, state))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]Action{}
	for _, r := range out.Results {
		got[r.Line] = r.Action
	}
	if got[3] != ActionUnwrapped || got[4] != ActionNotWrapped {
		t.Errorf("actions by line %v, want 3 unwrapped and 4 not wrapped", got)
	}
	want := strings.Replace(text, `{"command": "/usr/local/bin/mcpgov", "args": ["shim", "--", "first", "x"]}`, `{"command": "first", "args": ["x"]}`, 1)
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}
