package enforce

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
)

// TestFactsKeepTheFirstTaint: each fact names the first call that
// established it, from the catalog's data scope, a tool annotated
// openWorldHint, and post guardrail findings by kind.
func TestFactsKeepTheFirstTaint(t *testing.T) {
	var f Facts
	crm := &catalog.Server{ID: "crm", DataScope: []string{"customers", "none"}}
	web := &catalog.Server{ID: "web"}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.observe(crm, "crm", &Call{Tool: "get"}, []Guardrail{{Name: "pii", Kind: "pii", Hook: "pre", Findings: []Finding{{Rule: "pii.email"}}}}, "r1", now)
	f.observe(web, "web", &Call{Tool: "fetch", Annotations: json.RawMessage(`{"openWorldHint":true}`)},
		[]Guardrail{{Name: "mypii", Kind: "pii", Hook: "post", Findings: []Finding{{Rule: "pii.phone"}, {Rule: "pii.phone"}}}}, "r2", now)
	f.observe(web, "web", &Call{Tool: "fetch", Annotations: json.RawMessage(`{"openWorldHint":true}`)}, nil, "r3", now)
	v := f.View()
	if v.Calls != 3 || len(v.Servers) != 2 || len(v.Tools) != 2 || !v.Untrusted {
		t.Fatalf("view %+v", v)
	}
	if got := v.DataClasses; len(got) != 2 || got[0] != "customers" || got[1] != "pii" {
		t.Errorf("data classes %v: want customers (data scope, none left out) and pii (a post finding only)", got)
	}
	if u := v.Taint["untrusted"]; u.Call != 2 || u.Record != "r2" || u.Tool != "fetch" {
		t.Errorf("untrusted taint %+v: want the first fetch", u)
	}
	if p := v.Taint["data:pii"]; p.Why != "guardrail mypii found pii.phone in its result" {
		t.Errorf("pii taint %+v", p)
	}
}

// TestOpenWorldSpellings: annotations skipped without decoding are those
// that cannot name openWorldHint as encoding/json reads names.
func TestOpenWorldSpellings(t *testing.T) {
	for ann, want := range map[string]bool{
		``:                                   false,
		`{"openWorldHint":true}`:             true,
		`{"openWorldHint":false}`:            false,
		`{"OPENWORLDHINT":true}`:             true,
		`{"openWorld\u0048int":true}`:        true,
		`{"readOnlyHint":true,"title":"x"}`:  false,
		`{"title":"openWorldHint"}`:          false,
		`{"title":"é","openworldhint":true}`: true,
	} {
		if got := openWorld(json.RawMessage(ann)); got != want {
			t.Errorf("openWorld(%s) = %v, want %v", ann, got, want)
		}
	}
}

// TestFactsOpenWorldAfterOtherAnnotations: the annotations remembered
// from one call do not stand for another tool's.
func TestFactsOpenWorldAfterOtherAnnotations(t *testing.T) {
	var f Facts
	web := &catalog.Server{ID: "web"}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	closed := json.RawMessage(`{"openWorldHint":false,"readOnlyHint":true}`)
	f.observe(web, "web", &Call{Tool: "echo", Annotations: closed}, nil, "r1", now)
	f.observe(web, "web", &Call{Tool: "echo", Annotations: closed}, nil, "r2", now)
	f.observe(web, "web", &Call{Tool: "plain"}, nil, "r3", now)
	if f.View().Untrusted {
		t.Fatal("untrusted after tools annotated closed-world or not at all")
	}
	f.observe(web, "web", &Call{Tool: "fetch", Annotations: json.RawMessage(`{"openWorldHint":true}`)}, nil, "r4", now)
	if u := f.View().Taint["untrusted"]; u.Record != "r4" {
		t.Errorf("untrusted taint %+v: want the fetch", u)
	}
}
