package fleet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeIsStrict(t *testing.T) {
	good := `{"schemaVersion":1,"machine":{"id":"m1","name":"a","os":"linux","arch":"amd64","scanner":"mcpgov"},"scannedAt":"2026-01-01T00:00:00Z","servers":[{"identity":"npm:x","name":"x","client":"cursor","scope":"user","transport":"stdio","shadow":true,"governed":false,"disabled":false}]}`
	if u, err := Decode([]byte(good)); err != nil || len(u.Servers) != 1 || !u.Servers[0].Shadow {
		t.Fatalf("Decode(good) = %+v, %v", u, err)
	}
	for name, body := range map[string]string{
		// Parsers that fold case or keep the first or last duplicate
		// would each read another identity than the one decided on.
		"case-folded key": strings.Replace(good, `"identity":"npm:x"`, `"Identity":"npm:x"`, 1),
		"duplicate key":   strings.Replace(good, `"identity":"npm:x"`, `"identity":"npm:x","identity":"npm:y"`, 1),
		"unknown key":     strings.Replace(good, `"shadow":true`, `"shadow":true,"env":["TOKEN=abc"]`, 1),
		"no machine id":   strings.Replace(good, `"id":"m1"`, `"id":""`, 1),
		"empty identity":  strings.Replace(good, `"identity":"npm:x"`, `"identity":""`, 1),
		"schema 2":        strings.Replace(good, `"schemaVersion":1`, `"schemaVersion":2`, 1),
		"long field":      strings.Replace(good, `"name":"x"`, `"name":"`+strings.Repeat("n", 600)+`"`, 1),
	} {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid", name, err)
		}
	}
}

func upload(machine string, ids ...string) Upload {
	u := Upload{SchemaVersion: 1, Machine: Machine{ID: machine, Name: machine}}
	for _, id := range ids {
		u.Servers = append(u.Servers, Server{Identity: id, Name: id, Client: "cursor", Shadow: strings.HasPrefix(id, "shadow")})
	}
	return u
}

func TestApplyKeepsFirstSeen(t *testing.T) {
	var st State
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	eng := Uploader{Subject: "ann", Method: "jwt", Groups: []string{"eng"}}
	if r := st.Apply(upload("m1", "npm:a", "shadow:b"), eng, t0); r.New != 2 || r.Servers != 2 {
		t.Fatalf("first upload result %+v", r)
	}
	// The same server configured in two clients is one sighting.
	u := upload("m1", "npm:a", "shadow:b")
	u.Servers = append(u.Servers, Server{Identity: "npm:a", Name: "a2", Client: "vscode"})
	if r := st.Apply(u, eng, t0.Add(time.Hour)); r.New != 0 || r.Servers != 2 {
		t.Fatalf("re-upload result %+v, want 0 new of 2", r)
	}
	if g := st.Sightings[0]; len(g.Names) != 2 || len(g.Clients) != 2 {
		t.Errorf("npm:a in two clients = %+v; want one sighting with both names and clients", g)
	}
	st.Apply(upload("m1", "npm:a"), eng, t0.Add(48*time.Hour))
	st.Apply(upload("m2", "shadow:b"), Uploader{Subject: "ci", Method: "service"}, t0.Add(49*time.Hour))
	inv := st.Summarize()
	byID := map[string]ServerState{}
	for _, s := range inv.Servers {
		byID[s.Identity] = s
	}
	a := byID["npm:a"]
	if !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(48*time.Hour)) || a.Machines != 1 || len(a.Names) != 1 {
		t.Errorf("npm:a = %+v; want first seen %s kept, last seen 48h later, 1 machine, the latest upload's one name", a, t0)
	}
	if b := byID["shadow:b"]; b.Machines != 1 || b.Ever != 2 || !b.Shadow {
		t.Errorf("shadow:b = %+v; want shadow, on m2 only now, 2 machines ever", b)
	}
	teams := map[string]Team{}
	for _, tm := range inv.Teams {
		teams[tm.Team] = tm
	}
	if teams["eng"].Shadow != 0 || teams["eng"].Machines != 1 || teams[NoTeam].Shadow != 1 {
		t.Errorf("teams = %+v; want eng 0 shadow now (b left m1), the group-less CI machine 1", inv.Teams)
	}
}

func TestMachineIDHidesTheRawValue(t *testing.T) {
	id := MachineID("4c4c4544-0042-3510")
	if len(id) != 32 || strings.Contains(id, "4c4c4544") || id != MachineID(" 4c4c4544-0042-3510\n") || id == MachineID("other") {
		t.Errorf("MachineID = %q: want a stable 32-hex HMAC that differs per machine", id)
	}
}
