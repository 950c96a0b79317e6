package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpgov/mcpgov/audit"
)

// HeaderLogging is the request header that selects the audit logging of
// the calls it carries (the seed's X-TFY-LOGGING-CONFIG): "on" (or
// "always") logs them in full, "off" (or "never") as placeholders. It
// only chooses within what the audit trail's configured mode lets a
// request choose (header_controlled); under always and never it changes
// nothing, so a request can never be logged more fully, or less, than the
// configuration permits. A call's own _meta "io.mcpgov/logging" wins over
// the header.
const HeaderLogging = "X-Mcpgov-Logging"

// requestLogging reads HeaderLogging: "", "on" or "off", or an error.
func requestLogging(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get(HeaderLogging))
	switch strings.ToLower(v) {
	case "":
		return "", nil
	case "on", "always", "true", "full":
		return audit.RequestLoggingOn, nil
	case "off", "never", "false":
		return audit.RequestLoggingOff, nil
	}
	return "", fmt.Errorf("invalid %s %q: want on or off", HeaderLogging, v)
}

// withRequestLogging is ctx carrying the request's logging choice for the
// engine's records, and its trace reference (Tracing) when it has one.
func withRequestLogging(ctx context.Context, r *http.Request) context.Context {
	if ref := audit.RequestRefFrom(r.Context()); ref != "" {
		ctx = audit.WithRequestRef(ctx, ref)
	}
	v, _ := requestLogging(r) // checked when the POST came in
	if v == "" {
		return ctx
	}
	return audit.WithRequestLogging(ctx, v)
}

// statusWriter notes the status written, for the metrics; it keeps the
// Flusher that streams need.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// admit starts serving one request to an MCP endpoint; a POST counts as
// in flight until it is answered. done must be called when it is served.
// While the gateway drains, a request that may continue a call this
// replica holds is let through to be looked at (the POST of a retry or of
// an answer, a GET or DELETE naming a session: continuing); drainRefuse
// refuses it once it turns out to start something new. Anything else is
// refused here with 503.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, ep endpoint) (*statusWriter, *http.Request, func(), bool) {
	sw := &statusWriter{ResponseWriter: w}
	h.drainMu.Lock()
	draining := h.draining
	mayContinue := r.Method == http.MethodPost || r.Header.Get(headerSession) != ""
	admitted := !draining || mayContinue
	if admitted && r.Method == http.MethodPost {
		h.posts++
	}
	h.drainMu.Unlock()
	if !admitted {
		refuseDraining(sw)
		h.opts.Metrics.request(ep.kind, r.Method, sw.code)
		return nil, nil, nil, false
	}
	if draining {
		r = r.WithContext(context.WithValue(r.Context(), continuingKey{}, true))
	}
	return sw, r, func() {
		if r.Method == http.MethodPost {
			h.drainMu.Lock()
			h.posts--
			h.drainMu.Unlock()
			h.drainWake()
		}
		h.opts.Metrics.request(ep.kind, r.Method, sw.code)
	}, true
}

// continuingKey marks a request admitted while the gateway drains: it may
// only continue a call this replica holds.
type continuingKey struct{}

// drainRefuse answers 503, as admit does while the gateway drains, a
// request admitted during the drain that would start something new (a
// call, a session, a stream of a session held elsewhere); true when it
// answered.
func drainRefuse(w http.ResponseWriter, r *http.Request) bool {
	if continuing, _ := r.Context().Value(continuingKey{}).(bool); !continuing {
		return false
	}
	refuseDraining(w)
	return true
}

// isContinuing reports whether r was admitted during the drain.
func isContinuing(r *http.Request) bool {
	continuing, _ := r.Context().Value(continuingKey{}).(bool)
	return continuing
}

func refuseDraining(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close")
	httpError(w, http.StatusServiceUnavailable, "the gateway is shutting down; retry on another instance")
}

