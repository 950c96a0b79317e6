package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// SpanExporter takes finished spans without blocking (trace.Exporter).
type SpanExporter interface {
	Export(*trace.Span) bool
}

// Tracing makes one span per MCP message a client POSTs (kind server,
// named as the OpenTelemetry conventions for MCP name it: "tools/call
// add", "initialize"), a child of the caller's span when the request
// carries a traceparent header. Its attributes follow those conventions
// (mcp.method.name, jsonrpc.request.id, gen_ai.tool.name, mcp.session.id
// the records' session id, never the Mcp-Session-Id credential) and HTTP's
// (http.response.status_code, server.address), and add what the call's
// audit record says: the catalog server, the decision and its rules, the
// record's id. The record also gives two children: the policy decision
// and the upstream round trip, placed by the latencies it holds, so that
// the engine's own path is not timed twice.
//
// A span never carries an argument, a result, a reason text or who the
// caller is beyond the identity method and the number of groups: traces
// often go to systems with wider access than the audit trail.
type Tracing struct {
	exp     SpanExporter
	pending sync.Map // span id (the record's RequestRef) -> *callTrace
}

// NewTracing returns tracing that hands its spans to exp.
func NewTracing(exp SpanExporter) *Tracing { return &Tracing{exp: exp} }

// callTrace is the span of one POST, and what its records added.
type callTrace struct {
	span *trace.Span
	mu   sync.Mutex
	recs []*audit.Record
}

// Sink returns next wrapped so that the records of traced requests reach
// their spans after next has taken them.
func (t *Tracing) Sink(next enforce.Sink) enforce.Sink {
	if next == nil {
		return nil
	}
	return traceSink{next: next, t: t}
}

// Around returns a Sink wrapper that wraps with inner (the metrics'),
// then with t.
func (t *Tracing) Around(inner func(enforce.Sink) enforce.Sink) func(enforce.Sink) enforce.Sink {
	return func(s enforce.Sink) enforce.Sink { return t.Sink(inner(s)) }
}

type traceSink struct {
	next enforce.Sink
	t    *Tracing
}

var (
	_ enforce.AuditorHealth = traceSink{}
	_ enforce.Blocker       = traceSink{}
)

// Record implements enforce.Sink.
func (s traceSink) Record(ctx context.Context, rec *audit.Record) error {
	err := s.next.Record(ctx, rec)
	if rec.RequestRef != "" {
		if v, ok := s.t.pending.Load(rec.RequestRef); ok {
			ct := v.(*callTrace)
			ct.mu.Lock()
			ct.recs = append(ct.recs, rec)
			ct.mu.Unlock()
		}
	}
	return err
}

// Keeps implements enforce.Sink: as next does.
func (s traceSink) Keeps() bool { return s.next.Keeps() }

// Healthy implements enforce.AuditorHealth: as next does.
func (s traceSink) Healthy() error {
	if h, ok := s.next.(enforce.AuditorHealth); ok {
		return h.Healthy()
	}
	return nil
}

// MayBlock implements enforce.Blocker: as next does (a sink that does not
// say may block).
func (s traceSink) MayBlock() bool {
	if b, ok := s.next.(enforce.Blocker); ok {
		return b.MayBlock()
	}
	return true
}

// HeaderTraceparent and HeaderTracestate are the W3C Trace Context
// request headers.
const (
	HeaderTraceparent = "Traceparent"
	HeaderTracestate  = "Tracestate"
)

// serveTraced serves a request to an MCP endpoint, in a span when it is
// a POST and tracing is on.
func (h *Handler) serveTraced(w http.ResponseWriter, r *http.Request, ep endpoint) {
	t := h.opts.Tracing
	if t == nil {
		h.serveMCP(w, r, ep)
		return
	}
	start := time.Now()
	var m *rpc.Message
	var before *session
	if r.Method == http.MethodPost {
		// The message names the span; post reads the same bytes again
		// (and still applies MaxBody to the whole body).
		peek, _ := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBody+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(peek), r.Body), r.Body}
		m, _ = rpc.Parse(peek) // nil when it is not one; post says why
	} else if key := r.Header.Get(headerSession); key != "" {
		// A DELETE ends the session before the span is described.
		h.mu.Lock()
		before = h.sessions[key]
		h.mu.Unlock()
	}
	span := &trace.Span{SpanID: trace.NewSpanID(), Kind: trace.KindServer, Start: start}
	if pc, ok := parentOf(r, m); ok {
		span.TraceID, span.Parent, span.Flags, span.State, span.RemoteParent = pc.TraceID, pc.SpanID, pc.Flags, pc.State, true
	} else {
		span.TraceID, span.Flags = trace.NewTraceID(), trace.FlagSampled
	}
	ct := &callTrace{span: span}
	ref := span.SpanID.String()
	t.pending.Store(ref, ct)
	sw := &statusWriter{ResponseWriter: w}
	ctx := context.WithValue(audit.WithRequestRef(r.Context(), ref), servedByKey{}, &servedBy{})
	r = r.WithContext(ctx)
	h.serveMCP(sw, r, ep)
	if before != nil && sw.code < 400 {
		noteSession(r, before) // served: the caller was its owner
	}
	t.pending.Delete(ref)
	span.End = time.Now()
	ct.mu.Lock()
	recs := ct.recs
	ct.mu.Unlock()
	h.describe(span, r, ep, m, sw)
	for _, rec := range recs {
		if child := recordSpans(span, rec); child != nil {
			for _, c := range child {
				t.exp.Export(c)
			}
		}
	}
	t.exp.Export(span)
}

