package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessInputTiedToItsCall: two stateless calls of one client in
// flight at once in one pooled upstream session, whose go-sdk server
// (Streamable HTTP, answers streamed) elicits during both once both have
// arrived: each elicitation comes on its call's own answer stream, the
// gateway ties it to that call, and each call is answered with the input
// given for it. Crossed answers would name the other call.
func TestStatelessInputTiedToItsCall(t *testing.T) {
	arrived, release := make(chan string, 2), make(chan struct{})
	s := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "greet", InputSchema: json.RawMessage(`{"type":"object","properties":{"who":{"type":"string"}},"required":["who"]}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct {
				Who string `json:"who"`
			}
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return nil, err
			}
			arrived <- args.Who
			select {
			case <-release: // both calls are in flight
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name for " + args.Who,
				RequestedSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)})
			if err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%s got %v", args.Who, res.Content["name"])}}}, nil
		})
	ts, _ := newGateway(t, approved("greeter", serveMCP(t, s, nil)), gateway.Options{})
	cs := connectClient(t, namingClient(), ts.URL+"/servers/greeter/mcp", "", "")
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want the stateless revision", v)
	}
	check := callBoth(t, cs, "greet")
	for range 2 {
		await.Recv(t, arrived, "the two calls in flight at once")
	}
	close(release)
	check()
}
