package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestAppendRecordMatchesMarshal: the store's encoder writes every record
// byte for byte as encoding/json's Marshal does (so the chain's hashes
// are those of the lines Marshal would have written), and the line
// decodes to the same record; a record Marshal refuses is refused with
// Marshal's error and leaves the buffer as it was.
func TestAppendRecordMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		checkAppendRecord(t, genRecord(func(n int) int { return r.IntN(n) }))
		if t.Failed() {
			t.Fatalf("record %d", i)
		}
	}
}

// FuzzAppendRecord is TestAppendRecordMatchesMarshal driven by the fuzzer.
func FuzzAppendRecord(f *testing.F) {
	for _, seed := range []string{"", "\x00\x01\x02", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "record with a guardrail and a cost"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func(n int) int {
			if len(data) < 2 {
				return 0
			}
			v := int(binary.LittleEndian.Uint16(data))
			data = data[2:]
			return v % n
		}
		checkAppendRecord(t, genRecord(next))
	})
}

func checkAppendRecord(t *testing.T, rec *Record) {
	t.Helper()
	prefix := []byte("earlier lines\n")
	want, werr := json.Marshal(rec)
	got, gerr := appendRecord(bytes.Clone(prefix), rec)
	switch {
	case werr != nil:
		if gerr == nil || gerr.Error() != werr.Error() || !bytes.Equal(got, prefix) {
			t.Errorf("Marshal: %v; appendRecord: %v, %q", werr, gerr, got)
		}
		return
	case gerr != nil:
		t.Errorf("appendRecord: %v; Marshal: %s", gerr, want)
		return
	case !bytes.HasPrefix(got, prefix):
		t.Errorf("appendRecord overwrote the buffer: %q", got)
		return
	}
	line := got[len(prefix):]
	if !bytes.Equal(line, want) {
		t.Errorf("appendRecord:\n%s\nMarshal:\n%s", line, want)
		return
	}
	var a, b Record
	if err := json.Unmarshal(line, &a); err != nil {
		t.Fatalf("decode: %v\n%s", err, line)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("decoded records differ:\n%+v\n%+v", a, b)
	}
}

