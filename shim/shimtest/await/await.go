// Package await lets tests wait for a condition instead of for time: a
// value on a channel, a predicate that becomes true, a context that lives
// as long as the test may.
//
// The only bound is the test's own deadline (go test -timeout), so a loaded
// machine makes a test slower, never red. A wait that reaches the deadline
// fails a little before it, naming what it waited for, so cleanups still
// run (children are killed) and the report says more than -timeout's
// goroutine dump would.
package await

import (
	"context"
	"testing"
	"time"
)

// margin is the most time kept before the test binary's deadline for a
// failed wait to report and for cleanups to run.
const margin = 30 * time.Second

// noDeadline stands in for a deadline under go test -timeout 0.
const noDeadline = 24 * time.Hour

// poll is how often Until looks at its condition.
const poll = 10 * time.Millisecond

// Deadline returns when waits in t give up: the test binary's deadline
// less a margin (a tenth of the time left, at most 30 s), or a day from now
// when there is no deadline. Benchmarks have none.
func Deadline(t testing.TB) time.Time {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			return dl.Add(-min(time.Until(dl)/10, margin))
		}
	}
	return time.Now().Add(noDeadline)
}

// Budget returns the time left until Deadline: the timeout to give code
// under test that takes one, when what the test proves is that the code
// does not need it (it notices an exit, a refusal, a cancellation).
func Budget(t testing.TB) time.Duration {
	return time.Until(Deadline(t))
}

// Context returns a context that ends at Deadline or when t finishes.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), Deadline(t))
	t.Cleanup(cancel)
	return ctx
}

// Recv returns the next value from c. If none comes before Deadline, it
// fails t with what it was waiting for. Call it from the test's goroutine.
func Recv[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Budget(t))
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-timer.C:
		t.Fatalf("await: gave up waiting for %s at the test's deadline", what)
		panic("unreachable")
	}
}

// Until returns once cond reports true, checking it every few milliseconds,
// for conditions nothing signals (a file appearing, a process gone). If
// cond is still false at Deadline, it fails t with what it was waiting for.
// Call it from the test's goroutine.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := Deadline(t)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("await: gave up waiting for %s at the test's deadline", what)
		}
		time.Sleep(poll)
	}
}

// Closed reports whether c is closed before the test's deadline; unlike
// Recv it does not fail t, for cleanups that then stop what did not end.
func Closed(t testing.TB, c <-chan struct{}) bool {
	timer := time.NewTimer(Budget(t))
	defer timer.Stop()
	select {
	case <-c:
		return true
	case <-timer.C:
		return false
	}
}
