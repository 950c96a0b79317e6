package gateway_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
)

// BenchmarkGatewayInputRound compares a tools/call whose server elicits
// once, through the gateway, from a 2025-11-25 session (the server's
// request relayed on the call's stream, answered in the session) and from
// a 2026-07-28 client (input_required, the client's retry with its answer
// and the sealed requestState, the answer delivered to the waiting
// upstream request), two go-sdk clients called alternately so that the
// machine's load lands on both. It reports each side's time per call and
// stateless/session.
func BenchmarkGatewayInputRound(b *testing.B) {
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	schema := json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name?", RequestedSchema: schema})
			if err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hello " + res.Content["name"].(string)}}}, nil
		})
	gw := benchServe(b, approved("asker", serveMCP(b, s, nil)), nil)
	connect := func(version string) *mcp.ClientSession {
		c := gatewaytest.AcceptingClient("bench-"+version, map[string]any{"name": "Ada"})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: gw + "/servers/asker/mcp"},
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
	tSession, tStateless, n := alternate(b, askTimer(b, connect("2025-11-25"), "hello Ada"), askTimer(b, connect("2026-07-28"), "hello Ada"))
	b.ReportMetric(float64(tSession.Microseconds())/float64(n), "session-us/call")
	b.ReportMetric(float64(tStateless.Microseconds())/float64(n), "stateless-us/call")
	b.ReportMetric(float64(tStateless)/float64(tSession), "stateless/session")
}