// genRecord builds a record from next (next(n) is in [0, n)): every
// member present or absent, strings with what JSON escapes (controls,
// quotes, HTML characters, U+2028/U+2029, invalid UTF-8), raw members
// valid or not, with and without spaces, times in and out of range and
// in other zones, floats of every form.
func genRecord(next func(int) int) *Record {
	str := func() string {
		pieces := []string{"", "a", "tool_call", "héllo", "日本", "\"", "\\", "<", ">", "&", "\u2028", "\u2029",
			"\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "\x7f", "\xff", "\xc3", "\xe2\x80", "\xe2\x80\xa8", "\ufffd", "𝄞", " ", "/"}
		var s string
		for range next(5) {
			s += pieces[next(len(pieces))]
		}
		return s
	}
	strs := func() []string {
		switch next(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		var v []string
		for range 1 + next(3) {
			v = append(v, str())
		}
		return v
	}
	raw := func() json.RawMessage {
		docs := []string{"", `{}`, `{"a":1}`, `{ "a" : [1, 2,	3] }`, "{\n\"k\":\"<b>&</b>\"\n}", `"\u2028"`, "\"\u2028\u2029\"",
			`[true,false,null]`, `{"a":"\u00e9"}`, `1.5e3`, `{"a":`, `nope`, `{"a":"x"} {}`, "\"\xff\"", ` 7 `}
		if next(3) == 0 {
			return nil
		}
		return json.RawMessage(docs[next(len(docs))])
	}
	float := func() float64 {
		fs := []float64{0, 1, -1, 0.5, 1e-7, 1e-6, 1e20, 1e21, 1e300, -2.5e-9, 123456.789, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64}
		if next(4) == 0 {
			return math.Float64frombits(uint64(next(1<<16))<<48 | uint64(next(1<<16))<<16)
		}
		return fs[next(len(fs))]
	}
	tm := func() time.Time {
		zones := []*time.Location{time.UTC, time.FixedZone("x", 3600), time.FixedZone("y", -(5*3600 + 30*60)), time.FixedZone("s", 61), time.FixedZone("big", 24*3600), time.FixedZone("neg", -25*3600)}
		switch next(8) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		case 2:
			return time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return time.Date(1990+next(60), time.Month(1+next(12)), 1+next(28), next(24), next(60), next(60), next(3)*next(1e9), zones[next(len(zones))])
	}
	b := func() bool { return next(2) == 1 }
	n64 := func() int64 {
		if next(3) == 0 {
			return 0
		}
		return int64(next(1<<16)) - 1<<15
	}
	rec := &Record{
		Version: next(3), ID: str(), Seq: uint64(next(1 << 16)), Time: tm(), Kind: str(),
		Session:  str(),
		Identity: Identity{Subject: str(), Email: str(), Name: str(), Groups: strs(), Issuer: str(), Method: str()},
		Method:   str(), Tool: str(), Outcome: str(), Reason: str(), Logging: str(),
		Arguments: raw(), ArgumentsKept: str(), ToolAnnotations: raw(),
		Decision:       Decision{Allow: b(), Enforced: b(), Mode: str(), Reasons: strs(), RuleIDs: strs(), Revision: str(), PreDenied: b()},
		SuppressedKind: str(), Durability: str(), Prev: str(),
		RequestMeta: raw(), RequestLogging: str(), RequestRef: str(),
	}
	if b() {
		rec.Client = Client{Name: str(), Version: str()}
	}
	if b() {
		rec.Server = ServerRef{ID: str(), Name: str(), Transport: str(), Launch: str(), ConfigName: str()}
	}
	if b() {
		rec.Result = &ResultSummary{IsError: b(), ErrorCode: int(n64()), Bytes: int(n64()), ContentTypes: strs(), Redactions: int(n64())}
	}
	if next(3) == 0 {
		rec.Decision.Shadow = &ShadowDecision{Allow: b(), Reasons: strs(), RuleIDs: strs(), Revision: str(), Error: str()}
	}
	switch next(3) {
	case 0:
	case 1:
		rec.Guardrails = []Guardrail{}
	default:
		for range 1 + next(3) {
			g := Guardrail{Name: str(), Kind: str(), Hook: str(), Mode: str(), Verdict: str(), DurationUS: n64(), Mutated: b(), Error: str()}
			if b() {
				g.Findings = []Finding{}
			}
			for range next(3) {
				g.Findings = append(g.Findings, Finding{Rule: str(), Message: str()})
			}
			rec.Guardrails = append(rec.Guardrails, g)
		}
	}
	if b() {
		rec.Latency = Latency{TotalUS: n64(), UpstreamUS: n64(), PolicyUS: n64()}
	}
	if b() {
		rec.Cost = &Cost{Price: float(), Call: float(), Result: float(), Total: float()}
	}
	if next(10) == 0 {
		rec.Alert = &Alert{Rule: str(), Kind: str(), Severity: str(), Subject: str(), Message: str(), Count: int(n64()), Baseline: float(), Since: tm(), Until: tm()}
	}
	return rec
}

// BenchmarkRecordEncode: a governed call's record (five guardrail
// results) written by encoding/json's Marshal and by the store's encoder.
func BenchmarkRecordEncode(b *testing.B) {
	rec := testRecord(1)
	rec.ID, rec.Seq, rec.Time, rec.Prev = "0123456789abcdef0123456789abcdef", 42, time.Now().UTC(), "5f0e"+string(bytes.Repeat([]byte("ab"), 30))
	for _, name := range []string{"sql", "secrets", "pii", "code", "injection"} {
		rec.Guardrails = append(rec.Guardrails, Guardrail{Name: name, Kind: name, Hook: "pre", Mode: "enforce", Verdict: VerdictPass, DurationUS: 3})
	}
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendRecord(buf[:0], rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
