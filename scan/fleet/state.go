package fleet

import (
	"cmp"
	"slices"
	"time"
)

// State is everything the gateway remembers of the fleet: each machine and
// each (machine, server) sighting. Its JSON form is what the embedded
// store writes; Apply and Summarize are the only ways to change and read
// it, so every store behaves alike.
type State struct {
	Version   int            `json:"version"`
	Machines  []MachineState `json:"machines"`
	Sightings []Sighting     `json:"sightings"`
}

// MachineState is a machine as last reported.
type MachineState struct {
	Machine
	Uploader  Uploader  `json:"uploader"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	ScannedAt time.Time `json:"scannedAt"`
	Servers   int       `json:"servers"`
}

// Sighting is one server on one machine: when it was first and last
// reported there. A machine's entries with the same identity (the same
// server configured in two clients) are one sighting.
type Sighting struct {
	Machine   string    `json:"machine"`
	Identity  string    `json:"identity"`
	Names     []string  `json:"names"`
	Clients   []string  `json:"clients"`
	Transport string    `json:"transport"`
	Catalog   string    `json:"catalog,omitempty"`
	Status    string    `json:"status,omitempty"`
	Shadow    bool      `json:"shadow"`
	Governed  bool      `json:"governed"`
	Findings  []string  `json:"findings,omitempty"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

const maxNames = 8 // distinct names or clients kept per sighting

// Apply records upload u from by at now and returns what it changed. A
// sighting keeps its first-seen time across uploads; one missing from the
// machine's latest upload is kept (its last-seen time says when it went)
// so the history survives a server being removed and added back.
func (s *State) Apply(u Upload, by Uploader, now time.Time) Result {
	s.Version = SchemaVersion
	now = now.UTC()
	mi := slices.IndexFunc(s.Machines, func(m MachineState) bool { return m.ID == u.Machine.ID })
	if mi < 0 {
		s.Machines = append(s.Machines, MachineState{FirstSeen: now})
		mi = len(s.Machines) - 1
	}
	m := &s.Machines[mi]
	m.Machine, m.Uploader, m.LastSeen, m.ScannedAt = u.Machine, by, now, u.ScannedAt.UTC()

	index := map[string]int{}
	for i, g := range s.Sightings {
		if g.Machine == u.Machine.ID {
			index[g.Identity] = i
		}
	}
	res := Result{Machine: u.Machine.ID}
	seen := map[string]bool{}
	for _, e := range u.Servers {
		i, ok := index[e.Identity]
		if !ok {
			s.Sightings = append(s.Sightings, Sighting{Machine: u.Machine.ID, Identity: e.Identity, FirstSeen: now})
			i = len(s.Sightings) - 1
			index[e.Identity] = i
			res.New++
		}
		g := &s.Sightings[i]
		if !seen[e.Identity] {
			// The first entry of this upload resets what the last upload
			// said; later entries with the same identity add to it.
			seen[e.Identity] = true
			g.Names, g.Clients, g.Findings = nil, nil, nil
			g.Shadow, g.Governed = false, false
			res.Servers++
		}
		g.LastSeen = now
		g.Names = addDistinct(g.Names, e.Name)
		g.Clients = addDistinct(g.Clients, e.Client)
		g.Transport, g.Catalog, g.Status = e.Transport, e.Catalog, e.Status
		g.Shadow = g.Shadow || e.Shadow
		g.Governed = g.Governed || e.Governed
		for _, f := range e.Findings {
			g.Findings = addDistinct(g.Findings, f)
		}
	}
	m.Servers = res.Servers
	return res
}

func addDistinct(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) || len(list) >= maxNames {
		return list
	}
	return append(list, v)
}

// Inventory is the fleet as `mcpgov gateway inventory` shows it.
type Inventory struct {
	SchemaVersion int            `json:"schemaVersion"`
	Servers       []ServerState  `json:"servers"`
	Machines      []MachineState `json:"machines"`
	Teams         []Team         `json:"teams"`
	Sightings     []Sighting     `json:"sightings"`
}