// reasonDrained is why a call still in flight, or still waiting for its
// client's input, when the drain's deadline passes is cancelled.
const reasonDrained = "cancelled: the gateway replica holding it shut down (its drain timed out) before the call ended"

// Drain stops taking new requests (each gets 503, /readyz says draining)
// and waits for the calls this replica holds to end: the POSTs in flight
// are answered, and a call waiting for its client's input (a stateless
// client's call parked with input_required, a session's call whose server
// asked the client something) completes when the client's retry or answer
// comes, here directly or forwarded by another replica (forward.go); what
// continues such a call is still taken. Then every session ends (Close).
// When ctx ends first, the calls still in flight or waiting are cancelled,
// each recorded as cancelled with why, and the sessions are ended anyway.
func (h *Handler) Drain(ctx context.Context) error {
	h.drainMu.Lock()
	h.draining = true
	if h.wake == nil {
		h.wake = make(chan struct{}, 1)
	}
	wake := h.wake
	h.drainMu.Unlock()
	h.endListens()
	var err error
	for err == nil && !h.drained() {
		select {
		case <-wake:
		case <-ctx.Done():
			err = fmt.Errorf("calls still in flight or waiting for their client's input when the drain timed out (cancelled, each recorded): %w", ctx.Err())
		}
	}
	if err != nil {
		h.cancelHeld(reasonDrained)
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := h.Close(closeCtx); err == nil {
		err = cerr
	}
	return err
}

// drained reports whether no POST is in flight and no call waits for its
// client's input.
func (h *Handler) drained() bool {
	h.drainMu.Lock()
	posts := h.posts
	h.drainMu.Unlock()
	h.inputsMu.Lock()
	waiting := len(h.inputs)
	h.inputsMu.Unlock()
	return posts == 0 && waiting == 0
}

// drainWake tells a Drain waiting that a POST was answered or a waiting
// call ended.
func (h *Handler) drainWake() {
	h.drainMu.Lock()
	wake := h.wake
	h.drainMu.Unlock()
	if wake == nil {
		return
	}
	select {
	case wake <- struct{}{}:
	default: // one is pending already: Drain looks again
	}
}

// cancelHeld cancels every call of every session still in flight or
// waiting for its client's input, recording each as cancelled with why:
// a call parked for a stateless client's retry has its server's input
// requests answered with an error; a POST still waiting is answered when
// its session ends (Close).
func (h *Handler) cancelHeld(why string) {
	for _, s := range h.allSessions() {
		s.mu.Lock()
		var parked, running []*reply
		for _, rep := range s.waiters {
			if ic := rep.inputCall(); ic != nil && ic.parked {
				parked = append(parked, rep)
			} else {
				running = append(running, rep)
			}
		}
		s.mu.Unlock()
		for _, rep := range parked {
			s.h.warnf("call %s abandoned: %s", rep.id, why)
			s.cancelStateless(rep, why)
		}
		for _, rep := range running {
			s.engine.CancelRequest(context.WithoutCancel(s.ctx), json.RawMessage(rep.id), why)
		}
	}
}

// endListens answers every subscriptions/listen stream, as the end of its
// session does: such a stream lasts until its client closes it, so the
// drain would wait for it to the deadline; its client listens again on
// another replica.
func (h *Handler) endListens() {
	for _, s := range h.allSessions() {
		s.mu.Lock()
		listeners := s.listeners
		s.listeners = nil
		s.mu.Unlock()
		for l := range listeners {
			l.out.push(s.listenResult(l.id))
			l.out.close()
		}
	}
}

// allSessions returns the sessions open now.
func (h *Handler) allSessions() []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	return all
}

// Draining reports whether Drain was called.
func (h *Handler) Draining() bool {
	h.drainMu.Lock()
	defer h.drainMu.Unlock()
	return h.draining
}

// drainState is the Handler's part for Drain.
type drainState struct {
	drainMu  sync.Mutex
	draining bool
	posts    int           // POSTs in flight
	wake     chan struct{} // while draining: a POST was answered or a waiting call ended
}
