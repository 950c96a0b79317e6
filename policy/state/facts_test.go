package state_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisSessionFacts: facts saved by two replicas of one session
// merge (union of servers and tools, the first taint of each fact kept,
// the larger call count); a session with none has none; restored facts
// tell their hook only when a call adds a fact.
func TestRedisSessionFacts(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()), open(t, srv.URL())
	if _, ok, err := a.LoadFacts(ctx, "sess-1"); ok || err != nil {
		t.Fatalf("facts of an unknown session: %v %v", ok, err)
	}
	t1 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	first := enforce.Taint{Server: "crm", Tool: "get", Call: 1, Record: "r1", Time: t1, Why: "the catalog's data_scope of crm"}
	later := enforce.Taint{Server: "hr", Tool: "get", Call: 3, Record: "r3", Time: t1.Add(time.Minute), Why: "guardrail pii"}
	web := enforce.Taint{Server: "web", Tool: "fetch", Call: 2, Record: "r2", Time: t1, Why: "openWorldHint"}
	if err := a.SaveFacts(ctx, "sess-1", enforce.FactsState{Calls: 1, Servers: []string{"crm"}, Tools: []string{"crm/get"}, Classes: map[string]enforce.Taint{"pii": first}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveFacts(ctx, "sess-1", enforce.FactsState{Calls: 3, Servers: []string{"hr", "web"}, Tools: []string{"hr/get", "web/fetch"}, Classes: map[string]enforce.Taint{"pii": later}, Untrusted: &web}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := a.LoadFacts(ctx, "sess-1")
	want := enforce.FactsState{Calls: 3, Servers: []string{"crm", "hr", "web"}, Tools: []string{"crm/get", "hr/get", "web/fetch"}, Classes: map[string]enforce.Taint{"pii": first}, Untrusted: &web}
	if !ok || err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("merged facts = %+v (%v %v)\nwant %+v", got, ok, err, want)
	}
	var told []enforce.FactsState
	f := enforce.RestoreFacts(got, func(s enforce.FactsState) { told = append(told, s) })
	if v := f.View(); v.Calls != 3 || !v.Untrusted || v.Taint["data:pii"] != first {
		t.Fatalf("restored view %+v", v)
	}
	crm := &enforce.Call{Tool: "get"}
	f.Observe(nil, "crm", crm, nil, "r4", t1.Add(2*time.Minute))
	if len(told) != 0 {
		t.Fatalf("a call that adds no fact was reported: %+v", told)
	}
	f.Observe(nil, "notes", &enforce.Call{Tool: "list"}, nil, "r5", t1.Add(3*time.Minute))
	if len(told) != 1 || told[0].Calls != 5 || !slices.Contains(told[0].Tools, "notes/list") {
		t.Fatalf("a call on a new server: %+v", told)
	}
}
