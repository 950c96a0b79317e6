package state_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/policy/limit"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisBudgetsAcrossReplicas: a daily budget of 0.3 and calls of 0.1
// checked at once through two replicas: exactly three pass, the others
// are refused naming the budget and what it has spent; a team's monthly
// budget counts the same calls; spending after a call (check false) is
// added even past the limit; a new period starts from zero; every
// counter expires when its period ends (a session's a week on).
func TestRedisBudgetsAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()), open(t, srv.URL())
	now := time.Now().UTC()
	day := limit.BudgetsFor("sess-1", "ada@example.com", map[string]float64{"eng": 10}, []string{"eng"}, 0, 0.3, now)
	var passed, over atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			err := r.Spend(ctx, day, 0.1, true)
			var ob *limit.OverBudget
			switch {
			case err == nil:
				passed.Add(1)
			case errors.As(err, &ob):
				if ob.Budget.Scope != limit.ScopeUserDay || ob.Spent < 0.3-1e-9 || ob.Spent > 0.3+1e-9 {
					errs <- errors.New("over budget names the wrong budget or spending: " + ob.Error())
				}
				over.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if passed.Load() != 3 || over.Load() != 17 {
		t.Fatalf("passed %d, over %d; want 3 and 17", passed.Load(), over.Load())
	}
	// The team's budget counted the three calls: 9.7 left of 10.
	team := limit.BudgetsFor("", "bob@example.com", map[string]float64{"eng": 10}, []string{"eng"}, 0, 0, now)
	if err := b.Spend(ctx, team, 9.7, true); err != nil {
		t.Fatalf("the team's remaining 9.7: %v", err)
	}
	var ob *limit.OverBudget
	if err := a.Spend(ctx, team, 0.01, true); !errors.As(err, &ob) || ob.Budget.Scope != limit.ScopeTeamMonth {
		t.Fatalf("the team's budget spent: %v", err)
	}
	// A result's cost is added after the call, past the limit.
	if err := a.Spend(ctx, day, 0.5, false); err != nil {
		t.Fatal(err)
	}
	// Tomorrow's period starts from zero.
	tomorrow := limit.BudgetsFor("", "ada@example.com", nil, nil, 0, 0.3, now.AddDate(0, 0, 1))
	if err := b.Spend(ctx, tomorrow, 0.3, true); err != nil {
		t.Fatalf("a new day: %v", err)
	}
	opt, _ := redis.ParseURL(srv.URL())
	raw := redis.NewClient(opt)
	defer raw.Close()
	keys := raw.Keys(ctx, state.Prefix+"budget:*").Val()
	if len(keys) != 2 {
		t.Fatalf("budget keys %v; want the user's day and the team's month", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "ada") || strings.Contains(k, "eng") {
			t.Errorf("a key name holds a personal value: %s", k)
		}
		if ttl := raw.TTL(ctx, k).Val(); ttl <= 0 || ttl > 32*24*time.Hour {
			t.Errorf("%s expires in %v; want by the end of its period", k, ttl)
		}
	}
	sess := limit.BudgetsFor("sess-9", "ada@example.com", nil, nil, 1, 0, now)
	if err := a.Spend(ctx, sess, 0.2, true); err != nil {
		t.Fatal(err)
	}
	sk := raw.Keys(ctx, state.Prefix+"budget:*").Val()
	for _, k := range sk {
		if ttl := raw.TTL(ctx, k).Val(); ttl > 32*24*time.Hour {
			t.Errorf("%s expires in %v", k, ttl)
		}
	}
}

// TestGuardBudgetsStoreDown: with the store killed, enforce refuses a
// call whose spending cannot be counted, naming the mode; audit counts
// it in the replica; once the store is back both count there again.
func TestGuardBudgetsStoreDown(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	enf := &state.Guard{Shared: open(t, srv.URL()), Mode: state.DownEnforce}
	aud := &state.Guard{Shared: open(t, srv.URL()), Mode: state.DownAudit}
	day := limit.BudgetsFor("", "ada@example.com", nil, nil, 0, 0.3, time.Now())
	srv.Kill()
	if err := enf.Spend(ctx, day, 0.1, true); err == nil || !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "store failure mode enforce") {
		t.Fatalf("enforce with the store down: %v", err)
	}
	for range 3 {
		if err := aud.Spend(ctx, day, 0.1, true); err != nil {
			t.Fatalf("audit with the store down: %v", err)
		}
	}
	var ob *limit.OverBudget
	if err := aud.Spend(ctx, day, 0.1, true); !errors.As(err, &ob) {
		t.Fatalf("audit's local budget past 0.3: %v", err)
	}
	if !enf.Down() || !aud.Down() {
		t.Fatal("the guards do not report the outage")
	}
	srv.Start()
	if err := enf.Spend(context.Background(), day, 0.1, true); err != nil {
		t.Fatalf("enforce once the store is back: %v", err)
	}
	if enf.Down() {
		t.Fatal("enforce still reports the outage")
	}
}
