package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestImportRules keeps the layering of DESIGN §7: domain packages never
// import the CLI or terminal UI libraries; only cmd/mcpgov/cli wires them.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Deps \" \"}}", "github.com/mcpgov/mcpgov/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/charmbracelet/bubbletea", "github.com/charmbracelet/lipgloss", "charm.land/", "github.com/mcpgov/mcpgov/cmd/"}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		if strings.HasPrefix(pkg, "github.com/mcpgov/mcpgov/cmd/") {
			continue
		}
		checked++
		for _, dep := range strings.Fields(deps) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) {
					t.Errorf("%s imports %s; domain packages must not depend on the CLI layer", pkg, dep)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no domain packages found; the check ran on nothing")
	}
}

// TestImportRulesEngine keeps the engine and its transports free of
// everything interactive (DESIGN §4, §7): policy/govern, policy/enforce
// and shim — what the shim runs in an IDE and a gateway runs in a server —
// depend on no CLI, terminal UI or browser package.
func TestImportRulesEngine(t *testing.T) {
	forbidden := []string{"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/charmbracelet/", "charm.land/", "github.com/pkg/browser", "github.com/mcpgov/mcpgov/cmd/"}
	for _, pkg := range []string{"policy/govern", "policy/enforce", "shim"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/mcpgov/mcpgov/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s; the engine and its transports must not", pkg, dep)
				}
			}
		}
	}
}

// TestImportRulesThinCLI keeps domain decisions out of cmd/mcpgov/cli:
// the CLI parses flags and prints, and reaches the enforcement core and the
// rate limiter only through policy/govern, which assembles them the same
// way for the shim and the gateway.
func TestImportRulesThinCLI(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "github.com/mcpgov/mcpgov/cmd/mcpgov/cli").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) == 0 {
		t.Fatal("cmd/mcpgov/cli imports nothing; the check ran on nothing")
	}
	for _, imp := range imports {
		switch imp {
		case "github.com/mcpgov/mcpgov/policy/enforce", "github.com/mcpgov/mcpgov/policy/limit":
			t.Errorf("cmd/mcpgov/cli imports %s; build the core through policy/govern", imp)
		}
	}
}

// TestEnvOnlyInFactory: only the CLI's Factory reads the process
// environment and home directory; everything else gets them as values
// (Getenv, govern.Env), so tests and the gateway can give their own. Test
// helper packages (…test) are exempt.
func TestEnvOnlyInFactory(t *testing.T) {
	envRead := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|UserHomeDir)\(`)
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.ToSlash(path) == "../../cmd/mcpgov/cli/factory.go" {
			return nil
		}
		checked++
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m := envRead.Find(text); m != nil {
			t.Errorf("%s calls %s; take the environment from the Factory (Getenv, govern.Env)", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files found; the check ran on nothing")
	}
}

// TestLayerRules keeps the shared vocabulary in small packages (issue 13):
// each imports of mcpgov only what it lists, so any package may use it
// without pulling in a domain package, and the pairs below stay apart.
func TestLayerRules(t *testing.T) {
	const mod = "github.com/mcpgov/mcpgov/"
	small := map[string][]string{
		"policy/guard/secret":       nil, // one secret detector for scan, guard and every mask
		"scan/finding":              nil, // severity, rule and finding
		"scan/fleet":                nil, // the fleet inventory the gateway keeps without the scanner
		"shim/trace":                nil, // spans and their exporter, kept apart from the engine
		"scan/launch":               {"policy/guard/secret"},
		"scan/tomldoc":              nil,              // the lossless TOML editor of catalog, guard, scan, shim/wrap and the CLI
		"catalog/serverjson/schema": nil,              // catalog validates its registry record without the interop package
		"policy/guard/review":       {"scan/finding"}, // the poisoning reviewer of guard's describe hook and catalog vetting
	}
	apart := []struct{ pkg, dep, why string }{
		{"catalog", "catalog/serverjson", "server.json interop builds on the catalog, not the reverse"},
		// The engine speaks scan/finding, scan/launch and the secret
		// detector, never the scanner (client tables, readers, inventory).
		{"catalog", "scan", "the catalog enriches scans through scan/launch and scan/finding"},
		{"policy", "scan", "the engine does not import the scanner"},
		{"policy/enforce", "scan", "the engine does not import the scanner"},
		{"policy/guard", "scan", "guardrails use the secret detector, not the scanner"},
		{"shim", "scan", "the relay does not import the scanner"},
		{"policy/govern", "scan", "the assembly does not import the scanner"},
		{"catalog", "shim", "the catalog model starts no server; catalog/vet does, through the shim's transports"},
		{"policy/rpc", "policy/enforce", "the message model is a leaf the transports share"},
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Deps \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, ds, _ := strings.Cut(line, ":")
		deps[strings.TrimPrefix(pkg, mod)] = strings.Fields(ds)
	}
	for pkg, allowed := range small {
		ds, ok := deps[pkg]
		if !ok {
			t.Errorf("package %s not found", pkg)
		}
		for _, d := range ds {
			if strings.HasPrefix(d, mod) && !slices.Contains(allowed, strings.TrimPrefix(d, mod)) {
				t.Errorf("%s imports %s; it may import of mcpgov only %q", pkg, d, allowed)
			}
		}
	}
	for _, a := range apart {
		ds, ok := deps[a.pkg]
		if !ok {
			t.Errorf("package %s not found", a.pkg)
		}
		for _, d := range ds {
			if d == mod+a.dep {
				t.Errorf("%s imports %s: %s", a.pkg, a.dep, a.why)
			}
		}
	}
}
