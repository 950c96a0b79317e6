package limit

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTakeAndRetryAfter: both stores count the same way.
func TestTakeAndRetryAfter(t *testing.T) {
	for name, store := range map[string]func(now func() time.Time) Store{
		"file":   func(now func() time.Time) Store { return &Limiter{Dir: t.TempDir(), Now: now} },
		"memory": func(now func() time.Time) Store { return &Memory{Now: now} },
	} {
		t.Run(name, func(t *testing.T) { testTake(t, store) })
	}
}

func testTake(t *testing.T, store func(now func() time.Time) Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	l := store(func() time.Time { return now })
	keys := []Key{{User: "ann", Server: "db", Limit: 5}, {User: "ann", Server: "db", Tool: "query", Limit: 2}}
	for i := range 2 {
		if err := l.Take(ctx, keys); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		now = now.Add(10 * time.Second)
	}
	err := l.Take(ctx, keys)
	e, ok := AsExceeded(err)
	if !ok || e.Key.Tool != "query" {
		t.Fatalf("third call: %v, want the tool limit", err)
	}
	if !strings.Contains(err.Error(), "retry after 40s") {
		t.Errorf("message %q, want retry after 40s", err)
	}
	// Another user is not limited.
	if err := l.Take(ctx, []Key{{User: "bob", Server: "db", Tool: "query", Limit: 2}}); err != nil {
		t.Error(err)
	}
	now = now.Add(41 * time.Second)
	if err := l.Take(ctx, keys); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// Several limiters (as separate shim processes would) share one file.
func TestSharedAcrossLimiters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &Limiter{Dir: dir}
			for range 5 {
				if l.Take(context.Background(), []Key{{User: "ann", Server: "db", Limit: 10}}) == nil {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 10 {
		t.Errorf("allowed %d calls, want exactly 10", allowed)
	}
}
