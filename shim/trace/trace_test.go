package trace_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// The examples of W3C Trace Context level 2 (section 3.2), and the ways a
// header goes wrong.
func TestParseTraceparent(t *testing.T) {
	for _, tc := range []struct {
		in, err     string
		trace, span string
		flags       byte
	}{
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7", flags: 1},
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7"},
		// A later version is read as 00, its extra fields ignored.
		{in: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds", trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7", flags: 9},
		{in: "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", err: "version ff"},
		{in: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", err: "lowercase hex"},
		{in: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", err: "all-zero"},
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", err: "all-zero"},
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", err: "55 characters"},
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", err: "want 55"},
		{in: "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", err: "dashes"},
		{in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", err: "flags"},
		{in: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", err: "without a dash"},
	} {
		c, err := trace.ParseTraceparent(tc.in)
		if tc.err != "" {
			if err == nil || !errors.Is(err, trace.ErrTraceparent) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTraceparent(%q) = %v, want an error saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || c.TraceID.String() != tc.trace || c.SpanID.String() != tc.span || c.Flags != tc.flags {
			t.Errorf("ParseTraceparent(%q) = %s %s %x, %v", tc.in, c.TraceID, c.SpanID, c.Flags, err)
		}
	}
	c, _ := trace.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if got := c.Traceparent(); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("Traceparent() = %q", got)
	}
}

func TestParseTracestate(t *testing.T) {
	for in, want := range map[string]string{
		"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		" rojo=1 ,, congo=2\t":                    "rojo=1,congo=2",
		"fw529a3039@dt=ZGVmYXVsdA,vendor/x=a b":   "fw529a3039@dt=ZGVmYXVsdA,vendor/x=a b",
		"":                                        "",
	} {
		if got, err := trace.ParseTracestate(in); err != nil || got != want {
			t.Errorf("ParseTracestate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	many := strings.Repeat("k=v,", 33)
	for _, in := range []string{"Rojo=1", "rojo", "rojo=1,rojo=2", "rojo=a=b", "rojo=a\x01b", "1abc=x", many, "a=" + strings.Repeat("x", 257)} {
		if got, err := trace.ParseTracestate(in); err == nil {
			t.Errorf("ParseTracestate(%.40q) = %q, want an error", in, got)
		}
	}
}

func TestNewIDs(t *testing.T) {
	seen := map[trace.SpanID]bool{}
	for range 1000 {
		s := trace.NewSpanID()
		if !s.IsValid() || seen[s] {
			t.Fatalf("span id %s invalid or repeated", s)
		}
		seen[s] = true
	}
	if a, b := trace.NewTraceID(), trace.NewTraceID(); !a.IsValid() || a == b {
		t.Fatalf("trace ids %s %s", a, b)
	}
}

// receiver is an OTLP/HTTP traces endpoint on loopback that keeps what it
// is sent; hold, when set, keeps each request waiting until it is closed.
type receiver struct {
	mu    sync.Mutex
	reqs  []map[string]any
	paths []string
	hold  chan struct{}
	got   chan struct{}
}

func newReceiver(t testing.TB, hold bool) (*receiver, string) {
	r := &receiver{got: make(chan struct{}, 100)}
	if hold {
		r.hold = make(chan struct{})
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, m)
		r.paths = append(r.paths, req.URL.Path+" "+req.Header.Get("X-Api-Key"))
		r.mu.Unlock()
		r.got <- struct{}{}
		if r.hold != nil {
			<-r.hold
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(func() {
		if r.hold != nil {
			select {
			case <-r.hold:
			default:
				close(r.hold)
			}
		}
		ts.Close()
	})
	return r, ts.URL
}

func (r *receiver) spans() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, req := range r.reqs {
		for _, rs := range req["resourceSpans"].([]any) {
			for _, ss := range rs.(map[string]any)["scopeSpans"].([]any) {
				for _, s := range ss.(map[string]any)["spans"].([]any) {
					out = append(out, s.(map[string]any))
				}
			}
		}
	}
	return out
}

func TestExporterSends(t *testing.T) {
	rcv, url := newReceiver(t, false)
	exp, err := trace.NewExporter(trace.Options{Endpoint: url, Headers: http.Header{"X-Api-Key": {"k1"}}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	parent, _ := trace.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	start := time.Unix(1700000000, 5)
	root := &trace.Span{TraceID: parent.TraceID, SpanID: trace.NewSpanID(), Parent: parent.SpanID, RemoteParent: true,
		Flags: parent.Flags, State: "rojo=1", Name: "tools/call add", Kind: trace.KindServer, Start: start, End: start.Add(time.Millisecond),
		Attrs: []trace.Attr{trace.String("mcp.method.name", "tools/call"), trace.Int("http.response.status_code", 200),
			trace.Bool("b", true), trace.Strings("mcpgov.rule_ids", []string{"r1", "r2"})},
		Status: trace.StatusError, Message: "denied"}
	child := root.Child("mcpgov upstream", start, start.Add(time.Microsecond))
	if !exp.Export(child) || !exp.Export(root) {
		t.Fatal("Export refused a span with an empty queue")
	}
	ctx := await.Context(t)
	if err := exp.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := rcv.spans()
	if len(spans) != 2 {
		t.Fatalf("received %d spans, want 2", len(spans))
	}
	got, _ := json.Marshal(spans[1])
	for _, want := range []string{
		`"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"parentSpanId":"00f067aa0ba902b7"`, `"traceState":"rojo=1"`,
		`"flags":769`, `"kind":2`, `"name":"tools/call add"`, `"startTimeUnixNano":"1700000000000000005"`,
		`"endTimeUnixNano":"1700000000001000005"`, `{"key":"http.response.status_code","value":{"intValue":"200"}}`,
		`{"key":"b","value":{"boolValue":true}}`, `"arrayValue":{"values":[{"stringValue":"r1"},{"stringValue":"r2"}]}`,
		`"status":{"code":2,"message":"denied"}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("span lacks %s:\n%s", want, got)
		}
	}
	if c := spans[0]; c["parentSpanId"] != root.SpanID.String() || c["kind"] != 1.0 || c["flags"] != 257.0 {
		t.Errorf("child span %v", c)
	}
	if rcv.paths[0] != "/v1/traces k1" {
		t.Errorf("export went to %q", rcv.paths[0])
	}
	if err := exp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := exp.Stats(); st.Sent != 2 || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	if exp.Export(root) {
		t.Error("a closed exporter queued a span")
	}
}

// TestExporterDropsWhenFull: with the endpoint stuck, Export still
// returns at once; spans past the queue are dropped and counted.
func TestExporterDropsWhenFull(t *testing.T) {
	rcv, url := newReceiver(t, true)
	exp, err := trace.NewExporter(trace.Options{Endpoint: url + "/custom/path", Queue: 3, Batch: 1, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	span := func() *trace.Span {
		return &trace.Span{TraceID: trace.NewTraceID(), SpanID: trace.NewSpanID(), Name: "x"}
	}
	if !exp.Export(span()) {
		t.Fatal("first span refused")
	}
	await.Recv(t, rcv.got, "the first export reaching the endpoint")
	queued := 0
	for range 10 {
		if exp.Export(span()) {
			queued++
		}
	}
	if queued != 3 || exp.Stats().Dropped != 7 {
		t.Fatalf("%d spans queued and %d dropped behind a stuck endpoint, want 3 and 7", queued, exp.Stats().Dropped)
	}
	close(rcv.hold)
	ctx := await.Context(t)
	if err := exp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := exp.Stats(); st.Sent != 4 || st.Dropped != 7 {
		t.Fatalf("stats %+v, want 4 sent, 7 dropped", st)
	}
	if rcv.paths[0] != "/custom/path " {
		t.Errorf("an endpoint with a path got %q", rcv.paths[0])
	}
}

// TestExporterFailures: a refusing endpoint is reported once, not per
// batch, and its spans are counted as failed.
func TestExporterFailures(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	var mu sync.Mutex
	var reports []error
	exp, err := trace.NewExporter(trace.Options{Endpoint: ts.URL, Batch: 1, Interval: time.Hour, Errors: func(err error) {
		mu.Lock()
		reports = append(reports, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		exp.Export(&trace.Span{TraceID: trace.NewTraceID(), SpanID: trace.NewSpanID()})
	}
	if err := exp.Close(await.Context(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := exp.Stats(); st.Failed != 3 || len(reports) != 1 || !strings.Contains(reports[0].Error(), "503") {
		t.Fatalf("stats %+v, reports %v", st, reports)
	}
}

func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":     "http://127.0.0.1:4318/v1/traces",
		"https://otel.example.com/": "https://otel.example.com/v1/traces",
		"http://h:1/otlp/v1/traces": "http://h:1/otlp/v1/traces",
	} {
		if got, err := trace.TracesURL(in); err != nil || got != want {
			t.Errorf("TracesURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"127.0.0.1:4318", "ftp://h", "http://", "http://user:pw@h:1"} {
		if _, err := trace.TracesURL(in); err == nil {
			t.Errorf("TracesURL(%q) accepted", in)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("TracesURL error shows the password: %v", err)
		}
	}
}

func BenchmarkExport(b *testing.B) {
	_, url := newReceiver(b, false)
	exp, _ := trace.NewExporter(trace.Options{Endpoint: url})
	defer exp.Close(context.Background())
	span := &trace.Span{TraceID: trace.NewTraceID(), SpanID: trace.NewSpanID(), Name: "x"}
	for b.Loop() {
		exp.Export(span)
	}
}
