package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// CallLog keeps the answer of each tools/call for a while, keyed by the
// session's record id and the request id, in a store every replica
// shares. A client that did not get an answer (its replica died, the
// balancer answered 502) sends the call again with the same id; any
// replica then answers it from the log instead of running it again, so
// the call is answered once and recorded once. A call whose replica died
// while it ran has no answer in the log: once its claim's lease runs
// out, the retry runs it (at least once: the dead replica may have run
// it upstream already).
type CallLog interface {
	// ClaimCall returns the logged answer, or claims the call for this
	// replica for lease; busy says another replica's claim is live.
	ClaimCall(ctx context.Context, session, id string, lease time.Duration) (answer []byte, busy bool, err error)
	// RenewCall extends the claim of a call still running.
	RenewCall(ctx context.Context, session, id string, lease time.Duration) error
	// KeepCall logs the answer for keep.
	KeepCall(ctx context.Context, session, id string, answer []byte, keep time.Duration) error
	// ReleaseCall drops the claim of a call that got no answer.
	ReleaseCall(ctx context.Context, session, id string) error
	// EndSession notes that the client ended a session (DELETE) for
	// keep, and SessionEnded reads it: no replica resumes an ended
	// session.
	EndSession(ctx context.Context, session string, keep time.Duration) error
	SessionEnded(ctx context.Context, session string) (bool, error)
}

// Call log timing: a claim lasts callLease and is renewed while the call
// runs, so a dead replica's claim runs out within callLease; an answer
// is kept for callKeep, long enough for any client's retry.
const (
	callLease = 15 * time.Second
	callKeep  = 10 * time.Minute
)

// callOnce serves a tools/call through the call log when there is one;
// other requests, and every request without a log, go to s.call. A log
// that cannot be reached leaves the call unlogged (served, not refused:
// the rate limits' down mode decides what the outage refuses).
func (h *Handler) callOnce(w http.ResponseWriter, r *http.Request, s *session, m *rpc.Message, body []byte, stream bool) {
	log := h.opts.Calls
	if log == nil || m.Method != "tools/call" {
		s.call(w, r, m, body, stream)
		return
	}
	ctx := r.Context()
	id := string(m.ID)
	answer, busy, err := log.ClaimCall(ctx, s.info.ID, id, callLease)
	switch {
	case err != nil:
		s.call(w, r, m, body, stream)
		return
	case busy:
		rpcError(w, http.StatusConflict, m.ID, jsonrpc.CodeInvalidRequest,
			fmt.Sprintf("Invalid Request: request id %s is in flight in this session on another gateway replica; retry it later", m.ID))
		return
	case answer != nil:
		fmt.Fprintf(h.opts.Diag, "mcpgov: answered a retried call of a session on %s from the call log\n", s.endpoint)
		writeAnswer(w, r, answer)
		return
	}
	done := make(chan struct{})
	go func() { // renew the lease while the call runs
		t := time.NewTicker(callLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = log.RenewCall(context.WithoutCancel(ctx), s.info.ID, id, callLease)
			}
		}
	}()
	cw := &captureWriter{ResponseWriter: w, buffer: !stream}
	s.call(cw, r, m, body, stream)
	close(done)
	bg := context.WithoutCancel(ctx)
	if a := cw.answer(); a != nil {
		_ = log.KeepCall(bg, s.info.ID, id, a, callKeep)
	} else {
		_ = log.ReleaseCall(bg, s.info.ID, id)
	}
	cw.flush()
}

// writeAnswer writes a logged answer as the client accepts it.
func writeAnswer(w http.ResponseWriter, r *http.Request, answer []byte) {
	if jsonOK, _ := accepts(r.Header.Values("Accept")); jsonOK {
		writeJSON(w, http.StatusOK, answer)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "event: message\ndata: %s\n\n", answer)
}

// captureWriter sees the answer a call writes: a JSON answer is held
// until it is logged (so that a replica dying between the two leaves no
// answered call out of the log), a stream passes through and its last
// event is the answer.
type captureWriter struct {
	http.ResponseWriter
	buffer bool
	status int
	buf    bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	c.status = status
	if !c.buffer {
		c.ResponseWriter.WriteHeader(status)
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.buffer {
		return c.buf.Write(b)
	}
	c.buf.Write(b)
	if c.buf.Len() > 1<<20 { // keep the tail: the answer is the last event
		tail := bytes.Clone(c.buf.Bytes()[c.buf.Len()-(1<<19):])
		c.buf.Reset()
		c.buf.Write(tail)
	}
	return c.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for streams.
func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok && !c.buffer {
		f.Flush()
	}
}

// answer is the JSON-RPC response the call wrote, nil when it wrote
// none (the session ended, the client went away).
func (c *captureWriter) answer() []byte {
	if c.status != 0 && c.status != http.StatusOK {
		return nil
	}
	b := c.buf.Bytes()
	if !c.buffer {
		i := bytes.LastIndex(b, []byte("\ndata: "))
		if i < 0 {
			if !bytes.HasPrefix(b, []byte("data: ")) {
				return nil
			}
			i = -1
		}
		b = b[i+len("\ndata: "):]
		if j := bytes.IndexByte(b, '\n'); j >= 0 {
			b = b[:j]
		}
	}
	m, err := rpc.Parse(b)
	if err != nil || !m.IsResponse() {
		return nil
	}
	return bytes.Clone(b)
}

// flush writes a held JSON answer.
func (c *captureWriter) flush() {
	if !c.buffer {
		return
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.ResponseWriter.WriteHeader(c.status)
	_, _ = c.ResponseWriter.Write(c.buf.Bytes())
}