// ServerState is one server identity across the fleet.
type ServerState struct {
	Identity string   `json:"identity"`
	Names    []string `json:"names"`
	Catalog  string   `json:"catalog,omitempty"`
	Status   string   `json:"status,omitempty"`
	Shadow   bool     `json:"shadow"`
	// Machines counts the machines whose latest upload has it; Ever
	// counts every machine that ever reported it.
	Machines  int       `json:"machines"`
	Ever      int       `json:"ever"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Team is one group of uploaders: how many machines its members scanned
// and how many shadow servers (outside the catalog) those machines run.
type Team struct {
	Team     string `json:"team"`
	Machines int    `json:"machines"`
	// Shadow counts the distinct shadow servers on the team's machines
	// now; ShadowEntries counts them per machine.
	Shadow        int `json:"shadow"`
	ShadowEntries int `json:"shadowEntries"`
}

// NoTeam is the team of uploaders without groups.
const NoTeam = "(no group)"

// current reports whether g was in its machine's latest upload.
func current(g Sighting, last map[string]time.Time) bool {
	return !g.LastSeen.Before(last[g.Machine])
}

// Summarize returns the inventory view of s.
func (s *State) Summarize() Inventory {
	inv := Inventory{SchemaVersion: SchemaVersion, Machines: slices.Clone(s.Machines), Sightings: slices.Clone(s.Sightings)}
	last := map[string]time.Time{}
	teamsOf := map[string][]string{}
	for _, m := range s.Machines {
		last[m.ID] = m.LastSeen
		teamsOf[m.ID] = m.Uploader.Groups
		if len(m.Uploader.Groups) == 0 {
			teamsOf[m.ID] = []string{NoTeam}
		}
	}
	byID := map[string]*ServerState{}
	type teamAcc struct {
		machines map[string]bool
		shadow   map[string]bool
		entries  int
	}
	teams := map[string]*teamAcc{}
	for _, m := range s.Machines {
		for _, t := range teamsOf[m.ID] {
			if teams[t] == nil {
				teams[t] = &teamAcc{machines: map[string]bool{}, shadow: map[string]bool{}}
			}
			teams[t].machines[m.ID] = true
		}
	}
	for _, g := range s.Sightings {
		st := byID[g.Identity]
		if st == nil {
			st = &ServerState{Identity: g.Identity, FirstSeen: g.FirstSeen, LastSeen: g.LastSeen, Catalog: g.Catalog, Status: g.Status, Shadow: g.Shadow}
			byID[g.Identity] = st
		}
		st.Ever++
		for _, n := range g.Names {
			st.Names = addDistinct(st.Names, n)
		}
		if g.FirstSeen.Before(st.FirstSeen) {
			st.FirstSeen = g.FirstSeen
		}
		if g.LastSeen.After(st.LastSeen) {
			st.LastSeen = g.LastSeen
			st.Catalog, st.Status, st.Shadow = g.Catalog, g.Status, g.Shadow
		}
		if !current(g, last) {
			continue
		}
		st.Machines++
		if g.Shadow {
			for _, t := range teamsOf[g.Machine] {
				teams[t].shadow[g.Identity] = true
				teams[t].entries++
			}
		}
	}
	for _, st := range byID {
		inv.Servers = append(inv.Servers, *st)
	}
	slices.SortFunc(inv.Servers, func(a, b ServerState) int {
		return cmp.Or(-cmp.Compare(a.Machines, b.Machines), cmp.Compare(a.Identity, b.Identity))
	})
	for name, t := range teams {
		inv.Teams = append(inv.Teams, Team{Team: name, Machines: len(t.machines), Shadow: len(t.shadow), ShadowEntries: t.entries})
	}
	slices.SortFunc(inv.Teams, func(a, b Team) int { return cmp.Compare(a.Team, b.Team) })
	slices.SortFunc(inv.Machines, func(a, b MachineState) int { return cmp.Compare(a.Name+a.ID, b.Name+b.ID) })
	if inv.Servers == nil {
		inv.Servers = []ServerState{}
	}
	if inv.Teams == nil {
		inv.Teams = []Team{}
	}
	if inv.Machines == nil {
		inv.Machines = []MachineState{}
	}
	if inv.Sightings == nil {
		inv.Sightings = []Sighting{}
	}
	return inv
}
