package gateway_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	gov := approved("alpha", serveMCP(b, s, nil))
	gov.servers = append(gov.servers, gateway.Server{ID: "beta", URL: serveMCP(b, s, &mcp.StreamableHTTPOptions{Stateless: true}), Protocol: "2026-07-28"})
	gov.entries["beta"] = &catalog.Server{ID: "beta", Status: catalog.StatusApproved}
	gw := benchServe(b, gov, nil)
	connect := func(id string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench-" + id, Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: gw + "/servers/" + id + "/mcp"}, nil)
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
