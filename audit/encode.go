package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends rec's JSON form to b: byte for byte what
// encoding/json's Marshal writes for it (the same member order, omissions,
// string escapes — HTML characters, U+2028 and U+2029, invalid UTF-8 as
// U+FFFD —, compacted raw members and number forms), so that a stored
// line, and the chain's hash of it, do not depend on which of the two
// wrote it (TestAppendRecordMatchesMarshal). It writes the fields
// directly instead of walking the record by reflection, which was a
// third of the store's CPU per record. A record holding an alert (a rare
// kind), or a value Marshal refuses (an invalid raw member, a time it
// cannot write, a NaN), is left to Marshal, which then says why. On error
// b is returned as it was.
func appendRecord(b []byte, rec *Record) ([]byte, error) {
	n0 := len(b)
	if rec.Alert == nil {
		e := recordEncoder{b: b}
		e.record(rec)
		if !e.bad {
			return e.b, nil
		}
		b = e.b[:n0]
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return b, err
	}
	return append(b, line...), nil
}

// recordEncoder appends one record; bad says it met a value it leaves
// to Marshal.
type recordEncoder struct {
	b   []byte
	bad bool
}

func (e *recordEncoder) record(r *Record) {
	e.b = append(e.b, `{"v":`...)
	e.b = strconv.AppendInt(e.b, int64(r.Version), 10)
	e.b = append(e.b, `,"id":`...)
	e.str(r.ID)
	e.b = append(e.b, `,"seq":`...)
	e.b = strconv.AppendUint(e.b, r.Seq, 10)
	e.b = append(e.b, `,"time":`...)
	e.time(r.Time)
	e.b = append(e.b, `,"kind":`...)
	e.str(r.Kind)
	e.optStr(`,"session":`, r.Session)
	e.b = append(e.b, `,"identity":`...)
	e.identity(&r.Identity)
	if r.Client != (Client{}) {
		e.b = append(e.b, `,"client":{`...)
		e.members(`"name":`, r.Client.Name, `"version":`, r.Client.Version)
		e.b = append(e.b, '}')
	}
	if r.Server != (ServerRef{}) {
		e.b = append(e.b, `,"server":{`...)
		s := &r.Server
		e.members(`"id":`, s.ID, `"name":`, s.Name, `"transport":`, s.Transport, `"launch":`, s.Launch, `"config_name":`, s.ConfigName)
		e.b = append(e.b, '}')
	}
	e.optStr(`,"method":`, r.Method)
	e.optStr(`,"tool":`, r.Tool)
	e.optStr(`,"outcome":`, r.Outcome)
	e.optStr(`,"reason":`, r.Reason)
	e.optStr(`,"logging":`, r.Logging)
	e.optRaw(`,"arguments":`, r.Arguments)
	e.optStr(`,"arguments_kept":`, r.ArgumentsKept)
	e.optRaw(`,"tool_annotations":`, r.ToolAnnotations)
	if r.Result != nil {
		e.b = append(e.b, `,"result":`...)
		e.result(r.Result)
	}
	e.b = append(e.b, `,"decision":`...)
	e.decision(&r.Decision)
	if len(r.Guardrails) > 0 {
		e.b = append(e.b, `,"guardrails":[`...)
		for i := range r.Guardrails {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.guardrail(&r.Guardrails[i])
		}
		e.b = append(e.b, ']')
	}
	if r.Latency != (Latency{}) {
		e.b = append(e.b, `,"latency":{`...)
		l := &r.Latency
		first := true
		for _, m := range [...]struct {
			name string
			v    int64
		}{{`"total_us":`, l.TotalUS}, {`"upstream_us":`, l.UpstreamUS}, {`"policy_us":`, l.PolicyUS}} {
			if m.v == 0 {
				continue
			}
			if !first {
				e.b = append(e.b, ',')
			}
			first = false
			e.b = append(e.b, m.name...)
			e.b = strconv.AppendInt(e.b, m.v, 10)
		}
		e.b = append(e.b, '}')
	}
	if c := r.Cost; c != nil {
		e.b = append(e.b, `,"cost":{"price":`...)
		e.float(c.Price)
		e.b = append(e.b, `,"call":`...)
		e.float(c.Call)
		if c.Result != 0 {
			e.b = append(e.b, `,"result":`...)
			e.float(c.Result)
		}
		e.b = append(e.b, `,"total":`...)
		e.float(c.Total)
		e.b = append(e.b, '}')
	}
	e.optStr(`,"suppressed_kind":`, r.SuppressedKind)
	e.optStr(`,"durability":`, r.Durability)
	e.b = append(e.b, `,"prev":`...)
	e.str(r.Prev)
	e.b = append(e.b, '}')
}

func (e *recordEncoder) identity(id *Identity) {
	e.b = append(e.b, '{')
	n := len(e.b)
	e.members(`"subject":`, id.Subject, `"email":`, id.Email, `"name":`, id.Name)
	if len(id.Groups) > 0 {
		if len(e.b) > n {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"groups":`...)
		e.strs(id.Groups)
	}
	if id.Issuer != "" {
		if len(e.b) > n {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"issuer":`...)
		e.str(id.Issuer)
	}
	if len(e.b) > n {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, `"method":`...)
	e.str(id.Method)
	e.b = append(e.b, '}')
}

