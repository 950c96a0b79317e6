package policy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
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

// TestBuildInputForProjectsAlike: the input built with only the members
// the policies read is what the whole input projects to, for each shape
// of use, with facts, findings and arguments in play.
func TestBuildInputForProjectsAlike(t *testing.T) {
	b := bundle(t, "")
	srv := b.Catalog.Server("everything")
	payload, err := guard.Decode(json.RawMessage(`{"q":"select 1","n":[1,2]}`), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	results := []guard.Result{{Name: "sql", Kind: "sql", Hook: guard.HookPre, Mode: guard.ModeEnforce, Verdict: "fail",
		Findings: []guard.Finding{{Rule: "tautology", Message: "q: a tautology"}}}}
	call := &enforce.Call{Tool: "echo", Identity: engineer, Client: audit.Client{Name: "c", Version: "1"},
		Annotations: json.RawMessage(`{"readOnlyHint":true}`),
		Facts: &enforce.FactsView{Calls: 3, Servers: []string{"everything"}, Untrusted: true,
			Taint: map[string]enforce.Taint{"untrusted": {Server: "everything", Tool: "fetch", Call: 2}}}}
	uses := []inputUse{
		{all: true},
		{roots: map[string]map[string]bool{}},
		{roots: map[string]map[string]bool{"tool": nil, "session": {"untrusted": true, "taint": true}}},
		{roots: map[string]map[string]bool{"identity": {"groups": true}, "server": {"id": true, "known": true}, "hook": nil}},
		{roots: map[string]map[string]bool{"arguments": nil, "findings": nil, "client": {"name": true}}},
		{roots: map[string]map[string]bool{"arguments_omitted": nil, "guardrails": nil, "nothing": nil}},
		{roots: map[string]map[string]bool{"arguments": {"q": true, "x": true}, "guardrails": {"sql": true}, "hook": {"x": true},
			"session": {"calls": true, "taint": true, "nothing": true}, "tool": {"egress": true}, "server": {"groups": true, "data_scope": true}}},
		{roots: map[string]map[string]bool{"identity": {"authenticated": true, "method": true}, "client": {"version": true}, "findings": {"x": true},
			"session": {"servers": true, "tools": true, "data_classes": true}, "tool": {"annotations": true, "untrusted": true, "name": true}}},
	}
	for _, server := range []*catalog.Server{srv, nil} {
		whole := buildInput(guard.HookPre, server, call, payload, results)
		if want := wholeInput(guard.HookPre, server, call); !reflect.DeepEqual(whole, want) {
			t.Errorf("whole input, server %v:\n got %v\nwant %v", server != nil, whole, want)
		}
		for _, u := range uses {
			got := buildInputFor(u, guard.HookPre, server, call, payload, results)
			if want := u.project(whole); !reflect.DeepEqual(got, want) {
				t.Errorf("use %+v, server %v:\n got %v\nwant %v", u, server != nil, got, want)
			}
		}
	}
}

// wholeInput is the whole policy input as the schema describes it for the
// call with TestBuildInputForProjectsAlike's arguments and sql finding,
// built member by member apart from buildInput: what buildInput must
// build, whose projections buildInputFor must build alike.
func wholeInput(hook string, server *catalog.Server, call *enforce.Call) map[string]any {
	id := call.Identity
	groups := make([]any, 0, len(id.Groups))
	for _, g := range id.Groups {
		groups = append(groups, g)
	}
	srv := map[string]any{"known": server != nil, "id": "", "status": "", "risk": "", "groups": []any{}, "data_scope": []any{}, "owner": ""}
	if server != nil {
		srv = map[string]any{
			"known": true, "id": server.ID, "status": string(server.Status), "risk": string(server.Risk),
			"groups": anyStrings(server.Groups), "data_scope": anyStrings(server.DataScope), "owner": server.Owner,
		}
	}
	annotations := map[string]any{}
	if len(call.Annotations) > 0 {
		_ = json.Unmarshal(call.Annotations, &annotations)
	}
	egress, untrusted := false, false
	if server != nil {
		egress, untrusted = server.ToolEgress(call.Tool), server.ToolUntrusted(call.Tool)
	}
	// The arguments decoded as the policies see them (numbers kept as
	// written), under the size that leaves them out.
	args := map[string]any{"q": "select 1", "n": []any{json.Number("1"), json.Number("2")}}
	gr := map[string]any{"sql": map[string]any{"kind": "sql", "mode": guard.ModeEnforce, "verdict": "fail", "rules": []any{"tautology"}}}
	findings := []any{map[string]any{"guardrail": "sql", "rule": "tautology", "message": "q: a tautology"}}
	f := call.Facts
	if f == nil {
		f = &enforce.FactsView{}
	}
	taint := map[string]any{}
	for k, t := range f.Taint {
		taint[k] = map[string]any{"server": t.Server, "tool": t.Tool, "call": t.Call, "record": t.Record,
			"time": t.Time.Format("2006-01-02T15:04:05Z"), "why": t.Why}
	}
	return map[string]any{
		"hook": hook,
		"session": map[string]any{
			"calls": f.Calls, "servers": anyStrings(f.Servers), "tools": anyStrings(f.Tools),
			"data_classes": anyStrings(f.DataClasses), "untrusted": f.Untrusted, "taint": taint,
		},
		"identity": map[string]any{
			"subject": id.Subject, "email": id.Email, "name": id.Name, "groups": groups,
			"issuer": id.Issuer, "method": methodOrNone(id.Method), "authenticated": id.Authenticated(),
		},
		"client":    map[string]any{"name": call.Client.Name, "version": call.Client.Version},
		"server":    srv,
		"tool":      map[string]any{"name": call.Tool, "annotations": annotations, "egress": egress, "untrusted": untrusted},
		"arguments": args, "arguments_omitted": false,
		"guardrails": gr, "findings": findings,
	}
}
