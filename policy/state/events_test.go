package state_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisEventLogAcrossReplicas: two replicas (two clients of one
// store) append to one session's streams; positions are counted in the
// store, so each replica replays the other's events by the same ids. The
// bounds (events, bytes, oldest first), Drop, Forget and the ttl hold as
// the memory log's do, per stream.
func TestRedisEventLogAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a := open(t, srv.URL()).EventLog(3, 1<<20, time.Minute)
	b := open(t, srv.URL()).EventLog(3, 1<<20, time.Minute)
	if a.ReplicaTag() == b.ReplicaTag() || a.ReplicaTag() == "" {
		t.Fatalf("replica tags %q and %q: want two different ones", a.ReplicaTag(), b.ReplicaTag())
	}
	for i, w := range []struct {
		log    *stateLog
		stream string
		want   uint64
	}{{&stateLog{a}, "p1", 1}, {&stateLog{b}, "get", 1}, {&stateLog{b}, "p1", 2}, {&stateLog{a}, "p1", 3}, {&stateLog{a}, "get", 2}} {
		pos, err := w.log.Append(ctx, "s", w.stream, []byte{byte('0' + i)})
		if err != nil || pos != w.want {
			t.Fatalf("event %d of %s at %d (%v), want %d", i, w.stream, pos, err, w.want)
		}
	}
	if got, err := b.After(ctx, "s", "p1", 1); err != nil || string(bytes.Join(got, nil)) != "23" {
		t.Fatalf("p1 after 1 through the other replica: %q %v, want 23", got, err)
	}
	if got, err := a.After(ctx, "s", "p1", 3); err != nil || len(got) != 0 {
		t.Fatalf("p1 after its last: %q %v", got, err)
	}
	if _, err := a.After(ctx, "s", "p1", 4); !errors.Is(err, gateway.ErrEventNotInLog) || !strings.Contains(err.Error(), "has 3 events") {
		t.Fatalf("p1 after 4: %v", err)
	}
	if got, err := a.After(ctx, "s", "p9", 0); err != nil || len(got) != 0 {
		t.Fatalf("a stream never written, from its start: %q %v", got, err)
	}
	if _, err := a.After(ctx, "s", "p9", 2); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("a stream never written, after 2: %v", err)
	}
	// Bound 3 events: the 4th evicts p1_1.
	if _, err := b.Append(ctx, "s", "p1", []byte("5")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.After(ctx, "s", "p1", 0); !errors.Is(err, gateway.ErrEventNotInLog) || !strings.Contains(err.Error(), "newest 3 events") {
		t.Fatalf("p1 after 0 once p1_1 was evicted: %v, want the bound named", err)
	}
	if got, err := a.After(ctx, "s", "p1", 1); err != nil || string(bytes.Join(got, nil)) != "235" {
		t.Fatalf("p1 after 1: %q %v, want 235", got, err)
	}
	b.Drop(ctx, "s", "p1")
	if _, err := a.After(ctx, "s", "p1", 2); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("p1 after it was dropped: %v", err)
	}
	if got, err := a.After(ctx, "s", "get", 0); err != nil || string(bytes.Join(got, nil)) != "14" {
		t.Fatalf("get after p1 was dropped: %q %v, want 14", got, err)
	}
	// Bound 10 bytes with 4-byte events: the newest 2 are kept.
	big := open(t, srv.URL()).EventLog(100, 10, time.Minute)
	for range 4 {
		if _, err := big.Append(ctx, "t", "x", []byte("1234")); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := big.After(ctx, "t", "x", 2); err != nil || len(got) != 2 {
		t.Fatalf("byte bound: after 2: %d events %v, want the newest 2", len(got), err)
	}
	if _, err := big.After(ctx, "t", "x", 1); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("byte bound: after 1: %v, want evicted", err)
	}
	a.Forget(ctx, "s")
	if _, err := b.After(ctx, "s", "get", 1); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("after the session was forgotten: %v", err)
	}
	if got, err := big.After(ctx, "t", "x", 3); err != nil || len(got) != 1 {
		t.Fatalf("another session after one was forgotten: %q %v", got, err)
	}
	// A replica's lease on a stream it writes, seen by the others.
	if running, err := b.Running(ctx, "s", "p2"); err != nil || running {
		t.Fatalf("a stream nobody said it runs: running %v, %v", running, err)
	}
	if err := a.Live(ctx, "s", "p2", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if running, err := b.Running(ctx, "s", "p2"); err != nil || !running {
		t.Fatalf("a stream another replica says it runs: running %v, %v", running, err)
	}
	await.Until(t, "the lease to lapse", func() bool {
		running, err := b.Running(ctx, "s", "p2")
		return err == nil && !running
	})
	// The ttl: a session whose events expire cannot be resumed.
	short := open(t, srv.URL()).EventLog(0, 0, 50*time.Millisecond)
	if _, err := short.Append(ctx, "u", "get", []byte("x")); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "the session's events expire", func() bool {
		_, err := short.After(ctx, "u", "get", 1)
		return errors.Is(err, gateway.ErrEventNotInLog)
	})
}

// TestRedisEventLogStoreDown: with the store gone, Append and After fail
// with an error that names the store, not a replay of nothing; appends
// fail at once for a second after one failed, and resume when the store
// is back.
func TestRedisEventLogStoreDown(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	l := open(t, srv.URL()).EventLog(0, 0, time.Minute)
	if _, err := l.Append(ctx, "s", "get", []byte("x")); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := l.Append(ctx, "s", "get", []byte("y")); err == nil {
		t.Fatal("append with the store down: no error")
	}
	// The next append does not wait for the store again: each event of
	// a stream would be held for the dial timeout.
	if _, err := l.Append(ctx, "s", "get", []byte("y")); err == nil || !strings.Contains(err.Error(), "failed less than a second ago") {
		t.Fatalf("append right after a failed one: %v, want it refused without asking the store", err)
	}
	if got, err := l.After(ctx, "s", "get", 0); err == nil || errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("after with the store down: %q %v, want the store's error", got, err)
	}
	srv.Start()
	await.Until(t, "appends once the store is back", func() bool {
		_, err := l.Append(ctx, "s", "get", []byte("z"))
		return err == nil
	})
}

type stateLog struct{ gateway.EventLog }
