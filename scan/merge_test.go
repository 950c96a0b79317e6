package scan

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/scan/finding"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func srv(id, name, client string, rules ...finding.Finding) Server {
	return Server{Identity: id, Name: name, Client: client, Transport: TransportStdio, Findings: rules,
		Args: []string{}, Env: []string{}, WrappedBy: []string{}}
}

func fnd(rule string, sev finding.Severity) finding.Finding {
	return finding.Finding{Rule: rule, Severity: sev, Message: rule}
}

func rep(host, home string, at time.Time, servers ...Server) *Report {
	return &Report{SchemaVersion: SchemaVersion, Host: Host{Name: host, Home: home, OS: "linux", ScannedAt: at}, Servers: servers, Errors: []FileError{}}
}

func TestMergeNewestReportPerHostWins(t *testing.T) {
	old := rep("ann-laptop", "/home/ann", t0, srv("npm:old@1.0.0", "old", ClientCursor))
	newer := rep("ann-laptop", "/home/ann", t0.Add(time.Hour), srv("npm:new@1.0.0", "new", ClientCursor))
	for _, order := range [][]NamedReport{
		{{"old.json", old}, {"new.json", newer}},
		{{"new.json", newer}, {"old.json", old}},
	} {
		f := Merge(order, nil)
		if len(f.Machines) != 1 || f.Machines[0].Source != "new.json" || !f.Machines[0].ScannedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("machines = %+v, want only the newest report", f.Machines)
		}
		if len(f.Servers) != 1 || f.Servers[0].Identity != "npm:new@1.0.0" {
			t.Errorf("servers = %+v, want only the newest report's", f.Servers)
		}
	}
}

func TestMergeSameTimeFirstWins(t *testing.T) {
	a := rep("h", "/home/a", t0, srv("x", "x", ClientCursor))
	b := rep("h", "/home/a", t0, srv("y", "y", ClientCursor))
	f := Merge([]NamedReport{{"a.json", a}, {"b.json", b}}, nil)
	if len(f.Machines) != 1 || f.Machines[0].Source != "a.json" {
		t.Errorf("machines = %+v, want the first of two equally new reports", f.Machines)
	}
}

func TestMergeCountsMachinesByHost(t *testing.T) {
	gh := "oci:ghcr.io/github/github-mcp-server"
	reports := []NamedReport{
		// Two homes on one host: two inventories, one machine.
		{"a1.json", rep("host-a", "/home/ann", t0,
			srv(gh, "github", ClientCursor, fnd(RuleNotGoverned, finding.SeverityLow), fnd(RulePlaintextSecret, finding.SeverityHigh)),
			srv("npm:fs", "fs", ClientClaudeCode, fnd(RuleNotGoverned, finding.SeverityLow), fnd(RuleUnpinnedPackage, finding.SeverityMedium)))},
		{"a2.json", rep("host-a", "/home/bob", t0,
			srv(gh, "gh", ClientVSCode, fnd(RuleNotGoverned, finding.SeverityLow), fnd(RulePlaintextSecret, finding.SeverityCritical)))},
		{"b.json", rep("host-b", "/home/cy", t0,
			srv(gh, "github", ClientCursor, fnd(RuleNotGoverned, finding.SeverityLow)))},
		// No host name: the source names the machine.
		{"c.json", rep("", "/home/dee", t0,
			func() Server { s := srv(gh, "github", ClientZed); s.Governed = true; return s }())},
	}
	errs := []FileError{{File: "broken.json", Message: "not a JSON inventory"}}
	f := Merge(reports, errs)

	if f.Kind != "fleet" || f.SchemaVersion != SchemaVersion {
		t.Errorf("kind %q schema %d", f.Kind, f.SchemaVersion)
	}
	if len(f.Machines) != 4 {
		t.Fatalf("machines = %+v, want 4 inventories", f.Machines)
	}
	var names []string
	for _, m := range f.Machines {
		names = append(names, m.Name)
	}
	if want := []string{"c.json", "host-a", "host-a", "host-b"}; !reflect.DeepEqual(names, want) {
		t.Errorf("machine names = %q, want %q", names, want)
	}

	if len(f.Servers) != 2 {
		t.Fatalf("servers = %+v", f.Servers)
	}
	g := f.Servers[0]
	if g.Identity != gh || g.Machines != 3 || g.Entries != 4 || g.Governed != 1 {
		t.Errorf("github row = %+v, want 3 machines (host-a, host-b, c.json), 4 entries, 1 governed", g)
	}
	if want := []string{"gh", "github"}; !reflect.DeepEqual(g.Names, want) {
		t.Errorf("names = %q, want %q", g.Names, want)
	}
	if want := []string{"cursor", "vscode", "zed"}; !reflect.DeepEqual(g.Clients, want) {
		t.Errorf("clients = %q, want %q", g.Clients, want)
	}
	if want := []string{"c.json", "host-a", "host-b"}; !reflect.DeepEqual(g.Hosts, want) {
		t.Errorf("hosts = %q, want %q", g.Hosts, want)
	}
	wantG := []RuleRollup{
		{Rule: RulePlaintextSecret, Severity: finding.SeverityCritical, Findings: 2, Machines: 1},
		{Rule: RuleNotGoverned, Severity: finding.SeverityLow, Findings: 3, Machines: 2},
	}
	if !reflect.DeepEqual(g.Findings, wantG) {
		t.Errorf("github rollups = %+v, want %+v", g.Findings, wantG)
	}

	wantAll := []RuleRollup{
		{Rule: RulePlaintextSecret, Severity: finding.SeverityCritical, Findings: 2, Machines: 1},
		{Rule: RuleUnpinnedPackage, Severity: finding.SeverityMedium, Findings: 1, Machines: 1},
		{Rule: RuleNotGoverned, Severity: finding.SeverityLow, Findings: 4, Machines: 2},
	}
	if !reflect.DeepEqual(f.Findings, wantAll) {
		t.Errorf("fleet rollups = %+v, want %+v", f.Findings, wantAll)
	}
	if !reflect.DeepEqual(f.Errors, errs) {
		t.Errorf("errors = %+v", f.Errors)
	}
}

