// Package trace is the gateway's tracing: a span model, the W3C Trace
// Context headers (traceparent, tracestate) read and written, and an
// exporter that sends spans to an OTLP/HTTP traces endpoint as OTLP/JSON.
//
// The exporter never blocks the caller: spans go into a bounded queue a
// goroutine drains in batches, and a span that finds the queue full is
// dropped and counted. Traces are for latency; the audit trail, not the
// traces, is the record of what happened.
//
// It is written by hand, as audit's log shipper is, rather than with the
// OpenTelemetry SDK: the gateway makes one span per request and a few
// children, needs no sampler, propagator registry or metrics of its own,
// and the SDK would add a dozen modules to a binary that runs in IDEs.
package trace

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// TraceID is a W3C trace id: 16 bytes, not all zero.
type TraceID [16]byte

// SpanID is a W3C span (parent) id: 8 bytes, not all zero.
type SpanID [8]byte

// IsValid reports whether t is not all zero.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports whether s is not all zero.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// String is t in lowercase hex, as traceparent and OTLP/JSON write it.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String is s in lowercase hex.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// NewTraceID returns a random trace id. math/rand/v2's generator is
// ChaCha8, seeded from the system: ids are unpredictable, and drawing one
// takes no lock and no system call, which matters on every request.
func NewTraceID() TraceID {
	var t TraceID
	for !t.IsValid() {
		putUint64(t[:8], rand.Uint64())
		putUint64(t[8:], rand.Uint64())
	}
	return t
}

// NewSpanID returns a random span id.
func NewSpanID() SpanID {
	var s SpanID
	for !s.IsValid() {
		putUint64(s[:], rand.Uint64())
	}
	return s
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// FlagSampled is traceparent's sampled flag.
const FlagSampled = 0x01

// Context is a W3C trace context: the caller's trace and span, its
// flags, and its tracestate (kept as received when valid).
type Context struct {
	TraceID TraceID
	SpanID  SpanID
	Flags   byte
	State   string
}

// IsValid reports whether c names a trace and a span.
func (c Context) IsValid() bool { return c.TraceID.IsValid() && c.SpanID.IsValid() }

// Traceparent formats c as a version 00 traceparent header value.
func (c Context) Traceparent() string {
	return fmt.Sprintf("00-%s-%s-%02x", c.TraceID, c.SpanID, c.Flags)
}

// ErrTraceparent is wrapped by ParseTraceparent's errors.
var ErrTraceparent = errors.New("invalid traceparent")

// ParseTraceparent reads a traceparent header value (W3C Trace Context
// level 2, section 3.2): version-traceid-parentid-flags in lowercase hex.
// A version above 00 is read as 00 when its first four fields are 00's
// (what the specification asks of a version it does not know); version
// ff, uppercase hex and all-zero ids are invalid.
func ParseTraceparent(v string) (Context, error) {
	var c Context
	if len(v) < 55 {
		return c, fmt.Errorf("%w: %d characters, want 55", ErrTraceparent, len(v))
	}
	version, ok := hexByte(v[0:2])
	switch {
	case !ok:
		return c, fmt.Errorf("%w: version %q is not two lowercase hex digits", ErrTraceparent, v[0:2])
	case version == 0xff:
		return c, fmt.Errorf("%w: version ff is invalid", ErrTraceparent)
	case version == 0 && len(v) != 55:
		return c, fmt.Errorf("%w: version 00 has 55 characters, not %d", ErrTraceparent, len(v))
	case version > 0 && len(v) > 55 && v[55] != '-':
		return c, fmt.Errorf("%w: a field follows the flags without a dash", ErrTraceparent)
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return c, fmt.Errorf("%w: want version-traceid-parentid-flags separated by dashes", ErrTraceparent)
	}
	if !lowerHex(v[3:35]) || !lowerHex(v[36:52]) {
		return c, fmt.Errorf("%w: trace id and parent id must be lowercase hex", ErrTraceparent)
	}
	_, _ = hex.Decode(c.TraceID[:], []byte(v[3:35]))
	_, _ = hex.Decode(c.SpanID[:], []byte(v[36:52]))
	flags, ok := hexByte(v[53:55])
	if !ok {
		return Context{}, fmt.Errorf("%w: flags %q are not two lowercase hex digits", ErrTraceparent, v[53:55])
	}
	c.Flags = flags
	if version == 0 {
		// Version 00 defines only the sampled bit (and random, level 2).
		c.Flags &= 0x03
	}
	if !c.TraceID.IsValid() || !c.SpanID.IsValid() {
		return Context{}, fmt.Errorf("%w: an all-zero trace id or parent id", ErrTraceparent)
	}
	return c, nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func hexByte(s string) (byte, bool) {
	if len(s) != 2 || !lowerHex(s) {
		return 0, false
	}
	b, _ := hex.DecodeString(s)
	return b[0], true
}

// Limits of a tracestate (W3C Trace Context, section 3.3).
const (
	maxStateMembers = 32
	maxStateLen     = 512
)

// ParseTracestate checks a tracestate header value (its header lines
// joined with commas) and returns it with empty members and the blanks
// around members removed. An invalid one is an error: the specification
// asks that it be dropped, never repaired, and the span then carries none.
func ParseTracestate(v string) (string, error) {
	var members []string
	keys := map[string]bool{}
	for m := range strings.SplitSeq(v, ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		key, value, ok := strings.Cut(m, "=")
		if !ok || !validStateKey(key) || !validStateValue(value) {
			return "", fmt.Errorf("invalid tracestate member %.40q", m)
		}
		if keys[key] {
			return "", fmt.Errorf("invalid tracestate: key %q appears twice", key)
		}
		keys[key] = true
		members = append(members, m)
	}
	if len(members) > maxStateMembers {
		return "", fmt.Errorf("invalid tracestate: %d members, at most %d", len(members), maxStateMembers)
	}
	s := strings.Join(members, ",")
	if len(s) > maxStateLen {
		return "", fmt.Errorf("invalid tracestate: %d characters, at most %d", len(s), maxStateLen)
	}
	return s, nil
}

// validStateKey: simple-key, or tenant-id@system-id.
func validStateKey(k string) bool {
	tenant, system, multi := strings.Cut(k, "@")
	if !multi {
		return len(k) <= 256 && keyChars(k, true)
	}
	return len(tenant) <= 241 && keyChars(tenant, false) && len(system) <= 14 && keyChars(system, true)
}

// keyChars: lowercase letters, digits, _ - * /; a simple key (and a
// system id) starts with a letter, a tenant id with a letter or digit.
func keyChars(s string, letterFirst bool) bool {
	if s == "" {
		return false
	}
	first := s[0]
	if !(first >= 'a' && first <= 'z' || !letterFirst && first >= '0' && first <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '*' || c == '/') {
			return false
		}
	}
	return true
}

// validStateValue: 1 to 256 printable ASCII characters except , and =,
// not ending in a space.
func validStateValue(v string) bool {
	if v == "" || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}
