package scan

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan/finding"
)

func TestSARIFLevels(t *testing.T) {
	cases := map[finding.Severity]string{
		finding.SeverityCritical: "error", finding.SeverityHigh: "error", finding.SeverityMedium: "warning", finding.SeverityLow: "note", "": "note",
	}
	for sev, want := range cases {
		if got := sarifLevel(sev); got != want {
			t.Errorf("sarifLevel(%q) = %q, want %q", sev, got, want)
		}
	}
	scores := map[finding.Severity]string{finding.SeverityCritical: "9.5", finding.SeverityHigh: "8.0", finding.SeverityMedium: "5.5", finding.SeverityLow: "3.0"}
	for sev, want := range scores {
		if got := securitySeverity(sev); got != want {
			t.Errorf("securitySeverity(%q) = %q, want %q", sev, got, want)
		}
	}
}

func sarifReport() *Report {
	a := Server{Client: ClientCursor, Name: "github", File: "/repo/.cursor/mcp.json", Line: 3, Identity: "oci:ghcr.io/github/github-mcp-server", Scope: ScopeProject,
		Findings: []finding.Finding{
			{Rule: RulePlaintextSecret, Severity: finding.SeverityCritical, Field: "env.GITHUB_TOKEN", Line: 7, Message: "env.GITHUB_TOKEN holds a plain-text GitHub token"},
			{Rule: RuleUnpinnedPackage, Severity: finding.SeverityMedium, Field: "args", Message: "unpinned"},
		}}
	b := Server{Client: ClientClaudeDesktop, Name: "fs", File: "/Users/ann/Library/Application Support/Claude/claude_desktop_config.json", Line: 2,
		Identity: "npm:@modelcontextprotocol/server-filesystem", Scope: ScopeUser,
		Findings: []finding.Finding{{Rule: RuleNotGoverned, Severity: finding.SeverityLow, Message: "not governed"}}}
	c := Server{Client: ClientZed, Name: "shadow", File: "/repo2/.zed/settings.json", Identity: "exec:node x.js",
		Findings: []finding.Finding{{Rule: "shadow-server", Severity: finding.SeverityHigh, Message: "not in the catalog"}}}
	return &Report{SchemaVersion: SchemaVersion, Servers: []Server{a, b, c},
		Errors: []FileError{{File: "/repo/.vscode/mcp.json", Line: 4, Column: 2, Message: "invalid character"}, {File: "/home/ann/.claude.json", Message: "permission denied"}}}
}

func TestSARIF(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	extra := []finding.Rule{
		{ID: "shadow-server", Severity: finding.SeverityHigh, Summary: "not in the catalog", Help: "add it"},
		{ID: "unused-rule", Severity: finding.SeverityLow, Summary: "never used", Help: "-"},
	}
	log := SARIF(sarifReport(), "/repo", "1.2.3", extra)
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("log = %+v", log)
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "mcpgov" || run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver = %+v", run.Tool.Driver)
	}

	// Only rules that have results are described, in the order of Rules
	// then the enrichers' rules.
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
		if r.Help.Text == "" || r.ShortDescription.Text == "" || r.Properties["security-severity"] == nil {
			t.Errorf("rule %s lacks help, description or security-severity: %+v", r.ID, r)
		}
	}
	if want := []string{RulePlaintextSecret, RuleUnpinnedPackage, RuleNotGoverned, "shadow-server"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("rules = %q, want %q", ids, want)
	}
	levels := map[string]string{}
	for _, r := range run.Tool.Driver.Rules {
		levels[r.ID] = r.DefaultConfiguration.Level
	}
	if want := map[string]string{RulePlaintextSecret: "error", RuleUnpinnedPackage: "warning", RuleNotGoverned: "note", "shadow-server": "error"}; !reflect.DeepEqual(levels, want) {
		t.Errorf("rule levels = %v, want %v", levels, want)
	}

	if got := run.BaseIDs["%SRCROOT%"].URI; got != "file:///repo/" {
		t.Errorf("%%SRCROOT%% = %q, want file:///repo/", got)
	}
	if len(run.Results) != 4 {
		t.Fatalf("%d results, want 4", len(run.Results))
	}
	type loc struct {
		uri, base string
		line      int
	}
	locOf := func(l sarifLocation) loc {
		r := loc{uri: l.PhysicalLocation.ArtifactLocation.URI, base: l.PhysicalLocation.ArtifactLocation.URIBaseID}
		if l.PhysicalLocation.Region != nil {
			r.line = l.PhysicalLocation.Region.StartLine
		}
		return r
	}
	want := []struct {
		rule, level string
		at          loc
	}{
		// Under baseDir: relative to %SRCROOT%, at the finding's own line.
		{RulePlaintextSecret, "error", loc{".cursor/mcp.json", "%SRCROOT%", 7}},
		// No line on the finding: the server's line.
		{RuleUnpinnedPackage, "warning", loc{".cursor/mcp.json", "%SRCROOT%", 3}},
		// Outside baseDir: an absolute, escaped file URI.
		{RuleNotGoverned, "note", loc{"file:///Users/ann/Library/Application%20Support/Claude/claude_desktop_config.json", "", 2}},
		// A sibling directory sharing the prefix is outside too; no line, no region.
		{"shadow-server", "error", loc{"file:///repo2/.zed/settings.json", "", 0}},
	}
	for i, w := range want {
		r := run.Results[i]
		if r.RuleID != w.rule || r.Level != w.level {
			t.Errorf("result %d = %s/%s, want %s/%s", i, r.RuleID, r.Level, w.rule, w.level)
		}
		if got := locOf(r.Locations[0]); got != w.at {
			t.Errorf("result %d location = %+v, want %+v", i, got, w.at)
		}
		if fp := r.PartialFingerprints["mcpgovFinding/v1"]; len(fp) != 32 {
			t.Errorf("result %d fingerprint %q", i, fp)
		}
	}
	if !strings.HasPrefix(run.Results[0].Message.Text, "github (cursor): ") {
		t.Errorf("message = %q, want it to name the server and client", run.Results[0].Message.Text)
	}
	if run.Results[0].PartialFingerprints["mcpgovFinding/v1"] == run.Results[1].PartialFingerprints["mcpgovFinding/v1"] {
		t.Error("two findings of one server share a fingerprint")
	}

	// Unreadable files are tool notifications, not results.
	inv := run.Invocations[0]
	if !inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 2 {
		t.Fatalf("invocation = %+v", inv)
	}
	if got := locOf(inv.ToolExecutionNotifications[0].Locations[0]); got != (loc{".vscode/mcp.json", "%SRCROOT%", 4}) {
		t.Errorf("notification location = %+v", got)
	}
	if got := locOf(inv.ToolExecutionNotifications[1].Locations[0]); got != (loc{"file:///home/ann/.claude.json", "", 0}) {
		t.Errorf("notification location = %+v", got)
	}
}

func TestSARIFNoBaseDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	run := SARIF(sarifReport(), "", "dev", nil).Runs[0]
	if run.BaseIDs != nil {
		t.Errorf("originalUriBaseIds = %v, want none without a base directory", run.BaseIDs)
	}
	for _, r := range run.Results {
		l := r.Locations[0].PhysicalLocation.ArtifactLocation
		if l.URIBaseID != "" || !strings.HasPrefix(l.URI, "file:///") {
			t.Errorf("%s: location %+v, want an absolute file URI", r.RuleID, l)
		}
	}
	// A rule used by a result but unknown to Rules and extraRules is not
	// described; the result still names it.
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
	}
	if want := []string{RulePlaintextSecret, RuleUnpinnedPackage, RuleNotGoverned}; !reflect.DeepEqual(ids, want) {
		t.Errorf("rules = %q, want %q", ids, want)
	}
}

func TestSARIFFingerprintStable(t *testing.T) {
	a := SARIF(sarifReport(), "/repo", "1", nil).Runs[0].Results
	r := sarifReport()
	r.Servers[0].Line = 99 // moving an entry in its file keeps its findings' identity
	r.Servers[0].Findings[0].Line = 120
	b := SARIF(r, "/repo", "2", nil).Runs[0].Results
	for i := range a {
		if a[i].PartialFingerprints["mcpgovFinding/v1"] != b[i].PartialFingerprints["mcpgovFinding/v1"] {
			t.Errorf("result %d fingerprint changed with the line", i)
		}
	}
}

func TestSARIFEmptyReportIsValidJSON(t *testing.T) {
	log := SARIF(&Report{SchemaVersion: SchemaVersion}, "/repo", "1", nil)
	b, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"results":[]`, `"rules":[]`, `"version":"2.1.0"`, `"executionSuccessful":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("empty SARIF %s lacks %s", b, want)
		}
	}
}

func TestRuleName(t *testing.T) {
	cases := map[string]string{"plaintext-secret": "PlaintextSecret", "not-governed": "NotGoverned", "x": "X", "a--b": "AB"}
	for in, want := range cases {
		if got := ruleName(in); got != want {
			t.Errorf("ruleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileURI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	cases := map[string]string{
		"/home/ann/.cursor/mcp.json": "file:///home/ann/.cursor/mcp.json",
		"/a b/c#d?.json":             "file:///a%20b/c%23d%3F.json",
		"relative/x.json":            "file:///relative/x.json",
	}
	for in, want := range cases {
		if got := fileURI(in); got != want {
			t.Errorf("fileURI(%q) = %q, want %q", in, got, want)
		}
	}
}
