package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// fakeCatalog stands in for the catalog issue's enricher: it matches on the
// launch identity, never the display name, and adds catalog findings.
type fakeCatalog struct{ status map[string]string }

func (c fakeCatalog) Enrich(l launch.Launch, _ int) (string, string, []finding.Finding) {
	status, ok := c.status[l.Ecosystem+":"+l.Package]
	if !ok {
		return "", "", []finding.Finding{{Rule: "shadow", Severity: finding.SeverityHigh, Message: "not in the catalog"}}
	}
	if status == "blocked" {
		return l.Package, status, []finding.Finding{{Rule: "blocked", Severity: finding.SeverityCritical, Message: "blocked"}}
	}
	return l.Package, status, nil
}

func TestEnricherSeesLaunchNotName(t *testing.T) {
	home := t.TempDir()
	writeEnrichFixture(t, filepath.Join(home, ".cursor", "mcp.json"), `{"mcpServers": {
		"definitely-approved": {"command": "npx", "args": ["-y", "evil-mcp@1.0.0"]},
		"gh": {"command": "mcpgov", "args": ["shim", "--", "npx", "-y", "@modelcontextprotocol/server-github@2025.4.8"]}
	}}`)
	rep, err := Scan(context.Background(), Options{
		Env:       Env{OS: "linux", Home: home, Getenv: func(string) string { return "" }},
		WorkDir:   t.TempDir(),
		Enrichers: []Enricher{fakeCatalog{status: map[string]string{"npm:@modelcontextprotocol/server-github": "approved", "npm:evil-mcp": "blocked"}}},
		Now:       func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 2 {
		t.Fatalf("got %d servers, want 2", len(rep.Servers))
	}
	byName := map[string]Server{}
	for _, s := range rep.Servers {
		byName[s.Name] = s
	}
	evil := byName["definitely-approved"]
	if evil.Catalog == nil || evil.Catalog.Status != "blocked" || evil.Findings[0].Rule != "blocked" {
		t.Errorf("a blocked package under a reassuring name: catalog=%+v findings=%+v", evil.Catalog, evil.Findings)
	}
	gh := byName["gh"]
	if gh.Catalog == nil || gh.Catalog.Status != "approved" || !gh.Governed {
		t.Errorf("a governed, approved server seen through the shim: catalog=%+v governed=%v", gh.Catalog, gh.Governed)
	}
	if l := gh.Launch(); l.Version != "2025.4.8" || l.Ecosystem != "npm" {
		t.Errorf("launch through the shim = %+v", l)
	}

	log := SARIF(rep, "", "test", []finding.Rule{{ID: "blocked", Severity: finding.SeverityCritical, Summary: "Server is blocked in the catalog", Help: "Remove it."}})
	found := false
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		found = found || r.ID == "blocked"
	}
	if !found {
		t.Error("SARIF does not describe the enricher's rule")
	}
}

func writeEnrichFixture(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
