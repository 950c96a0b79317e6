package main

import (
	"os/exec"
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

// TestLayerRules keeps the shared vocabulary in small packages (issue 13):
// each imports of mcpgov only what it lists, so any package may use it
// without pulling in a domain package, and the pairs below stay apart.
func TestLayerRules(t *testing.T) {
	const mod = "github.com/mcpgov/mcpgov/"
	small := map[string][]string{
		"policy/guard/secret":       nil, // one secret detector for scan, guard and every mask
		"scan/finding":              nil, // severity, rule and finding
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
