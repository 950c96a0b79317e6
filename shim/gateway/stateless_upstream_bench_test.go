package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// BenchmarkGatewayStatelessUpstream compares a stateless client's
// tools/call through the gateway to one go-sdk server reached two ways:
// in a 2025-11-25 upstream session (alpha) and called statelessly
// (beta, launch.protocol 2026-07-28: a POST per call, the server's
// session made per request), alternately, so that the machine's load
// lands on both. It reports each side's time per call and
// stateless/session.
func BenchmarkGatewayStatelessUpstream(b *testing.B) {
	s := mcp.NewServer(&mcp.Implementation{Name: "echoer", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo"}}}, nil
		})
	serve := func(stateless bool) string {
		ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: stateless}))
		b.Cleanup(ts.Close)
		return ts.URL
	}
	gov := &fakeGov{servers: []gateway.Server{{ID: "alpha", URL: serve(false)}, {ID: "beta", URL: serve(true), Protocol: "2026-07-28"}},
		entries: map[string]*catalog.Server{"alpha": {ID: "alpha", Status: catalog.StatusApproved}, "beta": {ID: "beta", Status: catalog.StatusApproved}}}
	h, err := gateway.New(gateway.Options{Governance: recordingGov{fakeGov: gov, sink: &idSink{}},
		Identify: func(*http.Request) (audit.Identity, error) { return audit.Identity{Method: "anonymous"}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(h)
	b.Cleanup(func() { ts.Close(); _ = h.Close(context.Background()) })
	connect := func(id string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench-" + id, Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/" + id + "/mcp"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	tSession, tStateless, n := alternate(b, echoTimer(b, connect("alpha")), echoTimer(b, connect("beta")))
	b.ReportMetric(float64(tSession.Microseconds())/float64(n), "session-up-us/call")
	b.ReportMetric(float64(tStateless.Microseconds())/float64(n), "stateless-up-us/call")
	b.ReportMetric(float64(tStateless)/float64(tSession), "stateless/session")
}
