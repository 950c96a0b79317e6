package policy

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcpgov/mcpgov/policy/enforce"
)

func TestReadsInputProjects(t *testing.T) {
	src := `package mcpgov.authz

import input.tool as tool

decision := {"allow": allowed, "reasons": [input.server.id]}

allowed if {
	tool.name == "echo"
	not input.session.untrusted
	input.identity.groups[_] == "eng"
	count(input.session.taint) == 0
}
`
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies", "p.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, mods, err := compile(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	u := readsInput(mods)
	in := map[string]any{
		"tool":      map[string]any{"name": "echo", "egress": true},
		"server":    map[string]any{"id": "a", "owner": "x"},
		"identity":  map[string]any{"groups": []any{"eng"}, "subject": "ann"},
		"session":   map[string]any{"calls": 7, "untrusted": false, "taint": map[string]any{}},
		"arguments": map[string]any{"q": "x"},
	}
	want := map[string]any{
		"tool":     map[string]any{"name": "echo", "egress": true}, // the import reads it whole
		"server":   map[string]any{"id": "a"},
		"identity": map[string]any{"groups": []any{"eng"}},
		"session":  map[string]any{"untrusted": false, "taint": map[string]any{}},
	}
	if got := u.project(in); !reflect.DeepEqual(got, want) {
		t.Errorf("project = %v\nwant %v", got, want)
	}
	if u.reads("arguments") || !u.reads("session") {
		t.Errorf("reads: arguments %v, session %v", u.reads("arguments"), u.reads("session"))
	}
}

type namedString string

func TestAppendKeyDistinguishes(t *testing.T) {
	values := []any{
		nil, true, false, "", "a", "ab", 1, 12, 1.5, "i1;", []any{}, []any{"a"}, []any{"a", "b"}, []any{[]any{"a"}, "b"},
		map[string]any{}, map[string]any{"a": "b"}, map[string]any{"a": "b", "c": 1}, map[string]any{"ab": ""},
		map[string]any{"a": map[string]any{"b": true}}, namedString("allow2"),
	}
	seen := map[string]int{}
	for i, v := range values {
		k, ok := appendKey(nil, v)
		if !ok {
			t.Fatalf("appendKey(%#v) not ok", v)
		}
		if j, dup := seen[string(k)]; dup {
			t.Errorf("values %#v and %#v share the key %q", values[j], v, k)
		}
		seen[string(k)] = i
	}
	a, _ := appendKey(nil, map[string]any{"x": 1, "y": []any{"z"}})
	b, _ := appendKey(nil, map[string]any{"y": []any{"z"}, "x": 1})
	if string(a) != string(b) {
		t.Errorf("equal maps give %q and %q", a, b)
	}
	if _, ok := appendKey(nil, struct{}{}); ok {
		t.Error("an unknown type must not be cached")
	}
}

// TestDecisionCacheIgnoresUnreadFacts: the session's call counter changes
// on every call; a policy that does not read it still hits the cache, and
// one that reads taint sees a taint change.
func TestDecisionCacheIgnoresUnreadFacts(t *testing.T) {
	b := bundle(t, "")
	p, err := Load(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := p.st.Load()
	srv := b.Catalog.Server("everything")
	ctx := context.Background()
	for i := range 5 {
		call := &enforce.Call{Tool: "echo", Identity: engineer, Facts: &enforce.FactsView{Calls: i}}
		if d, err := p.Decide(ctx, srv, call); err != nil || !d.Allow {
			t.Fatalf("call %d: %+v %v", i, d, err)
		}
	}
	st.decMu.Lock()
	n := len(st.decisions)
	st.decMu.Unlock()
	if n != 1 {
		t.Errorf("%d cached decisions for 5 calls that differ only in the call counter; want 1", n)
	}
}
