package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// stream writes out's messages as server-sent events until out is closed
// (the answer was written, or the session ended) or the client goes away
// (then gone is called).
func (s *session) stream(w http.ResponseWriter, r *http.Request, out *outbox, gone func()) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache, no-transform")
	w.WriteHeader(http.StatusOK)
	// The headers go out at once only when the stream must wait: an
	// answer already there leaves with them in one write.
	if flusher != nil && !out.ready() {
		flusher.Flush()
	}
	// A stream that stays quiet gets a comment line now and then: proxies
	// and load balancers cut connections idle for a minute (nginx's
	// proxy_read_timeout is 60 s) and clients then lose the server's
	// messages. The timer is made only once a stream has waited.
	var keep *time.Timer
	defer func() {
		if keep != nil {
			keep.Stop()
		}
	}()
	for {
		items, closed := out.take()
		for _, b := range items {
			if _, err := fmt.Fprintf(w, "event: message\ndata: %s\n\n", b); err != nil {
				gone()
				return
			}
		}
		if len(items) > 0 && flusher != nil {
			flusher.Flush()
		}
		if closed {
			return
		}
		if keep == nil {
			keep = time.NewTimer(s.h.opts.KeepAlive)
		} else {
			keep.Reset(s.h.opts.KeepAlive)
		}
		select {
		case <-out.wake:
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				gone()
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-r.Context().Done():
			gone()
			return
		}
	}
}

// outbox is a queue of messages for one HTTP stream. The engine never
// waits on a slow client: pushes only append.
type outbox struct {
	mu       sync.Mutex
	q        [][]byte
	wake     chan struct{}
	done     chan struct{}
	isClosed bool
}

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push appends msg; false once the outbox is closed.
func (o *outbox) push(msg []byte) bool {
	o.mu.Lock()
	if o.isClosed {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, msg)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// close ends the outbox after what was pushed.
func (o *outbox) close() {
	o.mu.Lock()
	if !o.isClosed {
		o.isClosed = true
		close(o.done)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) closed() <-chan struct{} { return o.done }

// ready reports whether take would return something now.
func (o *outbox) ready() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q) > 0 || o.isClosed
}

// take returns what was pushed since the last take, and whether the
// outbox is closed (nothing more will come).
func (o *outbox) take() ([][]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.q
	o.q = nil
	return q, o.isClosed
}

// await waits until take would return something; false when ctx ended
// first.
func (o *outbox) await(ctx context.Context) bool {
	for !o.ready() {
		select {
		case <-o.wake:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// answered returns, once the outbox is closed, how many messages it holds
// and the last of them (the answer); nil while it is open.
func (o *outbox) answered() (int, []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.isClosed || len(o.q) == 0 {
		return len(o.q), nil
	}
	return len(o.q), o.q[len(o.q)-1]
}
