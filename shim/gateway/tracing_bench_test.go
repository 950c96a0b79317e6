package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// idSink numbers records and keeps none, as a store would without the
// disk.
type idSink struct{ n int }

func (s *idSink) Record(_ context.Context, rec *audit.Record) error {
	s.n++
	rec.ID = "r"
	return nil
}

func (s *idSink) Keeps() bool { return true }

// BenchmarkGatewayTracing measures what tracing adds to a tools/call
// through the gateway: two gateways on loopback over the same upstream,
// one with a span per request exported over OTLP/HTTP to a receiver on
// loopback, one without, called alternately so that the machine's load
// lands on both. It reports each side's time per call and on/off, the
// ratio against the same-run baseline.
func BenchmarkGatewayTracing(b *testing.B) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{}`))
	}))
	defer rcv.Close()
	exp, err := trace.NewExporter(trace.Options{Endpoint: rcv.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close(context.Background())
	up := upstreamTB(b, "alpha", "echo")
	session := func(tracing *gateway.Tracing) *mcp.ClientSession {
		url := benchGateway(b, up, tracing)
		c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url + "/servers/alpha/mcp",
			HTTPClient: &http.Client{Transport: addHeaders{http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	off, on := session(nil), session(gateway.NewTracing(exp))
	tOff, tOn, n := alternate(b, echoTimer(b, off), echoTimer(b, on))
	b.ReportMetric(float64(tOff.Microseconds())/float64(n), "off-us/call")
	b.ReportMetric(float64(tOn.Microseconds())/float64(n), "on-us/call")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
	st := exp.Stats()
	b.ReportMetric(float64(st.Dropped), "dropped")
}

// upstreamTB is upstream for benchmarks.
func upstreamTB(tb testing.TB, server string, names ...string) string {
	s := mcp.NewServer(&mcp.Implementation{Name: server, Version: "1"}, nil)
	for _, name := range names {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: server + ":" + name}}}, nil
			})
	}
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	tb.Cleanup(ts.Close)
	return ts.URL
}
