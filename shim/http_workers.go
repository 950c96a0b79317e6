package shim

import (
	"sync/atomic"
	"time"
)

// streamWorkers read the streamed answers of every HTTP upstream of the
// process. Reading one runs the whole of the answer's governance on that
// goroutine (the engine's post hooks, its record, the client's write:
// DeliverTo), deep enough that a goroutine started per answer grew its
// stack by copying on every call; a worker keeps the stack it grew for
// the next answer.
var streamWorkers = &workers{work: make(chan func()), idle: 30 * time.Second}

// workers runs functions on goroutines that wait a while for more work
// when they are done. It never queues: a function no idle worker takes
// at once gets a goroutine of its own (which then stays as a worker), so
// a slow function never delays another.
type workers struct {
	work chan func()
	idle time.Duration // how long a worker waits for more work

	spawned atomic.Int64 // workers started so far
	waiting atomic.Int32 // workers waiting for work now
}

// run runs f on an idle worker, or on a new one.
func (w *workers) run(f func()) {
	select {
	case w.work <- f:
	default:
		w.spawned.Add(1)
		go w.loop(f)
	}
}

// loop runs f, then what it is handed, until it waits idle long.
func (w *workers) loop(f func()) {
	timer := time.NewTimer(w.idle)
	defer timer.Stop()
	for {
		f()
		f = nil // what it held is not kept while the worker waits
		// Reset needs no drain: since Go 1.23 a timer's channel holds no
		// stale tick after Reset.
		timer.Reset(w.idle)
		w.waiting.Add(1)
		select {
		case f = <-w.work:
			w.waiting.Add(-1)
		case <-timer.C:
			w.waiting.Add(-1)
			return
		}
	}
}
