package trace

import "time"

// Kind is a span's kind, as OTLP numbers it.
type Kind int

// Span kinds.
const (
	KindInternal Kind = 1
	KindServer   Kind = 2
	KindClient   Kind = 3
)

// Status codes, as OTLP numbers them.
const (
	StatusUnset = 0
	StatusOK    = 1
	StatusError = 2
)

// Attr is one span attribute. Value is a string, an int64, a bool, a
// float64 or a []string; anything else is written as its string form.
type Attr struct {
	Key   string
	Value any
}

// String is a string attribute.
func String(k, v string) Attr { return Attr{k, v} }

// Int is an integer attribute.
func Int(k string, v int64) Attr { return Attr{k, v} }

// Bool is a boolean attribute.
func Bool(k string, v bool) Attr { return Attr{k, v} }

// Strings is a string array attribute.
func Strings(k string, v []string) Attr { return Attr{k, v} }

// Span is one finished operation. A span is built by one goroutine and
// handed to the exporter when it ends; nothing changes it after that.
type Span struct {
	TraceID TraceID
	SpanID  SpanID
	// Parent is the span this one is a child of; zero for a root.
	Parent SpanID
	// State is the caller's tracestate, passed on unchanged.
	State string
	// Flags are the trace flags (FlagSampled).
	Flags byte
	// RemoteParent says Parent came from another process (traceparent).
	RemoteParent bool
	Name         string
	Kind         Kind
	Start, End   time.Time
	Attrs        []Attr
	// Status is StatusUnset, StatusOK or StatusError; Message says why
	// for an error.
	Status  int
	Message string
}

// Child returns a span of kind internal in s's trace with s as parent.
func (s *Span) Child(name string, start, end time.Time, attrs ...Attr) *Span {
	return &Span{TraceID: s.TraceID, SpanID: NewSpanID(), Parent: s.SpanID, State: s.State, Flags: s.Flags,
		Name: name, Kind: KindInternal, Start: start, End: end, Attrs: attrs}
}

// Context is the trace context s's children carry (a traceparent for
// what s calls).
func (s *Span) Context() Context {
	return Context{TraceID: s.TraceID, SpanID: s.SpanID, Flags: s.Flags, State: s.State}
}