func TestMergeSortsByMachinesThenIdentity(t *testing.T) {
	f := Merge([]NamedReport{
		{"a", rep("a", "/h", t0, srv("z", "z", ClientCursor), srv("b", "b", ClientCursor), srv("a", "a", ClientCursor))},
		{"b", rep("b", "/h", t0, srv("z", "z", ClientCursor))},
	}, nil)
	var ids []string
	for _, s := range f.Servers {
		ids = append(ids, s.Identity)
	}
	if want := []string{"z", "a", "b"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("order = %q, want %q", ids, want)
	}
}

func TestMergeEmpty(t *testing.T) {
	f := Merge(nil, nil)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"machines":[]`, `"servers":[]`, `"findings":[]`, `"errors":[]`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("empty fleet JSON %s lacks %s", b, field)
		}
	}
}

func TestMergeCatalogKept(t *testing.T) {
	s := srv("npm:x@1.0.0", "x", ClientCursor)
	s.Catalog = &CatalogRef{ID: "x", Status: "approved"}
	f := Merge([]NamedReport{{"a", rep("a", "/h", t0, srv("npm:x@1.0.0", "x", ClientZed))}, {"b", rep("b", "/h", t0, s)}}, nil)
	if c := f.Servers[0].Catalog; c == nil || c.ID != "x" {
		t.Errorf("catalog = %+v", c)
	}
}

func TestReadReport(t *testing.T) {
	in := rep("ann-laptop", "/home/ann", t0, srv("npm:x@1.0.0", "x", ClientCursor, fnd(RuleNotGoverned, finding.SeverityLow)))
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("round trip:\n got  %+v\n want %+v", got, in)
	}
}

func TestReadReportRejects(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"missing schemaVersion", `{"host": {"name": "x"}, "servers": []}`,
			"not an mcpgov inventory: schemaVersion is missing (produce one with `mcpgov scan --format json`)"},
		{"schemaVersion 0", `{"schemaVersion": 0, "servers": []}`,
			"not an mcpgov inventory: schemaVersion is missing (produce one with `mcpgov scan --format json`)"},
		{"too new", `{"schemaVersion": 99, "servers": []}`,
			"inventory schemaVersion 99 is newer than this mcpgov understands (1); upgrade mcpgov"},
		// Bug: a negative version passed the "missing" and "too new" checks.
		{"negative", `{"schemaVersion": -1, "servers": []}`,
			"not an mcpgov inventory: schemaVersion -1 is not a version"},
		// Bug: a fleet view (merge output) was read as an empty inventory of
		// an unnamed machine.
		{"fleet view", `{"schemaVersion": 1, "kind": "fleet", "machines": [], "servers": []}`,
			"not an inventory: this is a fleet view (mcpgov merge output); merge the per-machine inventories instead"},
		{"not JSON", `schemaVersion: 1`, "not a JSON inventory: invalid character 's' looking for beginning of value"},
		{"array", `[]`, "not a JSON inventory: json: cannot unmarshal array into Go value of type scan.Report"},
		{"empty", ``, "not a JSON inventory: EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadReport(strings.NewReader(c.in))
			if err == nil || err.Error() != c.want {
				t.Errorf("err = %v\nwant %s", err, c.want)
			}
		})
	}
}
