package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Metrics are the gateway's Prometheus figures. The engine's come from
// its records: Sink wraps a core's Sink and counts every record the core
// makes (calls by outcome, denials by rule, guardrail verdicts and
// durations, upstream and policy latency, per server and tool), so the
// figures are what the audit trail holds, never parsed from logs. With an
// audit store (always, in a gateway that serves in enforce mode) every
// call is a record; without one only the blocked ones are.
type Metrics struct {
	reg        *prometheus.Registry
	calls      *prometheus.CounterVec
	denials    *prometheus.CounterVec
	refusals   *prometheus.CounterVec
	verdicts   *prometheus.CounterVec
	guardDur   *prometheus.HistogramVec
	upstream   *prometheus.HistogramVec
	policy     *prometheus.HistogramVec
	total      *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	recordErrs prometheus.Counter
	forwards   *prometheus.CounterVec

	mu    sync.Mutex
	tools map[string]map[string]bool // server -> tools labelled so far

	// The series each label set of a vector resolved to: resolving one
	// (hashing its labels, a lookup under the vector's lock) for each of
	// a call's dozen series was 2% of a governed call. The label values
	// are bounded (toolLabel), as the vectors' own series are.
	seriesMu  sync.RWMutex
	counters  map[seriesKey]prometheus.Counter
	observers map[seriesKey]prometheus.Observer
}

// seriesKey names one series: its vector and up to four label values.
type seriesKey struct {
	vec            any
	l0, l1, l2, l3 string
}

func newSeriesKey(vec any, l []string) seriesKey {
	k := seriesKey{vec: vec}
	for i, v := range l {
		switch i {
		case 0:
			k.l0 = v
		case 1:
			k.l1 = v
		case 2:
			k.l2 = v
		case 3:
			k.l3 = v
		}
	}
	return k
}

// counter is vec.WithLabelValues(l...), resolved once per label set.
func (m *Metrics) counter(vec *prometheus.CounterVec, l ...string) prometheus.Counter {
	return resolved(m, &m.counters, newSeriesKey(vec, l), func() prometheus.Counter { return vec.WithLabelValues(l...) })
}

// observer is vec.WithLabelValues(l...), resolved once per label set.
func (m *Metrics) observer(vec *prometheus.HistogramVec, l ...string) prometheus.Observer {
	return resolved(m, &m.observers, newSeriesKey(vec, l), func() prometheus.Observer { return vec.WithLabelValues(l...) })
}

// resolved returns the series of k in cache, resolving it (a label hash
// and a vector lookup) only the first time.
func resolved[T any](m *Metrics, cache *map[seriesKey]T, k seriesKey, resolve func() T) T {
	m.seriesMu.RLock()
	s, ok := (*cache)[k]
	m.seriesMu.RUnlock()
	if !ok {
		s = resolve()
		m.seriesMu.Lock()
		if *cache == nil {
			*cache = map[seriesKey]T{}
		}
		(*cache)[k] = s
		m.seriesMu.Unlock()
	}
	return s
}

// maxToolLabels bounds the tool label values per server: tool names come
// from clients, and a client naming tools at random must not grow the
// metrics without bound. Past it, tools are counted as "_other".
const maxToolLabels = 256

// NewMetrics returns the gateway's metrics, with the Go runtime's and
// the process's beside them.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), tools: map[string]map[string]bool{}}
	st := []string{"server", "tool"}
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_calls_total",
		Help: "Governed calls by server, tool and outcome (allowed, denied, error, cancelled, redacted)."}, []string{"server", "tool", "outcome"})
	m.denials = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_denials_total",
		Help: "Calls blocked (or, in audit mode, that would have been) by server, tool and rule."}, []string{"server", "tool", "rule", "enforced"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_records_total",
		Help: "Audit records by kind (tool_call, server_refused, tool_hidden, ...)."}, []string{"server", "kind"})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_guardrail_verdicts_total",
		Help: "Guardrail verdicts (pass, fail, error) by guardrail and hook."}, []string{"server", "guardrail", "hook", "verdict"})
	m.guardDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcpgov_gateway_guardrail_duration_seconds",
		Help: "Time one guardrail took on one hook of one call.", Buckets: buckets}, []string{"server", "guardrail", "hook"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcpgov_gateway_upstream_duration_seconds",
		Help: "Time from forwarding a call to the upstream's answer.", Buckets: buckets}, st)
	m.policy = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcpgov_gateway_policy_duration_seconds",
		Help: "Time the pre-call policy (Rego, guardrails, rate limits) took.", Buckets: buckets}, st)
	m.total = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcpgov_gateway_call_duration_seconds",
		Help: "Time from the call's arrival to its record.", Buckets: buckets}, st)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_http_requests_total",
		Help: "HTTP requests to the MCP endpoints by endpoint kind, method and status."}, []string{"endpoint", "method", "code"})
	m.recordErrs = prometheus.NewCounter(prometheus.CounterOpts{Name: "mcpgov_gateway_record_errors_total",
		Help: "Records the audit store failed to keep."})
	m.forwards = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgov_gateway_retry_forwards_total",
		Help: "Retries of stateless calls between replicas: forwarded to the replica holding the call, lost with it (it did not answer), or refused (a forward received that did not check out)."}, []string{"outcome"})
	m.reg.MustRegister(m.calls, m.denials, m.refusals, m.verdicts, m.guardDur, m.upstream, m.policy, m.total, m.requests, m.recordErrs, m.forwards,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// register adds the handler's own gauges (open sessions, draining).
func (m *Metrics) register(h *Handler) {
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpgov_gateway_sessions",
		Help: "Open MCP sessions."}, func() float64 { return float64(h.Sessions()) }))
}

