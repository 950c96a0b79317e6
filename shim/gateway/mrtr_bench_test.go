package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
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
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	b.Cleanup(upTS.Close)
	gov := &fakeGov{servers: []gateway.Server{{ID: "asker", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"asker": {ID: "asker", Status: catalog.StatusApproved}}}
	h, err := gateway.New(gateway.Options{Governance: recordingGov{fakeGov: gov, sink: &idSink{}},
		Identify: func(*http.Request) (audit.Identity, error) { return audit.Identity{Method: "anonymous"}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(h)
	b.Cleanup(func() { ts.Close(); _ = h.Close(context.Background()) })
	connect := func(version string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench-" + version, Version: "1"}, &mcp.ClientOptions{
			ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
			},
		})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/asker/mcp"},
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
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{}})
		if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "hello Ada" {
			b.Fatalf("%+v %v", res, err)
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
