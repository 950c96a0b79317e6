package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// records is a Sink that keeps nothing, like Lines: it is told only of
// records that block or would have.
type records []*audit.Record

func (r *records) Record(_ context.Context, rec *audit.Record) error {
	*r = append(*r, rec)
	return nil
}

func (r *records) Keeps() bool { return false }

func approved() *catalog.Server {
	return &catalog.Server{ID: "s", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"rm*"}}}
}

func TestAdmit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" admitted
	}{
		{"approved", Config{Server: approved(), VersionApproved: true}, ""},
		{"unknown", Config{Launch: "npx x", RequestURL: "https://r"}, `MCP server "npx x" is not in the catalog; request approval at https://r`},
		{"pending", Config{Server: &catalog.Server{ID: "p", Status: catalog.StatusPending}, VersionApproved: true}, "p is pending, not approved"},
		{"blocked", Config{Server: &catalog.Server{ID: "b", Status: catalog.StatusBlocked}, VersionApproved: true}, "b is blocked"},
		{"version", Config{Server: approved()}, "this version of MCP server s"},
		{"no bundle", Config{BundleErr: errors.New("gone")}, "no usable governance bundle"},
		{"audit", Config{Mode: catalog.ModeAudit}, ""},
		{"no bundle, fail open", Config{BundleErr: errors.New("gone"), FailMode: catalog.FailOpen}, ""},
	} {
		var rec records
		tc.cfg.Sink = &rec
		r := New(tc.cfg).Admit(ctx)
		switch {
		case tc.want == "" && r != nil:
			t.Errorf("%s: refused: %s", tc.name, r.Reason)
		case tc.want != "" && (r == nil || !strings.Contains(r.Error().Message, tc.want)):
			t.Errorf("%s: got %+v, want refusal containing %q", tc.name, r, tc.want)
		case tc.want != "" && (len(rec) != 1 || !rec[0].Decision.Enforced):
			t.Errorf("%s: records %+v", tc.name, rec)
		}
		if tc.name == "audit" && (len(rec) != 1 || rec[0].Decision.Enforced || rec[0].Kind != audit.KindServerRefused) {
			t.Errorf("audit: records %+v, want one would-be refusal", rec)
		}
	}
}

func TestCheckCall(t *testing.T) {
	ctx := context.Background()
	core := New(Config{Server: approved(), VersionApproved: true})
	if v := core.CheckCall(ctx, json.RawMessage(`{"name":"read"}`)); !v.Pass {
		t.Errorf("allowed tool refused: %+v", v)
	}
	v := core.CheckCall(ctx, json.RawMessage(`{"name":"rm_rf"}`))
	if v.Pass || v.Error == nil || v.Error.Code != -32602 || !strings.HasPrefix(v.Error.Message, "Unknown tool: rm_rf (mcpgov: tool rm_rf is not allowed by the catalog entry") || !strings.Contains(string(v.Error.Data), `"rule":"catalog-tools"`) {
		t.Errorf("denied tool: %+v", v)
	}

	// In audit mode the would-be denial is in the call's record, made
	// when the call finishes, even though the Sink keeps no records: an
	// allowed call leaves none.
	var rec records
	auditing := New(Config{Server: approved(), VersionApproved: true, Mode: catalog.ModeAudit, Sink: &rec})
	if !auditing.Post() {
		t.Error("audit mode: Post is false, so no call would be finished")
	}
	for _, tool := range []string{"read", "rm_rf"} {
		st, v := auditing.BeginCall(ctx, json.RawMessage(`{"name":"`+tool+`"}`))
		if !v.Pass {
			t.Errorf("audit mode blocked: %+v", v)
		}
		auditing.FinishCall(ctx, st, json.RawMessage(`{"content":[]}`), nil)
	}
	if len(rec) != 1 || rec[0].Decision.Enforced || rec[0].Decision.Allow || rec[0].Tool != "rm_rf" {
		t.Errorf("audit records %+v", rec)
	}
}

// TestDecider: a plugged-in pre hook denies a visible tool with an isError
// result naming the rule; a pre hook error fails closed unless fail_mode is
// open.
func TestDecider(t *testing.T) {
	ctx := context.Background()
	deny := HookFuncs{Pre: func(_ context.Context, _ *catalog.Server, c *Call) (Decision, error) {
		if strings.Contains(string(c.Arguments), "DROP") {
			return Decision{Reasons: []string{"destructive SQL"}, RuleIDs: []string{"sql.drop"}}, nil
		}
		return Decision{Allow: true}, nil
	}}
	core := New(Config{Server: approved(), VersionApproved: true, Hooks: deny})
	v := core.CheckCall(ctx, json.RawMessage(`{"name":"query","arguments":{"sql":"DROP TABLE t"}}`))
	if v.Pass || !strings.Contains(string(v.Result), `"isError":true`) || !strings.Contains(string(v.Result), "sql.drop") {
		t.Errorf("policy denial: %+v %s", v, v.Result)
	}
	broken := HookFuncs{Pre: func(context.Context, *catalog.Server, *Call) (Decision, error) {
		return Decision{}, errors.New("engine down")
	}}
	if v := New(Config{Server: approved(), VersionApproved: true, Hooks: broken}).CheckCall(ctx, json.RawMessage(`{"name":"q"}`)); v.Pass {
		t.Error("decider error passed in fail-closed mode")
	}
	if v := New(Config{Server: approved(), VersionApproved: true, FailMode: catalog.FailOpen, Hooks: broken}).CheckCall(ctx, json.RawMessage(`{"name":"q"}`)); !v.Pass {
		t.Error("decider error blocked in fail-open mode")
	}
}

// TestFilterTools keeps every other member of the result and of each kept
// tool verbatim.
func TestFilterTools(t *testing.T) {
	ctx := context.Background()
	keep := `{"name":"read","execution":{"taskSupport":"optional"},"_meta":{"x":[1]}}`
	core := New(Config{Server: approved(), VersionApproved: true})
	o := core.FilterTools(ctx, json.RawMessage(`{"tools":[`+keep+`,{"name":"rm"}],"nextCursor":"n","ttlMs":5}`))
	if want := `{"nextCursor":"n","tools":[` + keep + `],"ttlMs":5}`; string(o.Result) != want || o.Changed || o.Err != nil {
		t.Errorf("filtered: %s (changed %v, err %v)\nwant %s", o.Result, o.Changed, o.Err, want)
	}
	if o := core.FilterTools(ctx, json.RawMessage(`{"tools":[`+keep+`]}`)); o.Result != nil {
		t.Errorf("nothing to remove, yet rewritten: %s", o.Result)
	}
	if o := core.FilterTools(ctx, json.RawMessage(`{"tools":3}`)); o.Err == nil {
		t.Error("unreadable result passed in fail-closed mode")
	}
}