// Spans counts an exporter's spans (sent, dropped because its queue
// was full, failed) as the figures stats returns.
func (m *Metrics) Spans(stats func() (sent, dropped, failed uint64)) {
	for _, c := range []struct {
		name, help string
		pick       func(a, b, c uint64) uint64
	}{
		{"mcpgov_gateway_spans_sent_total", "Trace spans the OTLP endpoint accepted.", func(a, _, _ uint64) uint64 { return a }},
		{"mcpgov_gateway_spans_dropped_total", "Trace spans dropped because the export queue was full.", func(_, b, _ uint64) uint64 { return b }},
		{"mcpgov_gateway_spans_failed_total", "Trace spans the OTLP endpoint failed or refused.", func(_, _, c uint64) uint64 { return c }},
	} {
		_ = m.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, func() float64 {
			return float64(c.pick(stats()))
		}))
	}
}

// Sink returns next wrapped so that every record is counted after next
// has taken it.
func (m *Metrics) Sink(next enforce.Sink) enforce.Sink {
	if next == nil {
		return nil
	}
	return metricSink{next: next, m: m}
}

type metricSink struct {
	next enforce.Sink
	m    *Metrics
}

var (
	_ enforce.AuditorHealth = metricSink{}
	_ enforce.Blocker       = metricSink{}
)

// Record implements enforce.Sink.
func (s metricSink) Record(ctx context.Context, rec *audit.Record) error {
	err := s.next.Record(ctx, rec)
	s.m.observe(rec, err)
	return err
}

// Keeps implements enforce.Sink: as next does.
func (s metricSink) Keeps() bool { return s.next.Keeps() }

// Healthy implements enforce.AuditorHealth: as next does.
func (s metricSink) Healthy() error {
	if h, ok := s.next.(enforce.AuditorHealth); ok {
		return h.Healthy()
	}
	return nil
}

// MayBlock implements enforce.Blocker: as next does (a sink that does not
// say may block). Without it every core of the gateway would count as
// blocking, and each call's hooks and record would run on a goroutine of
// their own instead of the one that holds the message.
func (s metricSink) MayBlock() bool {
	if b, ok := s.next.(enforce.Blocker); ok {
		return b.MayBlock()
	}
	return true
}

// toolLabel bounds the tool label values of server.
func (m *Metrics) toolLabel(server, tool string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := m.tools[server]
	if seen == nil {
		seen = map[string]bool{}
		m.tools[server] = seen
	}
	if !seen[tool] {
		if len(seen) >= maxToolLabels {
			return "_other"
		}
		seen[tool] = true
	}
	return tool
}

func (m *Metrics) observe(rec *audit.Record, err error) {
	if err != nil {
		m.recordErrs.Inc()
	}
	server := rec.Server.ID
	kind := rec.Kind
	if kind == audit.KindPlaceholder {
		kind = rec.SuppressedKind // the logging mode kept details out, not the call
	}
	m.counter(m.refusals, server, kind).Inc()
	if kind != audit.KindToolCall {
		return
	}
	tool := m.toolLabel(server, rec.Tool)
	m.counter(m.calls, server, tool, rec.Outcome).Inc()
	if !rec.Decision.Allow {
		rule := "policy"
		if len(rec.Decision.RuleIDs) > 0 {
			rule = rec.Decision.RuleIDs[0]
		}
		enforced := "false"
		if rec.Decision.Enforced {
			enforced = "true"
		}
		m.counter(m.denials, server, tool, rule, enforced).Inc()
	}
	for _, g := range rec.Guardrails {
		m.counter(m.verdicts, server, g.Name, g.Hook, g.Verdict).Inc()
		m.observer(m.guardDur, server, g.Name, g.Hook).Observe(seconds(g.DurationUS))
	}
	if rec.Latency.UpstreamUS > 0 {
		m.observer(m.upstream, server, tool).Observe(seconds(rec.Latency.UpstreamUS))
	}
	if rec.Latency.PolicyUS > 0 {
		m.observer(m.policy, server, tool).Observe(seconds(rec.Latency.PolicyUS))
	}
	if rec.Latency.TotalUS > 0 {
		m.observer(m.total, server, tool).Observe(seconds(rec.Latency.TotalUS))
	}
}

func seconds(us int64) float64 { return (time.Duration(us) * time.Microsecond).Seconds() }

// request counts one HTTP request to an MCP endpoint.
func (m *Metrics) request(kind endpointKind, method string, code int) {
	if m == nil {
		return
	}
	m.counter(m.requests, kind.String(), method, statusLabel(code)).Inc()
}

// statusLabel is code as a label value; the codes the gateway answers
// most are constants, not a string made per request.
func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusAccepted:
		return "202"
	case http.StatusNoContent:
		return "204"
	}
	return strconv.Itoa(code)
}

// forwarded counts one retry forwarded, lost or refused (forward.go).
func (m *Metrics) forwarded(outcome string) {
	if m == nil {
		return
	}
	m.forwards.WithLabelValues(outcome).Inc()
}

func (k endpointKind) String() string {
	switch k {
	case kindAggregate:
		return "aggregate"
	case kindVirtual:
		return "virtual"
	}
	return "server"
}
