package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/limit"
)

// TestBudgets: a call past a budget is refused, naming the budget and when
// it resets; the result's size is spent after the fact; the daily budget
// resets at midnight UTC and the team budget at the month's end, on an
// injected clock.
func TestBudgets(t *testing.T) {
	b := bundle(t, "")
	b.Catalog.Meta.Budgets = catalog.Budgets{Currency: "EUR", UserPerDay: 0.3, TeamPerMonth: map[string]float64{"engineering": 0.5}}
	now := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	store := &limit.Memory{Now: func() time.Time { return now }}
	p, err := Load(b, Options{Budgets: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := b.Catalog.Server("everything")
	srv.Prices = catalog.Prices{Call: 0.1, ResultKB: 0.01}
	ctx := context.Background()
	call := &enforce.Call{Tool: "echo", Arguments: json.RawMessage(`{}`), Identity: engineer, Session: "s1"}
	decide := func() enforce.Decision {
		t.Helper()
		d, err := p.Decide(ctx, srv, call)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := decide(); !d.Allow || d.Cost != 0.1 || d.Price != 0.1 {
		t.Fatalf("first call: %+v", d)
	}
	// A 2 KiB result costs 0.02 more.
	rd, err := p.FilterResult(ctx, srv, call, json.RawMessage(`{"content":[{"type":"text","text":"`+strings.Repeat("x", 2000)+`"}]}`))
	if err != nil || rd.Cost < 0.0199 || rd.Cost > 0.021 {
		t.Fatalf("result cost %v, %v", rd.Cost, err)
	}
	if d := decide(); !d.Allow {
		t.Fatalf("second call (0.12 spent of 0.3): %+v", d)
	}
	d := decide()
	if d.Allow || d.Cost != 0 || d.Price != 0.1 || d.RuleIDs[0] != "budget."+limit.ScopeUserDay {
		t.Fatalf("third call, past the daily budget: %+v", d)
	}
	want := "your daily budget of 0.30 EUR is spent (0.22 so far; this call costs 0.10); it resets at 2026-12-08T00:00:00Z"
	if d.Reasons[0] != want {
		t.Errorf("reason %q, want %q", d.Reasons[0], want)
	}

	// The next day the daily budget is fresh; the team's monthly one
	// (0.5) still counts this month's 0.32.
	now = now.Add(2 * time.Hour)
	if d := decide(); !d.Allow {
		t.Fatalf("the next day: %+v", d)
	}
	if d := decide(); !d.Allow {
		t.Fatalf("0.42 of the team's 0.5: %+v", d)
	}
	d = decide()
	if d.Allow || d.RuleIDs[0] != "budget."+limit.ScopeTeamMonth || !strings.Contains(d.Reasons[0], "team engineering") || !strings.Contains(d.Reasons[0], "2027-01-01T00:00:00Z") {
		t.Fatalf("past the team budget: %+v", d)
	}
	now = time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)
	if d := decide(); !d.Allow {
		t.Fatalf("a new month: %+v", d)
	}
}

// TestSessionBudget: the session budget never resets; another session
// has its own.
func TestSessionBudget(t *testing.T) {
	b := bundle(t, "")
	b.Catalog.Meta.Budgets = catalog.Budgets{Session: 0.1}
	p, err := Load(b, Options{Budgets: &limit.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := b.Catalog.Server("everything")
	srv.Prices = catalog.Prices{Tools: map[string]float64{"echo": 0.1}}
	ctx := context.Background()
	for i, tc := range []struct {
		session string
		allow   bool
	}{{"s1", true}, {"s1", false}, {"s2", true}} {
		d, err := p.Decide(ctx, srv, &enforce.Call{Tool: "echo", Arguments: json.RawMessage(`{}`), Identity: engineer, Session: tc.session})
		if err != nil || d.Allow != tc.allow {
			t.Fatalf("call %d in %s: %+v %v", i, tc.session, d, err)
		}
		if !d.Allow && !strings.Contains(d.Reasons[0], "a new session starts with a fresh one") {
			t.Errorf("reason %q", d.Reasons[0])
		}
	}
}
