package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// BenchmarkGatewayStateless compares a tools/call through the gateway in
// a 2025-11-25 session with the same call under the stateless revision
// (its pooled upstream session, the id rewritten, resultType added), from
// two go-sdk clients of one gateway called alternately, so that the
// machine's load lands on both. It reports each side's time per call and
// stateless/session, the ratio against the same-run baseline.
func BenchmarkGatewayStateless(b *testing.B) {
	up := upstreamTB(b, "alpha", "echo")
	gov := &fakeGov{servers: []gateway.Server{{ID: "alpha", URL: up}},
		entries: map[string]*catalog.Server{"alpha": {ID: "alpha", Status: catalog.StatusApproved}}}
	h, err := gateway.New(gateway.Options{Governance: recordingGov{fakeGov: gov, sink: &idSink{}},
		Identify: func(*http.Request) (audit.Identity, error) { return audit.Identity{Method: "anonymous"}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(h)
	b.Cleanup(func() { ts.Close(); _ = h.Close(context.Background()) })
	connect := func(version string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench-" + version, Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/alpha/mcp"},
			&mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			b.Fatal(err)
		}
		if got := cs.InitializeResult().ProtocolVersion; got != version {
			b.Fatalf("negotiated %s, want %s", got, version)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	session, stateless := connect("2025-11-25"), connect("2026-07-28")
	call := func(cs *mcp.ClientSession) time.Duration {
		start := time.Now()
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"x": 1}}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	call(session)
	call(stateless)
	var tSession, tStateless time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			tSession += call(session)
			tStateless += call(stateless)
		} else {
			tStateless += call(stateless)
			tSession += call(session)
		}
		n++
	}
	b.ReportMetric(float64(tSession.Microseconds())/float64(n), "session-us/call")
	b.ReportMetric(float64(tStateless.Microseconds())/float64(n), "stateless-us/call")
	b.ReportMetric(float64(tStateless)/float64(tSession), "stateless/session")
}
