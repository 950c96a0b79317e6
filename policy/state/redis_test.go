package state_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/limit"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func open(t *testing.T, url string) *state.Redis {
	t.Helper()
	r, err := state.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRedisLimitAcrossReplicas: three clients of one store (three
// replicas) share one counter: of 3×10 concurrent calls against a limit
// of 7, exactly 7 pass, and the others are refused with the wait.
func TestRedisLimitAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	replicas := []*state.Redis{open(t, srv.URL()), open(t, srv.URL()), open(t, srv.URL())}
	key := []limit.Key{{User: "ada@example.com", Server: "files", Limit: 7}, {User: "ada@example.com", Server: "files", Tool: "read", Limit: 100}}
	var passed, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for _, r := range replicas {
		for range 10 {
			wg.Go(func() {
				err := r.Take(ctx, key)
				if e, ok := limit.AsExceeded(err); ok {
					if e.Key.Limit != 7 || e.RetryAfter <= 0 || e.RetryAfter > limit.Window {
						errs <- errors.New("exceeded names the wrong key or wait: " + e.Error())
					}
					refused.Add(1)
					return
				}
				if err != nil {
					errs <- err
					return
				}
				passed.Add(1)
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if passed.Load() != 7 || refused.Load() != 23 {
		t.Fatalf("passed %d, refused %d; want 7 and 23", passed.Load(), refused.Load())
	}
	// Another user's counter is their own.
	if err := replicas[0].Take(ctx, []limit.Key{{User: "bob@example.com", Server: "files", Limit: 7}}); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// A refused call counts against nothing: the tool counter saw 7.
	if err := replicas[1].Take(ctx, []limit.Key{{User: "ada@example.com", Server: "files", Tool: "read", Limit: 8}}); err != nil {
		t.Fatalf("tool counter after 7 calls, limit 8: %v", err)
	}
	if _, ok := limit.AsExceeded(replicas[1].Take(ctx, []limit.Key{{User: "ada@example.com", Server: "files", Tool: "read", Limit: 8}})); !ok {
		t.Fatal("tool counter at 8 of 8 still lets a call pass")
	}
}

// TestGuardStoreDown: with the store killed, enforce refuses with an
// error naming the store and the mode; audit counts locally and reports
// the outage once; both recover once the store is back, without a new
// client.
func TestGuardStoreDown(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	key := []limit.Key{{User: "ada", Server: "files", Limit: 2}}

	var reports []string
	var mu sync.Mutex
	report := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			reports = append(reports, "down: "+err.Error())
		} else {
			reports = append(reports, "up")
		}
	}
	enforce := &state.Guard{Shared: open(t, srv.URL()), Mode: state.DownEnforce}
	audit := &state.Guard{Shared: open(t, srv.URL()), Mode: state.DownAudit, Report: report}
	if err := enforce.Take(ctx, key); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	err := enforce.Take(ctx, key)
	if err == nil || !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "store failure mode enforce") || !strings.Contains(err.Error(), srv.Sock) {
		t.Fatalf("enforce with the store down: %v", err)
	}
	if !enforce.Down() {
		t.Fatal("Down() is false during the outage")
	}
	// audit: local counters, limit 2 holds on this replica.
	for i := range 2 {
		if err := audit.Take(ctx, key); err != nil {
			t.Fatalf("audit call %d with the store down: %v", i, err)
		}
	}
	if _, ok := limit.AsExceeded(audit.Take(ctx, key)); !ok {
		t.Fatal("audit mode's local counter let a third call pass")
	}

	srv.Start()
	// The first call after the restart may still meet a dead pooled
	// connection; the one after succeeds with the same client.
	await.Until(t, "enforce guard recovering", func() bool { return enforce.Take(ctx, key) == nil })
	await.Until(t, "audit guard recovering", func() bool { return audit.Take(ctx, key) == nil })
	if enforce.Down() || audit.Down() {
		t.Fatal("Down() after recovery")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 || !strings.HasPrefix(reports[0], "down: ") || reports[1] != "up" {
		t.Fatalf("reports = %q; want one down then one up", reports)
	}
}

// TestRevisionFanOut: a revision one replica publishes reaches every
// subscribed replica, and the last one is kept for a replica that starts
// later.
func TestRevisionFanOut(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	pub := open(t, srv.URL())
	subs := []<-chan string{open(t, srv.URL()).Revisions(ctx), open(t, srv.URL()).Revisions(ctx)}
	// A subscription is live once a publish reaches it: publish until both
	// have one (what is sent before the SUBSCRIBE is lost, by design).
	got := make([]string, len(subs))
	await.Until(t, "both replicas subscribed", func() bool {
		if err := pub.PublishRevision(ctx, "warmup"); err != nil {
			t.Fatal(err)
		}
		done := true
		for i, c := range subs {
			select {
			case got[i] = <-c:
			default:
			}
			done = done && got[i] != ""
		}
		return done
	})
	if err := pub.PublishRevision(ctx, "sha256:abc"); err != nil {
		t.Fatal(err)
	}
	for i, c := range subs {
		for {
			rev := await.Recv(t, c, "revision on replica")
			if rev == "sha256:abc" {
				break
			}
			if rev != "warmup" {
				t.Fatalf("replica %d got %q", i, rev)
			}
		}
	}
	if rev, err := open(t, srv.URL()).Revision(ctx); err != nil || rev != "sha256:abc" {
		t.Fatalf("Revision() = %q, %v", rev, err)
	}
}

func TestOpenRedisURL(t *testing.T) {
	for _, bad := range []string{"localhost:6379", "http://x", "redis://user:s3cret@[::1"} {
		_, err := state.OpenRedis(bad)
		if err == nil {
			t.Errorf("OpenRedis(%q) = nil error", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if _, err := state.ParseDownMode("open"); err == nil {
		t.Error("ParseDownMode(open) = nil error")
	}
}

// TestCallLog: a claimed call is busy for another replica and not for its
// claimant; an answered one returns its answer to every replica; a
// released claim lets the next claimant run it; a claim whose lease ran
// out (its replica died) lets another take it over.
func TestCallLog(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()), open(t, srv.URL())
	if ans, busy, err := a.ClaimCall(ctx, "s1", "7", time.Minute); ans != nil || busy || err != nil {
		t.Fatalf("first claim: %q %v %v", ans, busy, err)
	}
	if _, busy, err := b.ClaimCall(ctx, "s1", "7", time.Minute); !busy || err != nil {
		t.Fatalf("claim by another replica while it runs: busy %v, %v", busy, err)
	}
	if err := a.KeepCall(ctx, "s1", "7", []byte(`{"jsonrpc":"2.0","id":7,"result":{}}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*state.Redis{a, b} {
		if ans, busy, err := r.ClaimCall(ctx, "s1", "7", time.Minute); string(ans) != `{"jsonrpc":"2.0","id":7,"result":{}}` || busy || err != nil {
			t.Fatalf("claim of an answered call: %q %v %v", ans, busy, err)
		}
	}
	// Same request id, another session: its own call.
	if ans, busy, err := b.ClaimCall(ctx, "s2", "7", time.Minute); ans != nil || busy || err != nil {
		t.Fatalf("same id in another session: %q %v %v", ans, busy, err)
	}
	if err := b.ReleaseCall(ctx, "s2", "7"); err != nil {
		t.Fatal(err)
	}
	if ans, busy, err := a.ClaimCall(ctx, "s2", "7", time.Millisecond); ans != nil || busy || err != nil {
		t.Fatalf("claim after release: %q %v %v", ans, busy, err)
	}
	await.Until(t, "a lapsed claim taken over", func() bool {
		ans, busy, err := b.ClaimCall(ctx, "s2", "7", time.Minute)
		return ans == nil && !busy && err == nil
	})
}
