package scan

import (
	"slices"

	"github.com/mcpgov/mcpgov/scan/fleet"
)

// FleetUpload is the part of r a machine sends to the gateway's fleet
// inventory (`mcpgov scan --upload`): server identities, names, clients
// and what the catalog said — no file path, user name, argument, header or
// environment value. machineID comes from fleet.MachineID.
func (r Report) FleetUpload(machineID string) fleet.Upload {
	u := fleet.Upload{
		SchemaVersion: fleet.SchemaVersion,
		Machine:       fleet.Machine{ID: machineID, Name: r.Host.Name, OS: r.Host.OS, Arch: r.Host.Arch, Scanner: r.Host.Scanner},
		ScannedAt:     r.Host.ScannedAt,
		Servers:       make([]fleet.Server, 0, len(r.Servers)),
	}
	for _, s := range r.Servers {
		e := fleet.Server{
			Identity: s.Identity, Name: s.Name, Client: s.Client, Scope: string(s.Scope),
			Transport: string(s.Transport), Governed: s.Governed, Disabled: s.Disabled,
		}
		if s.Catalog != nil {
			e.Catalog, e.Status = s.Catalog.ID, s.Catalog.Status
		}
		for _, f := range s.Findings {
			if f.Rule == "shadow" {
				e.Shadow = true
			}
			if !slices.Contains(e.Findings, f.Rule) {
				e.Findings = append(e.Findings, f.Rule)
			}
		}
		u.Servers = append(u.Servers, e)
	}
	return u
}
