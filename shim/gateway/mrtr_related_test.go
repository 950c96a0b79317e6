package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog"
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
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(upTS.Close)
	gov := &fakeGov{servers: []gateway.Server{{ID: "greeter", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"greeter": {ID: "greeter", Status: catalog.StatusApproved}}}
	ts, _ := newGateway(t, gov, gateway.Options{})
	c := mcp.NewClient(&mcp.Implementation{Name: "two-at-once", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			who, ok := strings.CutPrefix(req.Params.Message, "name for ")
			if !ok {
				return nil, fmt.Errorf("unexpected elicitation %q", req.Params.Message)
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "name-of-" + who}}, nil
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/greeter/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want the stateless revision", v)
	}
	type answer struct {
		who, text string
		err       error
	}
	done := make(chan answer, 2)
	for _, who := range []string{"alice", "bob"} {
		go func() {
			res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"who": who}})
			a := answer{who: who, err: err}
			if err == nil && res.IsError {
				a.err = fmt.Errorf("tool error: %v", res.Content)
			} else if err == nil && len(res.Content) > 0 {
				a.text = res.Content[0].(*mcp.TextContent).Text
			}
			done <- a
		}()
	}
	for range 2 {
		select {
		case <-arrived:
		case <-await.Context(t).Done():
			t.Fatal("the two calls never were in flight at once")
		}
	}
	close(release)
	for range 2 {
		a := <-done
		if want := a.who + " got name-of-" + a.who; a.err != nil || a.text != want {
			t.Errorf("call for %s: %q %v, want %q", a.who, a.text, a.err, want)
		}
	}
}