// parentOf reads the request's trace context: its traceparent header,
// else the message's params._meta traceparent (where the conventions for
// MCP put it). An invalid traceparent is ignored (a new trace starts), as
// is an invalid tracestate.
func parentOf(r *http.Request, m *rpc.Message) (trace.Context, bool) {
	parent, state := r.Header.Values(HeaderTraceparent), r.Header.Values(HeaderTracestate)
	if len(parent) == 0 && m != nil {
		var p struct {
			Meta struct {
				Traceparent string `json:"traceparent"`
				Tracestate  string `json:"tracestate"`
			} `json:"_meta"`
		}
		if bytes.Contains(m.Params, []byte("traceparent")) && jsonv2.Unmarshal(m.Params, &p) == nil && p.Meta.Traceparent != "" {
			parent, state = []string{p.Meta.Traceparent}, nil
			if p.Meta.Tracestate != "" {
				state = []string{p.Meta.Tracestate}
			}
		}
	}
	if len(parent) != 1 {
		return trace.Context{}, false // none, or ambiguous
	}
	pc, err := trace.ParseTraceparent(strings.TrimSpace(parent[0]))
	if err != nil {
		return trace.Context{}, false
	}
	if len(state) > 0 {
		pc.State, _ = trace.ParseTracestate(strings.Join(state, ","))
	}
	return pc, true
}

// describe names span and sets its attributes from the request, the
// message, the answer's status and the session.
func (h *Handler) describe(span *trace.Span, r *http.Request, ep endpoint, m *rpc.Message, sw *statusWriter) {
	code := sw.code
	if code == 0 {
		code = http.StatusOK
	}
	attrs := []trace.Attr{
		trace.String("network.transport", "tcp"),
		trace.String("network.protocol.name", "http"),
		trace.String("http.request.method", r.Method),
		trace.String("url.path", clip(ep.path)),
		trace.Int("http.response.status_code", int64(code)),
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, trace.String("server.address", clip(host)))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, trace.Int("server.port", int64(p)))
		}
	} else if r.Host != "" {
		attrs = append(attrs, trace.String("server.address", clip(r.Host)))
	}
	if ep.kind == kindServer {
		attrs = append(attrs, trace.String("mcpgov.server.id", ep.id))
	}
	if ep.kind == kindVirtual {
		attrs = append(attrs, trace.String("mcpgov.virtual.id", ep.id))
	}
	if v := r.Header.Get(headerProtocol); v != "" {
		attrs = append(attrs, trace.String("mcp.protocol.version", clip(v)))
	}
	name := "mcp"
	if r.Method != http.MethodPost {
		// The GET stream and DELETE of a session: named as HTTP server
		// spans are, by method and route.
		name = r.Method + " " + routeOf(ep)
		attrs = append(attrs, trace.String("http.route", routeOf(ep)))
	}
	if m != nil {
		if m.Method != "" {
			name = m.Method
			attrs = append(attrs, trace.String("mcp.method.name", m.Method))
		}
		if m.ID != nil {
			attrs = append(attrs, trace.String("jsonrpc.request.id", clip(requestID(m.ID))))
		}
		if m.Method == "tools/call" {
			if tool := clip(toolName(m.Params)); tool != "" {
				name += " " + tool
				attrs = append(attrs, trace.String("gen_ai.tool.name", tool), trace.String("gen_ai.operation.name", "execute_tool"))
			}
		}
	}
	span.Name = name
	if code >= 400 {
		span.Status, span.Message = trace.StatusError, http.StatusText(code)
		attrs = append(attrs, trace.String("error.type", strconv.Itoa(code)))
	}
	if s := h.sessionOf(r, sw); s != nil {
		attrs = append(attrs, trace.String("mcp.session.id", s.info.ID),
			trace.String("mcpgov.identity.method", s.who.Method), trace.Int("mcpgov.identity.groups", int64(len(s.who.Groups))))
	}
	span.Attrs = append(span.Attrs, attrs...)
}

// routeOf is an endpoint's route, as the mux has it.
func routeOf(ep endpoint) string {
	switch ep.kind {
	case kindServer:
		return "/servers/{id}/mcp"
	case kindVirtual:
		return "/virtual/{id}/mcp"
	}
	return "/mcp"
}

