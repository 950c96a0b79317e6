package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// spanSink keeps the spans the gateway exports.
type spanSink struct {
	mu    sync.Mutex
	spans []*trace.Span
}

func (s *spanSink) Export(sp *trace.Span) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, sp)
	return true
}

func (s *spanSink) all() []*trace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*trace.Span(nil), s.spans...)
}

// recordStore is an audit sink that keeps every record, giving each an
// id as a store does.
type recordStore struct {
	mu   sync.Mutex
	recs []*audit.Record
}

func (r *recordStore) Record(_ context.Context, rec *audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.ID = fmt.Sprintf("rec-%d", len(r.recs)+1)
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recordStore) Keeps() bool { return true }

// recordingGov is fakeGov with an audit sink behind every core.
type recordingGov struct {
	*fakeGov
	sink enforce.Sink
}

func (g recordingGov) Core(id string, s gateway.SessionInfo) (*enforce.Core, error) {
	return enforce.New(enforce.Config{Server: g.entries[id], VersionApproved: true, Mode: "enforce",
		Identity: s.Identity, Session: s.ID, Sink: g.sink}), nil
}

func newTracedGateway(t *testing.T) (url string, spans *spanSink, store *recordStore) {
	t.Helper()
	spans, store = &spanSink{}, &recordStore{}
	tracing := gateway.NewTracing(spans)
	gov := recordingGov{fakeGov: twoServers(t), sink: tracing.Sink(store)}
	opts := gateway.Options{Governance: gov, Tracing: tracing, Identify: func(r *http.Request) (audit.Identity, error) {
		return audit.Identity{Method: "jwt", Subject: "sub-private", Email: "someone@example.com", Groups: []string{"g1", "g2"}}, nil
	}}
	ts, _ := serveGateway(t, opts)
	return ts.URL, spans, store
}

// connectWith connects with headers added to every request.
func connectWith(t *testing.T, url string, h http.Header) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "trace-client", Version: "1"}, nil)
	// A session of 2025-11-25: its initialize gets a span too.
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: addHeaders{h}}}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type addHeaders struct{ h http.Header }

