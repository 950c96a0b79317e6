package state_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/scan/fleet"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func fleetUpload(machine string, ids ...string) fleet.Upload {
	u := fleet.Upload{SchemaVersion: fleet.SchemaVersion, Machine: fleet.Machine{ID: machine, Name: "host-" + machine, OS: "linux"}}
	for _, id := range ids {
		u.Servers = append(u.Servers, fleet.Server{Identity: id, Name: id, Client: "cursor", Shadow: strings.HasPrefix(id, "shadow")})
	}
	return u
}

// TestRedisFleetMatchesEmbedded: uploads through two replicas of one
// Redis give the inventory fleet.State gives with the same uploads in
// one process (the embedded store's model): the same machines,
// sightings, first/last-seen times, servers and teams.
func TestRedisFleetMatchesEmbedded(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()).Fleet(), open(t, srv.URL()).Fleet()
	var want fleet.State
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	eng := fleet.Uploader{Subject: "ann", Method: "jwt", Groups: []string{"eng"}}
	ops := fleet.Uploader{Subject: "ci", Method: "service"}
	steps := []struct {
		u  fleet.Upload
		by fleet.Uploader
	}{
		{fleetUpload("m1", "npm:a", "shadow:b"), eng},
		{fleetUpload("m2", "shadow:b"), ops},
		{fleetUpload("m1", "npm:a"), eng}, // shadow:b removed from m1: kept, last seen earlier
		{fleetUpload("m3", "npm:a", "url:https://x.example/mcp"), eng},
		{fleetUpload("m2", "shadow:b", "npm:c"), ops},
	}
	for i, s := range steps {
		now := t0.Add(time.Duration(i) * time.Hour)
		wantRes := want.Apply(s.u, s.by, now)
		st := a
		if i%2 == 1 {
			st = b
		}
		res, err := st.Record(ctx, s.u, s.by, now)
		if err != nil {
			t.Fatal(err)
		}
		if res != wantRes {
			t.Fatalf("step %d: result %+v, want %+v", i, res, wantRes)
		}
	}
	got, err := b.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Sightings are listed machine by machine in store order; the
	// embedded file keeps them in upload order across machines.
	w := want.Summarize()
	for _, l := range [][]fleet.Sighting{got.Sightings, w.Sightings} {
		slices.SortStableFunc(l, func(x, y fleet.Sighting) int { return strings.Compare(x.Machine, y.Machine) })
	}
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("inventory through Redis:\n%+v\nwant (one process):\n%+v", got, w)
	}
	if len(got.Machines) != 3 || len(got.Sightings) != 6 {
		t.Fatalf("machines %d, sightings %d; want 3 and 6", len(got.Machines), len(got.Sightings))
	}
}

// TestRedisFleetConcurrentUploads: 16 uploads of one machine at once
// through two replicas, each naming one server of its own: none is lost
// (each optimistic transaction that lost a race is run again), so the
// machine has 16 sightings.
func TestRedisFleetConcurrentUploads(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()).Fleet(), open(t, srv.URL()).Fleet()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			_, err := st.Record(ctx, fleetUpload("m1", fmt.Sprintf("npm:pkg-%02d", i)), fleet.Uploader{Subject: "ann"}, now)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	inv, err := a.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Machines) != 1 || len(inv.Sightings) != 16 {
		t.Fatalf("machines %d, sightings %d; want 1 and 16 (an upload was lost)", len(inv.Machines), len(inv.Sightings))
	}
}
