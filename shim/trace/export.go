package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of an Exporter.
const (
	DefaultQueue    = 4096
	DefaultBatch    = 512
	DefaultInterval = time.Second
	DefaultTimeout  = 10 * time.Second
)

// Options configure an Exporter.
type Options struct {
	// Endpoint is the OTLP/HTTP endpoint: http(s)://host:port, with
	// /v1/traces added when it has no path.
	Endpoint string
	// Headers are sent with every export (an API key).
	Headers http.Header
	// Resource are resource attributes beside service.name.
	Resource map[string]string
	// ServiceName is service.name; "mcpgov" when empty.
	ServiceName string
	// Queue bounds the spans waiting to be sent; past it spans are
	// dropped and counted (DefaultQueue when 0).
	Queue int
	// Batch is the most spans one export request carries (DefaultBatch).
	Batch int
	// Interval is how long a span may wait for its batch to fill before
	// it is sent (DefaultInterval).
	Interval time.Duration
	// Client sends the requests; one with DefaultTimeout when nil.
	Client *http.Client
	// Errors, when set, is told about failed exports: the first after a
	// success, and the first success after failures, so that a collector
	// that is down fills no log.
	Errors func(err error)
}

// Exporter sends spans to an OTLP/HTTP traces endpoint in OTLP/JSON.
// Export never blocks: a full queue drops the span and counts it.
type Exporter struct {
	url      string
	opts     Options
	queue    chan *Span
	flushReq chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	dropped, sent, failed atomic.Uint64
	failing               bool // owned by the loop
}

