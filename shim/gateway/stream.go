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
// (then gone is called). A resumed stream first gets replay, the events
// of its stream after position after, and then out's events past them.
// It reports whether the client got everything up to out's close.
func (s *session) stream(w http.ResponseWriter, r *http.Request, out *outbox, gone func(), replay [][]byte, after uint64) bool {
	ws, ok := out.attach(r.Context())
	if !ok {
		return false
	}
	defer close(ws.done)
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache, no-transform")
	w.WriteHeader(http.StatusOK)
	skip := after
	for _, data := range replay {
		skip++
		if _, err := fmt.Fprintf(w, "id: %s\nevent: message\ndata: %s\n\n", eventID(out.stream, skip), data); err != nil {
			gone()
			return false
		}
	}
	// A stream that waits is primed with an event that has an id and no
	// data (SEP-1699), so that a client can resume it even before its
	// first message: that goes out at once. Otherwise the headers go out
	// with the first message, or after headerWait when none has come:
	// most answers come sooner, and leave with the headers in one write.
	unsent := false
	if !out.ready() {
		if out.prime && len(replay) == 0 && after == 0 {
			fmt.Fprintf(w, "id: %s\ndata: \n\n", eventID(out.stream, 0))
			if flusher != nil {
				flusher.Flush()
			}
		} else {
			unsent = len(replay) == 0
			if !unsent && flusher != nil {
				flusher.Flush()
			}
		}
	} else if len(replay) > 0 && flusher != nil {
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
		for _, ev := range items {
			if ev.pos != 0 && ev.pos <= skip {
				continue // replayed from the log already
			}
			var err error
			if ev.id != "" {
				_, err = fmt.Fprintf(w, "id: %s\nevent: message\ndata: %s\n\n", ev.id, ev.data)
			} else {
				_, err = fmt.Fprintf(w, "event: message\ndata: %s\n\n", ev.data)
			}
			if err != nil {
				gone()
				return false
			}
		}
		if closed {
			// What is written goes out when the handler returns, with
			// the end of the response, in one write.
			return true
		}
		if len(items) > 0 && flusher != nil {
			flusher.Flush()
			unsent = false
		}
		wait := s.h.opts.KeepAlive
		if unsent {
			wait = min(wait, headerWait)
		}
		if keep == nil {
			keep = time.NewTimer(wait)
		} else {
			keep.Reset(wait)
		}
		select {
		case <-out.wake:
		case <-ws.stop:
			return false // a resumption took the stream over
		case <-keep.C:
			if unsent {
				// Headers only: a long call's client learns that the
				// gateway took its request.
				unsent = false
				if flusher != nil {
					flusher.Flush()
				}
				continue
			}
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				gone()
				return false
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-r.Context().Done():
			gone()
			return false
		}
	}
}

// headerWait is how long a stream's headers wait for its first message
// to go out with (see stream).
const headerWait = 20 * time.Millisecond

// outbox is a queue of messages for one HTTP stream. The engine never
// waits on a slow client: pushes only append. When the stream is
// resumable, each message is logged as the next event of stream (log) and
// carries its id.
type outbox struct {
	mu       sync.Mutex
	q        []event
	wake     chan struct{}
	done     chan struct{}
	isClosed bool

	stream string              // the stream's name in event ids
	log    func([]byte) uint64 // logs an event; nil: not resumable
	prime  bool                // a waiting stream starts with a priming event
	reader *reader             // the HTTP stream reading it, if any
}

// reader is the HTTP stream that reads an outbox: stop makes it return,
// done is closed once it has.
type reader struct {
	stop, done chan struct{}
}

// attach makes the caller the outbox's reader, taking over from the one
// before (see takeover); false when ctx ended first.
func (o *outbox) attach(ctx context.Context) (*reader, bool) {
	ws := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	for {
		if !o.takeover(ctx) {
			return nil, false
		}
		o.mu.Lock()
		if o.reader == nil { // else another attached meanwhile: stop it too
			o.reader = ws
			o.mu.Unlock()
			return ws, true
		}
		o.mu.Unlock()
	}
}

// takeover stops the outbox's reader, if it has one, and waits until it
// has returned; false when ctx ended first.
func (o *outbox) takeover(ctx context.Context) bool {
	o.mu.Lock()
	old := o.reader
	o.reader = nil
	o.mu.Unlock()
	if old == nil {
		return true
	}
	select {
	case <-old.stop:
	default:
		close(old.stop)
	}
	select {
	case <-old.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// event is one message of a stream: its position and id when logged.
type event struct {
	pos  uint64
	id   string
	data []byte
}

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push appends msg (logged first, when the stream is resumable); false
// once the outbox is closed.
func (o *outbox) push(msg []byte) bool {
	o.mu.Lock()
	if o.isClosed {
		o.mu.Unlock()
		return false
	}
	ev := event{data: msg}
	if o.log != nil {
		if ev.pos = o.log(msg); ev.pos != 0 {
			ev.id = eventID(o.stream, ev.pos)
		}
	}
	o.q = append(o.q, ev)
	o.mu.Unlock()
	o.signal()
	return true
}

// pushEvent appends an event logged already; false once the outbox is
// closed.
func (o *outbox) pushEvent(ev event) bool {
	o.mu.Lock()
	if o.isClosed {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, ev)
	o.mu.Unlock()
	o.signal()
	return true
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
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
func (o *outbox) take() ([]event, bool) {
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
	return len(o.q), o.q[len(o.q)-1].data
}
