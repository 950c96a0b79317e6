package govern

import (
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestSharedStateFanOut: a revision one replica announces makes every
// other replica look at its bundle at once (a tick long before its own
// interval), and an ended session reaches the others.
func TestSharedStateFanOut(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	open := func() *SharedState {
		s, err := OpenSharedState(Env{}, srv.URL(), state.DownEnforce, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ticks := b.Ticks(ctx, time.Hour) // its own interval never comes in this test
	ended := make(chan string, 8)
	b.EndCopies(ctx, func(sid string) { ended <- sid })
	// The subscriptions are live once an announcement reaches them.
	await.Until(t, "replica b ticked by replica a's announcement", func() bool {
		if err := a.Announce(ctx, "rev-1"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ticks:
			return true
		default:
			return false
		}
	})
	await.Until(t, "replica b told of the session replica a ended", func() bool {
		if err := a.Store.EndSession(ctx, "sess-1", time.Minute); err != nil {
			t.Fatal(err)
		}
		select {
		case sid := <-ended:
			if sid != "sess-1" {
				t.Fatalf("ended %q", sid)
			}
			return true
		default:
			return false
		}
	})
	if ok, err := b.Store.SessionEnded(ctx, "sess-1"); !ok || err != nil {
		t.Fatalf("SessionEnded = %v, %v", ok, err)
	}
	if rev, err := b.Store.Revision(ctx); rev != "rev-1" || err != nil {
		t.Fatalf("Revision = %q, %v", rev, err)
	}
}
