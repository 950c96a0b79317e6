package await

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestDeadlineBeforeTheTests(t *testing.T) {
	d := Deadline(t)
	if dl, ok := t.Deadline(); ok && !d.Before(dl) {
		t.Errorf("Deadline %v is not before the test's %v", d, dl)
	}
	if !d.After(time.Now()) || Budget(t) <= 0 {
		t.Errorf("Deadline %v is already past", d)
	}
	var b testing.B // a benchmark has no deadline
	if got := time.Until(Deadline(&b)); got < noDeadline-time.Minute {
		t.Errorf("without a deadline: %v left", got)
	}
}

func TestRecvAndUntil(t *testing.T) {
	c := make(chan int, 1)
	go func() { c <- 7 }()
	if v := Recv(t, c, "the value"); v != 7 {
		t.Errorf("Recv = %d", v)
	}
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	Until(t, "three increments", func() bool { return n.Load() == 3 })
	if ctx := Context(t); ctx.Err() != nil {
		t.Errorf("Context already done: %v", ctx.Err())
	}
}
