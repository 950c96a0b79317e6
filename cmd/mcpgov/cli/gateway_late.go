package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/policy/state"
)

// lateHandler serves a replica until its gateway is ready to: while the
// replicas' session key cannot be read from the store (the store is down
// at start), /healthz answers (the process is alive: a restart would not
// help), /readyz says why it is not ready, and every other request gets
// 503 with Retry-After — a replica without the shared key would open
// sessions no other replica accepts. Once the key is read, the gateway
// serves every request, without a restart.
type lateHandler struct {
	h   atomic.Pointer[http.Handler]
	why atomic.Pointer[string]
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	why := "starting"
	if p := l.why.Load(); p != nil {
		why = *p
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch r.URL.Path {
	case "/healthz":
		fmt.Fprintln(w, "ok")
	case "/readyz":
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
	default:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "mcpgov gateway not ready: %s\n", why)
	}
}

// serve hands every request to h from now on.
func (l *lateHandler) serve(h http.Handler) { l.h.Store(&h) }

// waiting notes why the replica is not ready: the class of err only.
// /readyz is unauthenticated, on the public listener; the store's address
// and its error go to the log alone.
func (l *lateHandler) waiting(err error) {
	s := notReadyReason(err)
	l.why.Store(&s)
}

// notReadyReason is what /readyz says for err, without detail.
func notReadyReason(err error) string {
	if errors.Is(err, state.ErrUnavailable) {
		return state.ErrUnavailable.Error()
	}
	return "the replicas' session key could not be read from the shared state store"
}

// keyRetry is how often a replica that started while its store was down
// tries to read the session key again.
const keyRetry = time.Second

// awaitSessionKey reads the replicas' session key after a first try
// failed with err, trying again every keyRetry, with l reporting why the
// replica is not ready meanwhile. It returns ctx's error when the replica
// is stopped first.
func awaitSessionKey(ctx context.Context, opts *GatewayServeOptions, shared *govern.SharedState, err error, l *lateHandler) ([]byte, error) {
	var key []byte
	l.waiting(err)
	opts.IO.Warnf("%v; not ready (/readyz says why) until the store answers, tried every %v (store_down = %s applies once serving)", err, keyRetry, shared.Mode)
	t := time.NewTicker(keyRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		prev := err
		if key, err = shared.SessionKey(ctx); err == nil {
			opts.IO.Notef("the shared state store %s answers; read the replicas' session key, now ready", shared.Store)
			return key, nil
		}
		if err.Error() != prev.Error() {
			// The detail changed (the store answers but the key is bad, or
			// the other way round): logged once per change, not per try.
			opts.IO.Warnf("%v; still not ready", err)
		}
		l.waiting(err)
	}
}