func (e *recordEncoder) result(r *ResultSummary) {
	e.b = append(e.b, `{"isError":`...)
	e.b = strconv.AppendBool(e.b, r.IsError)
	if r.ErrorCode != 0 {
		e.b = append(e.b, `,"errorCode":`...)
		e.b = strconv.AppendInt(e.b, int64(r.ErrorCode), 10)
	}
	e.b = append(e.b, `,"bytes":`...)
	e.b = strconv.AppendInt(e.b, int64(r.Bytes), 10)
	if len(r.ContentTypes) > 0 {
		e.b = append(e.b, `,"contentTypes":`...)
		e.strs(r.ContentTypes)
	}
	if r.Redactions != 0 {
		e.b = append(e.b, `,"redactions":`...)
		e.b = strconv.AppendInt(e.b, int64(r.Redactions), 10)
	}
	e.b = append(e.b, '}')
}

func (e *recordEncoder) decision(d *Decision) {
	e.b = append(e.b, `{"allow":`...)
	e.b = strconv.AppendBool(e.b, d.Allow)
	e.b = append(e.b, `,"enforced":`...)
	e.b = strconv.AppendBool(e.b, d.Enforced)
	e.b = append(e.b, `,"mode":`...)
	e.str(d.Mode)
	e.optStrs(`,"reasons":`, d.Reasons)
	e.optStrs(`,"rule_ids":`, d.RuleIDs)
	e.optStr(`,"bundle_revision":`, d.Revision)
	if d.PreDenied {
		e.b = append(e.b, `,"pre_denied":true`...)
	}
	if s := d.Shadow; s != nil {
		e.b = append(e.b, `,"shadow":{"allow":`...)
		e.b = strconv.AppendBool(e.b, s.Allow)
		e.optStrs(`,"reasons":`, s.Reasons)
		e.optStrs(`,"rule_ids":`, s.RuleIDs)
		e.optStr(`,"bundle_revision":`, s.Revision)
		e.optStr(`,"error":`, s.Error)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

func (e *recordEncoder) guardrail(g *Guardrail) {
	e.b = append(e.b, `{"name":`...)
	e.str(g.Name)
	e.optStr(`,"kind":`, g.Kind)
	e.b = append(e.b, `,"hook":`...)
	e.str(g.Hook)
	e.b = append(e.b, `,"mode":`...)
	e.str(g.Mode)
	e.b = append(e.b, `,"verdict":`...)
	e.str(g.Verdict)
	if len(g.Findings) > 0 {
		e.b = append(e.b, `,"findings":[`...)
		for i, f := range g.Findings {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, `{"rule":`...)
			e.str(f.Rule)
			e.b = append(e.b, `,"message":`...)
			e.str(f.Message)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, `,"duration_us":`...)
	e.b = strconv.AppendInt(e.b, g.DurationUS, 10)
	if g.Mutated {
		e.b = append(e.b, `,"mutated":true`...)
	}
	e.optStr(`,"error":`, g.Error)
	e.b = append(e.b, '}')
}

// members appends the non-empty ones of pairs of (quoted name and colon,
// value), comma-separated: an object's omitempty string members.
func (e *recordEncoder) members(kv ...string) {
	first := true
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.b = append(e.b, kv[i]...)
		e.str(kv[i+1])
	}
}

// optStr appends an omitempty string member; key starts with its comma.
func (e *recordEncoder) optStr(key, v string) {
	if v != "" {
		e.b = append(e.b, key...)
		e.str(v)
	}
}

// optStrs appends an omitempty []string member.
func (e *recordEncoder) optStrs(key string, v []string) {
	if len(v) > 0 {
		e.b = append(e.b, key...)
		e.strs(v)
	}
}

// optRaw appends an omitempty json.RawMessage member.
func (e *recordEncoder) optRaw(key string, v json.RawMessage) {
	if len(v) > 0 {
		e.b = append(e.b, key...)
		e.raw(v)
	}
}

func (e *recordEncoder) strs(v []string) {
	if v == nil {
		e.b = append(e.b, "null"...)
		return
	}
	e.b = append(e.b, '[')
	for i, s := range v {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(s)
	}
	e.b = append(e.b, ']')
}

// raw appends a raw JSON value as Marshal does: checked, compacted, with
// <, >, &, U+2028 and U+2029 escaped.
func (e *recordEncoder) raw(v json.RawMessage) {
	plain := true
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2:
			plain = false
		}
		if !plain {
			break
		}
	}
	if plain {
		// Already compact and with nothing to escape: checked as is.
		if !json.Valid(v) {
			e.bad = true
			return
		}
		e.b = append(e.b, v...)
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v); err != nil {
		e.bad = true
		return
	}
	buf := bytes.NewBuffer(e.b)
	json.HTMLEscape(buf, compact.Bytes())
	e.b = buf.Bytes()
}

// time appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds); it refuses, as that does, a year outside 0–9999 and a
// zone offset of 24 hours or more.
func (e *recordEncoder) time(t time.Time) {
	n0 := len(e.b)
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	s := e.b[n0+1:]
	num2 := func(b []byte) byte { return 10*(b[0]-'0') + (b[1] - '0') }
	switch {
	case len(s) < 5 || s[4] != '-':
		e.bad = true
		return
	case s[len(s)-1] != 'Z':
		c := s[len(s)-len("Z07:00")]
		if ('0' <= c && c <= '9') || num2(s[len(s)-len("07:00"):]) >= 24 {
			e.bad = true
			return
		}
	}
	e.b = append(e.b, '"')
}

// float appends a float64 as Marshal does (ES6 number form).
func (e *recordEncoder) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.bad = true
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

const hexDigits = "0123456789abcdef"

// strSafe says which ASCII bytes a string holds unescaped (encoding/json's
// htmlSafeSet): not the controls, the quote, the backslash, <, > and &.
var strSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// str appends s quoted as Marshal does, HTML characters escaped.
func (e *recordEncoder) str(s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if strSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}
