package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// Fleet is the combined inventory of many machines: one row per server
// identity, with how many machines and clients use it.
type Fleet struct {
	SchemaVersion int            `json:"schemaVersion"`
	Kind          string         `json:"kind"`
	Machines      []FleetMachine `json:"machines"`
	Servers       []FleetServer  `json:"servers"`
	Findings      []RuleRollup   `json:"findings"`
	Errors        []FileError    `json:"errors"`
}

// FleetMachine is one inventory that went into the fleet view.
type FleetMachine struct {
	Name      string    `json:"name"`
	Home      string    `json:"home,omitempty"`
	OS        string    `json:"os"`
	ScannedAt time.Time `json:"scannedAt"`
	Source    string    `json:"source"`
	Servers   int       `json:"servers"`
	Errors    int       `json:"errors"`
}

// FleetServer is one server identity across the fleet.
type FleetServer struct {
	Identity  string       `json:"identity"`
	Transport Transport    `json:"transport"`
	Names     []string     `json:"names"`
	Clients   []string     `json:"clients"`
	Machines  int          `json:"machines"`
	Entries   int          `json:"entries"`
	Governed  int          `json:"governed"`
	Catalog   *CatalogRef  `json:"catalog,omitempty"`
	Findings  []RuleRollup `json:"findings"`
	Hosts     []string     `json:"hosts"`
}

// RuleRollup counts one rule's findings.
type RuleRollup struct {
	Rule     string           `json:"rule"`
	Severity finding.Severity `json:"severity"` // the highest seen
	Findings int              `json:"findings"`
	Machines int              `json:"machines"`
}

// ReadReport decodes one JSON inventory and checks its schema version.
func ReadReport(r io.Reader) (*Report, error) {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON inventory: %w", err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("not a JSON inventory: %w", err)
	}
	// A fleet view has a schemaVersion too; read as a report it was an
	// empty inventory of an unnamed machine.
	var kind struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(raw, &kind)
	switch {
	case kind.Kind == "fleet":
		return nil, fmt.Errorf("not an inventory: this is a fleet view (mcpgov merge output); merge the per-machine inventories instead")
	case rep.SchemaVersion == 0:
		return nil, fmt.Errorf("not an mcpgov inventory: schemaVersion is missing (produce one with `mcpgov scan --format json`)")
	case rep.SchemaVersion < 0:
		return nil, fmt.Errorf("not an mcpgov inventory: schemaVersion %d is not a version", rep.SchemaVersion)
	case rep.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("inventory schemaVersion %d is newer than this mcpgov understands (%d); upgrade mcpgov", rep.SchemaVersion, SchemaVersion)
	}
	return &rep, nil
}

// NamedReport is an inventory and where it came from.
type NamedReport struct {
	Source string
	Report *Report
}

// Merge combines inventories. An inventory is one home on one host; when
// the same one appears more than once, the newest wins, so re-running a
// fleet collection does not double count. Machines are counted by host name.
func Merge(reports []NamedReport, errs []FileError) *Fleet {
	latest := map[string]NamedReport{}
	var order []string
	for _, nr := range reports {
		key := nr.Report.Host.Name + "\x00" + nr.Report.Host.Home
		if nr.Report.Host.Name == "" {
			key = nr.Source
		}
		prev, ok := latest[key]
		if !ok {
			order = append(order, key)
		}
		if !ok || nr.Report.Host.ScannedAt.After(prev.Report.Host.ScannedAt) {
			latest[key] = nr
		}
	}
	sort.Strings(order)

	type agg struct {
		srv      FleetServer
		names    map[string]bool
		clients  map[string]bool
		hosts    map[string]bool
		findings map[string]*RuleRollup
		fhosts   map[string]map[string]bool
	}
	byID := map[string]*agg{}
	global := map[string]*RuleRollup{}
	globalHosts := map[string]map[string]bool{}
	f := &Fleet{SchemaVersion: SchemaVersion, Kind: "fleet", Machines: []FleetMachine{}, Servers: []FleetServer{}, Findings: []RuleRollup{}, Errors: append([]FileError{}, errs...)}

	for _, key := range order {
		nr := latest[key]
		rep := nr.Report
		host := rep.Host.Name
		if host == "" {
			host = nr.Source
		}
		f.Machines = append(f.Machines, FleetMachine{Name: host, Home: rep.Host.Home, OS: rep.Host.OS, ScannedAt: rep.Host.ScannedAt, Source: nr.Source, Servers: len(rep.Servers), Errors: len(rep.Errors)})
		for _, s := range rep.Servers {
			a := byID[s.Identity]
			if a == nil {
				a = &agg{srv: FleetServer{Identity: s.Identity, Transport: s.Transport}, names: map[string]bool{}, clients: map[string]bool{}, hosts: map[string]bool{}, findings: map[string]*RuleRollup{}, fhosts: map[string]map[string]bool{}}
				byID[s.Identity] = a
			}
			a.srv.Entries++
			if s.Governed {
				a.srv.Governed++
			}
			if s.Catalog != nil {
				a.srv.Catalog = s.Catalog
			}
			a.names[s.Name] = true
			a.clients[s.Client] = true
			a.hosts[host] = true
			for _, fd := range s.Findings {
				roll(a.findings, a.fhosts, fd, host)
				roll(global, globalHosts, fd, host)
			}
		}
	}
	for _, a := range byID {
		a.srv.Names, a.srv.Clients, a.srv.Hosts = keys(a.names), keys(a.clients), keys(a.hosts)
		a.srv.Machines = len(a.hosts)
		a.srv.Findings = rollups(a.findings, a.fhosts)
		f.Servers = append(f.Servers, a.srv)
	}
	sort.Slice(f.Servers, func(i, j int) bool {
		a, b := f.Servers[i], f.Servers[j]
		if a.Machines != b.Machines {
			return a.Machines > b.Machines
		}
		return a.Identity < b.Identity
	})
	f.Findings = rollups(global, globalHosts)
	return f
}

func roll(m map[string]*RuleRollup, hosts map[string]map[string]bool, fd finding.Finding, host string) {
	r := m[fd.Rule]
	if r == nil {
		r = &RuleRollup{Rule: fd.Rule, Severity: fd.Severity}
		m[fd.Rule] = r
		hosts[fd.Rule] = map[string]bool{}
	}
	r.Findings++
	if fd.Severity.Rank() > r.Severity.Rank() {
		r.Severity = fd.Severity
	}
	hosts[fd.Rule][host] = true
}

func rollups(m map[string]*RuleRollup, hosts map[string]map[string]bool) []RuleRollup {
	out := make([]RuleRollup, 0, len(m))
	for rule, r := range m {
		r.Machines = len(hosts[rule])
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Severity.Rank() != out[j].Severity.Rank() {
			return out[i].Severity.Rank() > out[j].Severity.Rank()
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
