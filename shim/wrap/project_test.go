package wrap

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan"
)

// Bug (issue 11): wrap rewrote project files checked into a repository with
// this machine's absolute mcpgov path. A project entry inside a work tree
// is now skipped unless Options.Project is set; one outside any work tree
// is wrapped as before.
func TestProjectFilesInAWorkTree(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	loose := filepath.Join(dir, "loose")
	for _, d := range []string{filepath.Join(repo, ".git"), filepath.Join(repo, "sub", ".cursor"), filepath.Join(loose, ".cursor")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const text = `{"mcpServers": {"p": {"command": "srv", "args": []}}}` + "\n"
	inRepo := filepath.Join(repo, "sub", ".cursor", "mcp.json")
	outside := filepath.Join(loose, ".cursor", "mcp.json")
	for _, p := range []string{inRepo, outside} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := WorkTree(inRepo); got != repo {
		t.Errorf("WorkTree(%s) = %q, want %q", inRepo, got, repo)
	}
	if got := WorkTree(outside); got != "" {
		t.Errorf("WorkTree(%s) = %q, want none", outside, got)
	}

	rep, err := scan.Scan(context.Background(), scan.Options{
		Env:     scan.Env{OS: runtime.GOOS, Home: filepath.Join(dir, "home"), Getenv: func(string) string { return "" }, SystemRoot: filepath.Join(dir, "sys")},
		WorkDir: dir,
		Paths:   []string{filepath.Join(repo, "sub"), loose},
	})
	if err != nil {
		t.Fatal(err)
	}
	var servers []scan.Server
	for _, want := range []string{inRepo, outside} {
		for _, s := range rep.Servers {
			if s.File == want && s.Scope == scan.ScopeProject {
				servers = append(servers, s)
			}
		}
	}
	if len(servers) != 2 {
		t.Fatalf("scan found %+v", rep.Servers)
	}
	o := opts(t, filepath.Join(dir, "state"))
	o.DryRun = true
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionSkippedProject || !strings.Contains(r.Reason, "--project") || !strings.Contains(r.Reason, repo) {
		t.Errorf("entry in a work tree: %+v", r)
	}
	if r := out.Results[1]; r.Action != ActionWrapped {
		t.Errorf("entry outside a work tree: %+v", r)
	}

	o.Project = true
	out, err = Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionWrapped {
		t.Errorf("with Project: %+v", r)
	}
}

// ShimFlags replaces the default --server flag, in every format.
func TestShimFlags(t *testing.T) {
	home, state := setup(t)
	servers := scanHome(t, home)
	o := opts(t, state)
	o.ShimFlags = func(s scan.Server) []string { return []string{"--mode", "audit"} }
	if _, err := Wrap(context.Background(), servers, o); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		".cursor/mcp.json":               `"args": ["shim", "--mode", "audit", "--", "npx", "-y"`,
		".codex/config.toml":             `args = ["shim", "--mode", "audit", "--", "npx", "-y", "docs-mcp"]`,
		".config/opencode/opencode.json": `"command": ["/usr/local/bin/mcpgov", "shim", "--mode", "audit", "--", "npx"`,
	} {
		b, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s:\n%s", rel, want, b)
		}
	}
	if _, err := Unwrap(context.Background(), scanHome(t, home), o); err != nil {
		t.Fatal(err)
	}
	for rel, text := range fixtures {
		b, _ := os.ReadFile(filepath.Join(home, filepath.FromSlash(rel)))
		if string(b) != text {
			t.Errorf("%s not restored byte for byte", rel)
		}
	}
}