// sessionOf is the request's session: the one initialize opened, or the
// one its Mcp-Session-Id names. Its info.ID is what records call it.
func (h *Handler) sessionOf(r *http.Request, sw *statusWriter) *session {
	if by, ok := r.Context().Value(servedByKey{}).(*servedBy); ok && by.s != nil {
		return by.s // a stateless request's pooled session
	}
	key := r.Header.Get(headerSession)
	if key == "" {
		key = sw.Header().Get(headerSession)
	}
	if key == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[key]
}

// servedBy is where a stateless request notes the pooled session that
// served it, for its span (it names no session the client could see).
type servedBy struct{ s *session }

type servedByKey struct{}

// noteSession notes, for r's span, the session that serves it.
func noteSession(r *http.Request, s *session) {
	if by, ok := r.Context().Value(servedByKey{}).(*servedBy); ok {
		by.s = s
	}
}

// requestID is a JSON-RPC id as the conventions write it: a string's
// text, a number's digits.
func requestID(id json.RawMessage) string {
	var s string
	if json.Unmarshal(id, &s) == nil {
		return s
	}
	return string(id)
}

// toolName reads tools/call's params.name with exact keys, duplicates
// refused, as the engine reads it.
func toolName(params json.RawMessage) string {
	var p struct {
		Name string `json:"name"`
	}
	if jsonv2.Unmarshal(params, &p) != nil {
		return ""
	}
	return p.Name
}

// maxAttr bounds an attribute the client chose (an id, a tool name):
// spans are for latency, and a client must not fill the trace store.
const maxAttr = 128

func clip(s string) string {
	if len(s) <= maxAttr {
		return s
	}
	return strings.ToValidUTF8(s[:maxAttr], "")
}

// recordSpans adds what rec says to span (a tool call's server, decision,
// rules and record id) and returns the children its latencies place: the
// policy decision, from the call's start, and the upstream round trip,
// which ends where the post hooks (timed per guardrail) begin.
func recordSpans(span *trace.Span, rec *audit.Record) []*trace.Span {
	kind := rec.Kind
	if kind == audit.KindPlaceholder {
		kind = rec.SuppressedKind
	}
	if kind != audit.KindToolCall {
		return nil
	}
	decision := "allow"
	if !rec.Decision.Allow {
		decision = "deny"
	}
	attrs := []trace.Attr{
		trace.String("mcpgov.decision", decision),
		trace.Bool("mcpgov.decision.enforced", rec.Decision.Enforced),
		trace.String("mcpgov.outcome", rec.Outcome),
	}
	if rec.Server.ID != "" {
		attrs = append(attrs, trace.String("mcpgov.server.id", rec.Server.ID))
	}
	if len(rec.Decision.RuleIDs) > 0 {
		attrs = append(attrs, trace.Strings("mcpgov.rule_ids", rec.Decision.RuleIDs))
	}
	if rec.ID != "" {
		attrs = append(attrs, trace.String("mcpgov.audit.record_id", rec.ID))
	}
	if rec.Decision.Revision != "" {
		attrs = append(attrs, trace.String("mcpgov.bundle.revision", rec.Decision.Revision))
	}
	if rec.Result != nil && rec.Result.ErrorCode != 0 {
		attrs = append(attrs, trace.String("rpc.response.status_code", strconv.Itoa(rec.Result.ErrorCode)))
	}
	if rec.Outcome == audit.OutcomeError || rec.Outcome == audit.OutcomeDenied && rec.Decision.Enforced {
		span.Status, span.Message = trace.StatusError, rec.Outcome
		attrs = append(attrs, trace.String("error.type", rec.Outcome))
	}
	span.Attrs = append(span.Attrs, attrs...)
	if rec.Latency.TotalUS <= 0 {
		return nil
	}
	us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	end := rec.Time
	start := end.Add(-us(rec.Latency.TotalUS))
	var out []*trace.Span
	policy := rec.Latency.PolicyUS
	if rec.Decision.PreDenied && rec.Latency.UpstreamUS == 0 {
		policy = rec.Latency.TotalUS // refused before it went upstream: all of it was deciding
	}
	if policy > 0 {
		out = append(out, span.Child("mcpgov policy", start, start.Add(us(policy)),
			trace.String("mcpgov.decision", decision)))
	}
	if rec.Latency.UpstreamUS > 0 {
		var post int64
		for _, g := range rec.Guardrails {
			if g.Hook == "post" {
				post += g.DurationUS
			}
		}
		upEnd := end.Add(-us(post))
		c := span.Child("mcpgov upstream", upEnd.Add(-us(rec.Latency.UpstreamUS)), upEnd)
		c.Kind = trace.KindClient
		if rec.Server.ID != "" {
			c.Attrs = append(c.Attrs, trace.String("mcpgov.server.id", rec.Server.ID))
		}
		out = append(out, c)
	}
	return out
}
