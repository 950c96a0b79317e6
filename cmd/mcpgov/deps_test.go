package main

import (
	"os/exec"
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