func (a addHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range a.h {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

func attr(s *trace.Span, key string) any {
	for _, a := range s.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return nil
}

func spanNamed(spans []*trace.Span, name string) *trace.Span {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// TestTracingSpans: a traced request's span continues the caller's trace
// (traceparent, tracestate), is named and described as the conventions
// for MCP say, carries what the call's record says (server, decision,
// rules, record id), has the upstream round trip as a child, and holds
// no argument or personal value.
func TestTracingSpans(t *testing.T) {
	url, spans, store := newTracedGateway(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cs := connectWith(t, url+"/servers/alpha/mcp", http.Header{"Traceparent": {tp}, "Tracestate": {"rojo=1"}})
	ctx := await.Context(t)
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"password": "sentinel-arg-value"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "secret", Arguments: map[string]any{}}); err == nil {
		t.Fatal("the denied tool was called")
	}
	await.Until(t, "spans of both calls", func() bool {
		all := spans.all()
		return spanNamed(all, "tools/call echo") != nil && spanNamed(all, "tools/call secret") != nil
	})
	all := spans.all()
	echo, secret := spanNamed(all, "tools/call echo"), spanNamed(all, "tools/call secret")
	for _, s := range []*trace.Span{echo, secret, spanNamed(all, "initialize")} {
		if s == nil {
			t.Fatalf("missing span; spans: %v", names(all))
		}
		if s.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.String() != "00f067aa0ba902b7" || !s.RemoteParent ||
			s.State != "rojo=1" || s.Kind != trace.KindServer || !s.End.After(s.Start) {
			t.Errorf("span %q: trace %s parent %s state %q kind %d", s.Name, s.TraceID, s.Parent, s.State, s.Kind)
		}
	}
	store.mu.Lock()
	var echoRec, secretRec *audit.Record
	for _, r := range store.recs {
		switch r.Tool {
		case "echo":
			echoRec = r
		case "secret":
			secretRec = r
		}
	}
	store.mu.Unlock()
	if echoRec == nil || secretRec == nil {
		t.Fatal("the calls have no records")
	}
	for key, want := range map[string]any{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
		"mcpgov.server.id": "alpha", "mcpgov.decision": "allow", "mcpgov.outcome": "allowed",
		"mcpgov.audit.record_id": echoRec.ID, "mcp.session.id": echoRec.Session, "http.response.status_code": int64(200),
		"mcpgov.identity.method": "jwt", "mcpgov.identity.groups": int64(2), "server.address": "127.0.0.1",
		"url.path": "/servers/alpha/mcp",
	} {
		if got := attr(echo, key); got != want {
			t.Errorf("echo span %s = %v, want %v", key, got, want)
		}
	}
	if id, _ := attr(echo, "jsonrpc.request.id").(string); id == "" {
		t.Error("echo span has no jsonrpc.request.id")
	}
	if echo.Status != trace.StatusUnset {
		t.Errorf("allowed call's span status %d", echo.Status)
	}
	for key, want := range map[string]any{"mcpgov.decision": "deny", "mcpgov.audit.record_id": secretRec.ID, "error.type": "denied"} {
		if got := attr(secret, key); got != want {
			t.Errorf("denied span %s = %v, want %v", key, got, want)
		}
	}
	if rules, _ := attr(secret, "mcpgov.rule_ids").([]string); len(rules) == 0 || strings.Join(rules, ",") != strings.Join(secretRec.Decision.RuleIDs, ",") {
		t.Errorf("denied span rules %v, record's %v", rules, secretRec.Decision.RuleIDs)
	}
	if secret.Status != trace.StatusError {
		t.Errorf("denied call's span status %d", secret.Status)
	}
	var up *trace.Span
	for _, s := range all {
		if s.Parent == echo.SpanID && s.Name == "mcpgov upstream" {
			up = s
		}
	}
	if up == nil || up.TraceID != echo.TraceID || up.Kind != trace.KindClient {
		t.Fatalf("no upstream child of the echo span: %v", names(all))
	}
	if d := up.End.Sub(up.Start); d != time.Duration(echoRec.Latency.UpstreamUS)*time.Microsecond || up.Start.Before(echo.Start) || up.End.After(echo.End) {
		t.Errorf("upstream child %s..%s (%v) outside its parent %s..%s or not the record's %dus", up.Start, up.End, d, echo.Start, echo.End, echoRec.Latency.UpstreamUS)
	}
	dump, _ := json.Marshal(all)
	for _, secretValue := range []string{"sentinel-arg-value", "password", "sub-private", "someone@example.com", "g1"} {
		if strings.Contains(string(dump), secretValue) {
			t.Errorf("a span holds %q", secretValue)
		}
	}
}

// TestTracingNewTrace: without a traceparent (or with an invalid one) a
// request starts a trace of its own.
func TestTracingNewTrace(t *testing.T) {
	url, spans, _ := newTracedGateway(t)
	cs := connectWith(t, url+"/mcp", http.Header{"Traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}})
	if _, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "beta__sum", Arguments: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "the call's span", func() bool { return spanNamed(spans.all(), "tools/call beta__sum") != nil })
	s := spanNamed(spans.all(), "tools/call beta__sum")
	if !s.TraceID.IsValid() || s.Parent.IsValid() || s.RemoteParent {
		t.Errorf("span of an untraced request: trace %s parent %s", s.TraceID, s.Parent)
	}
	if got := attr(s, "mcpgov.server.id"); got != "beta" {
		t.Errorf("aggregated call's server %v, want beta", got)
	}

	// Without the header, the message's _meta traceparent is the parent.
	plain := connectWith(t, url+"/mcp", nil)
	meta := mcp.Meta{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "congo=t61rcWkgMzE"}
	if _, err := plain.CallTool(await.Context(t), &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{}, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "the _meta call's span", func() bool { return spanNamed(spans.all(), "tools/call alpha__echo") != nil })
	s = spanNamed(spans.all(), "tools/call alpha__echo")
	if s.TraceID.String() != "0af7651916cd43dd8448eb211c80319c" || s.Parent.String() != "b7ad6b7169203331" || s.State != "congo=t61rcWkgMzE" {
		t.Errorf("span of a call with _meta traceparent: trace %s parent %s state %q", s.TraceID, s.Parent, s.State)
	}
}

func names(spans []*trace.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
