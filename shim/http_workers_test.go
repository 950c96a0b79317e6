package shim

import (
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestWorkersReuse: a worker that finished takes the next function, so
// answers read one after another do not each start a goroutine (and grow
// its stack anew).
func TestWorkersReuse(t *testing.T) {
	w := &workers{work: make(chan func()), idle: time.Hour}
	const runs = 50
	for range runs {
		await.Until(t, "no worker busy", func() bool { return w.waiting.Load() == int32(w.spawned.Load()) })
		done := make(chan struct{})
		w.run(func() { close(done) })
		await.Recv(t, done, "the function run")
	}
	// A worker that has just begun to wait may miss one hand-off; one
	// goroutine per function is what reuse removes.
	if n := w.spawned.Load(); n >= runs {
		t.Fatalf("%d workers started for %d functions run one after another: none was reused", n, runs)
	}
}

// TestWorkersNeverQueue: a function is never held behind a busy worker:
// one that waits for another's run still gets it.
func TestWorkersNeverQueue(t *testing.T) {
	w := &workers{work: make(chan func()), idle: time.Hour}
	second := make(chan struct{})
	firstDone := make(chan struct{})
	w.run(func() {
		<-second // waits for a function handed over after it
		close(firstDone)
	})
	w.run(func() { close(second) })
	await.Recv(t, firstDone, "the first function, released by the second")
}

// TestWorkersIdleExit: a worker left without work ends.
func TestWorkersIdleExit(t *testing.T) {
	w := &workers{work: make(chan func()), idle: time.Millisecond}
	done := make(chan struct{})
	w.run(func() { close(done) })
	await.Recv(t, done, "the function run")
	await.Until(t, "the idle worker ending", func() bool { return w.waiting.Load() == 0 && w.spawned.Load() == 1 && !w.handOff() })
}

// handOff reports whether a worker takes a function at once, running a
// no-op on it when one does.
func (w *workers) handOff() bool {
	select {
	case w.work <- func() {}:
		return true
	default:
		return false
	}
}
