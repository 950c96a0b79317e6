package vet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// httpState remembers what the HTTP layer saw, because the SDK's errors do
// not always wrap the transport error.
type httpState struct {
	transport *http.Transport

	mu         sync.Mutex
	lastErr    error
	lastStatus int
}

func (v *vetRun) httpTransport(ctx context.Context) mcp.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	st := &httpState{transport: base}
	v.http = st
	rt := &vetRoundTripper{ctx: ctx, base: base, headers: v.ep.Headers, state: st, run: v}
	return &mcp.StreamableClientTransport{
		Endpoint:   v.ep.URL,
		HTTPClient: &http.Client{Transport: rt},
		// Vetting only asks and reads answers; the standalone SSE stream
		// would only add a way to fail (go-sdk#1175).
		DisableStandaloneSSE: true,
	}
}

// vetRoundTripper adds the endpoint's headers and MCP-Protocol-Version
// (which the SDK sets only from session state that a wrapped connection
// cannot reach), fails fast once the vet is over, and records errors.
type vetRoundTripper struct {
	ctx     context.Context
	base    http.RoundTripper
	headers map[string]string
	state   *httpState
	run     *vetRun
}

func (rt *vetRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := rt.ctx.Err(); err != nil {
		// Past the deadline even the closing DELETE must not wait.
		return nil, err
	}
	req = req.Clone(req.Context())
	for k, v := range rt.headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Mcp-Protocol-Version") == "" && rt.run.capture != nil {
		if pv := rt.run.capture.protocolVersion(); pv != "" {
			req.Header.Set("Mcp-Protocol-Version", pv)
		}
	}
	resp, err := rt.base.RoundTrip(req)
	rt.state.mu.Lock()
	defer rt.state.mu.Unlock()
	switch {
	case err != nil:
		rt.state.lastErr = err
	case resp.StatusCode >= 400:
		rt.state.lastStatus = resp.StatusCode
	}
	return resp, err
}

func (s *httpState) classify(v *vetRun, err error) error {
	s.mu.Lock()
	last, status := s.lastErr, s.lastStatus
	s.mu.Unlock()
	e := &Error{Target: v.target, Op: v.op, Err: err, Status: status}
	switch {
	case last != nil && errors.Is(last, syscall.ECONNREFUSED):
		e.Kind, e.Err = ErrConnectionRefused, last
	case last != nil:
		e.Err = last
	case status != 0:
		e.Err = fmt.Errorf("HTTP %d %s: %w", status, http.StatusText(status), err)
	}
	return e
}

// redactURL drops credentials, query and fragment: API keys often ride in
// them, and errors end up in logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the endpoint URL (unparsable)"
	}
	u.User = nil
	suffix := ""
	if u.RawQuery != "" || u.ForceQuery {
		suffix = "?…"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String() + suffix
}
