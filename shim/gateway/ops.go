package gateway

import (
	"context"
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

// admit starts serving one request to an MCP endpoint: it is refused with
// 503 while the gateway drains, and a POST counts as in flight until it
// is answered. done must be called when it is served.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, ep endpoint) (*statusWriter, func(), bool) {
	sw := &statusWriter{ResponseWriter: w}
	h.drainMu.Lock()
	draining := h.draining
	if !draining && r.Method == http.MethodPost {
		h.posts.Add(1)
	}
	h.drainMu.Unlock()
	if draining {
		sw.Header().Set("Retry-After", "1")
		sw.Header().Set("Connection", "close")
		httpError(sw, http.StatusServiceUnavailable, "the gateway is shutting down; retry on another instance")
		h.opts.Metrics.request(ep.kind, r.Method, sw.code)
		return nil, nil, false
	}
	return sw, func() {
		if r.Method == http.MethodPost {
			h.posts.Done()
		}
		h.opts.Metrics.request(ep.kind, r.Method, sw.code)
	}, true
}

// Drain stops taking requests (each new one gets 503, /readyz says
// draining), waits for the POSTs in flight to be answered — the calls
// running upstream finish and are recorded — and then ends every session
// (Close). It returns when that is done or ctx is; then the sessions are
// ended anyway.
func (h *Handler) Drain(ctx context.Context) error {
	h.drainMu.Lock()
	h.draining = true
	h.drainMu.Unlock()
	done := make(chan struct{})
	go func() { h.posts.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("calls still in flight when the drain timed out: %w", ctx.Err())
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := h.Close(closeCtx); err == nil {
		err = cerr
	}
	return err
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
	posts    sync.WaitGroup // POSTs in flight
}