// TracesURL is endpoint with the OTLP traces path added when it has none.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid OTLP traces endpoint %q: want http(s)://host:port[/v1/traces]", endpoint)
	}
	if u.User != nil {
		return "", fmt.Errorf("invalid OTLP traces endpoint %q: credentials go in headers, not in the URL", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// NewExporter starts an exporter; Close stops it.
func NewExporter(opts Options) (*Exporter, error) {
	u, err := TracesURL(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if opts.ServiceName == "" {
		opts.ServiceName = "mcpgov"
	}
	e := &Exporter{url: u, opts: opts, queue: make(chan *Span, opts.Queue),
		flushReq: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go e.loop()
	return e, nil
}

// URL is where the spans go.
func (e *Exporter) URL() string { return e.url }

// Export queues s to be sent, or drops it when the queue is full (or
// the exporter closed); it reports whether s was queued.
func (e *Exporter) Export(s *Span) bool {
	select {
	case <-e.stop:
		e.dropped.Add(1)
		return false
	default:
	}
	select {
	case e.queue <- s:
		return true
	default:
		e.dropped.Add(1)
		return false
	}
}

// Stats are an exporter's counts so far.
type Stats struct {
	Sent    uint64 // accepted by the endpoint
	Dropped uint64 // the queue was full
	Failed  uint64 // the endpoint failed or refused them
}

// Stats returns the counts so far.
func (e *Exporter) Stats() Stats {
	return Stats{Sent: e.sent.Load(), Dropped: e.dropped.Load(), Failed: e.failed.Load()}
}

// Flush sends what is queued and returns once it was sent (or failed),
// or when ctx is done.
func (e *Exporter) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case e.flushReq <- ack:
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends what is queued and stops the exporter; it returns when
// that is done or ctx is.
func (e *Exporter) Close(ctx context.Context) error {
	e.once.Do(func() { close(e.stop) })
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Exporter) loop() {
	defer close(e.done)
	batch := make([]*Span, 0, e.opts.Batch)
	timer := time.NewTimer(e.opts.Interval)
	defer timer.Stop()
	send := func() {
		if len(batch) > 0 {
			e.send(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	drain := func() {
		for {
			select {
			case s := <-e.queue:
				batch = append(batch, s)
				if len(batch) == e.opts.Batch {
					send()
				}
			default:
				send()
				return
			}
		}
	}
	for {
		select {
		case s := <-e.queue:
			if len(batch) == 0 {
				timer.Reset(e.opts.Interval)
			}
			batch = append(batch, s)
			if len(batch) == e.opts.Batch {
				send()
			}
		case <-timer.C:
			send()
		case ack := <-e.flushReq:
			drain()
			close(ack)
		case <-e.stop:
			drain()
			return
		}
	}
}

// send exports one batch; the outcome is counted, never retried: a
// trace is worth less than the memory a backlog would hold.
func (e *Exporter) send(spans []*Span) {
	err := e.post(spans)
	if err != nil {
		e.failed.Add(uint64(len(spans)))
		if !e.failing && e.opts.Errors != nil {
			e.opts.Errors(fmt.Errorf("export %d spans to %s: %w", len(spans), e.url, err))
		}
		e.failing = true
		return
	}
	e.sent.Add(uint64(len(spans)))
	if e.failing && e.opts.Errors != nil {
		e.opts.Errors(nil)
	}
	e.failing = false
}

func (e *Exporter) post(spans []*Span) error {
	body, err := e.encode(spans)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range e.opts.Headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	var ps struct {
		PartialSuccess struct {
			Rejected json.Number `json:"rejectedSpans"`
			Message  string      `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if json.Unmarshal(msg, &ps) == nil && ps.PartialSuccess.Rejected != "" && ps.PartialSuccess.Rejected != "0" {
		return fmt.Errorf("the receiver rejected %s spans: %s", ps.PartialSuccess.Rejected, ps.PartialSuccess.Message)
	}
	return nil
}

// OTLP/JSON (opentelemetry-proto, JSON encoding): ids in hex, 64-bit
// integers as decimal strings, enums as numbers.
type (
	otlpRequest struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource   otlpResource     `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	}
	otlpResource struct {
		Attributes []otlpKV `json:"attributes"`
	}
	otlpScopeSpans struct {
		Scope otlpScope  `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	}
	otlpScope struct {
		Name string `json:"name"`
	}
	otlpSpan struct {
		TraceID      string      `json:"traceId"`
		SpanID       string      `json:"spanId"`
		ParentSpanID string      `json:"parentSpanId,omitempty"`
		TraceState   string      `json:"traceState,omitempty"`
		Flags        uint32      `json:"flags,omitempty"`
		Name         string      `json:"name"`
		Kind         Kind        `json:"kind"`
		Start        string      `json:"startTimeUnixNano"`
		End          string      `json:"endTimeUnixNano"`
		Attributes   []otlpKV    `json:"attributes,omitempty"`
		Status       *otlpStatus `json:"status,omitempty"`
	}
	otlpStatus struct {
		Code    int    `json:"code,omitempty"`
		Message string `json:"message,omitempty"`
	}
	otlpKV struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct {
		String *string    `json:"stringValue,omitempty"`
		Int    *string    `json:"intValue,omitempty"`
		Bool   *bool      `json:"boolValue,omitempty"`
		Double *float64   `json:"doubleValue,omitempty"`
		Array  *otlpArray `json:"arrayValue,omitempty"`
	}
	otlpArray struct {
		Values []otlpAnyValue `json:"values"`
	}
)

// Scope is the instrumentation scope name of the exporter's spans.
const Scope = "mcpgov.gateway"

func (e *Exporter) encode(spans []*Span) ([]byte, error) {
	res := []otlpKV{kv(String("service.name", e.opts.ServiceName))}
	for k, v := range e.opts.Resource {
		res = append(res, kv(String(k, v)))
	}
	out := make([]otlpSpan, len(spans))
	for i, s := range spans {
		out[i] = encodeSpan(s)
	}
	return json.Marshal(otlpRequest{ResourceSpans: []otlpResourceSpans{{
		Resource:   otlpResource{Attributes: res},
		ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: Scope}, Spans: out}},
	}}})
}

func encodeSpan(s *Span) otlpSpan {
	o := otlpSpan{TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), TraceState: s.State,
		// The flags field's low byte is the W3C trace flags; bit 8 says
		// whether the parent is remote is known, bit 9 that it is.
		Flags: uint32(s.Flags) | 0x100,
		Name:  s.Name, Kind: s.Kind,
		Start: strconv.FormatInt(s.Start.UnixNano(), 10), End: strconv.FormatInt(s.End.UnixNano(), 10)}
	if s.Parent.IsValid() {
		o.ParentSpanID = s.Parent.String()
		if s.RemoteParent {
			o.Flags |= 0x200
		}
	}
	if s.Status != StatusUnset {
		o.Status = &otlpStatus{Code: s.Status, Message: s.Message}
	}
	for _, a := range s.Attrs {
		o.Attributes = append(o.Attributes, kv(a))
	}
	return o
}

func kv(a Attr) otlpKV { return otlpKV{Key: a.Key, Value: anyValue(a.Value)} }

func anyValue(v any) otlpAnyValue {
	switch v := v.(type) {
	case string:
		return otlpAnyValue{String: &v}
	case int64:
		s := strconv.FormatInt(v, 10)
		return otlpAnyValue{Int: &s}
	case int:
		s := strconv.Itoa(v)
		return otlpAnyValue{Int: &s}
	case bool:
		return otlpAnyValue{Bool: &v}
	case float64:
		return otlpAnyValue{Double: &v}
	case []string:
		vals := make([]otlpAnyValue, len(v))
		for i, s := range v {
			vals[i] = anyValue(s)
		}
		return otlpAnyValue{Array: &otlpArray{Values: vals}}
	}
	s := fmt.Sprint(v)
	return otlpAnyValue{String: &s}
}
