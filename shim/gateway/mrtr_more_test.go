package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessInputRounds: a tool that asks twice in one call (two
// rounds, the second asked on the retry's POST), through the proxy and
// the aggregating endpoint; a prompt whose server asks too. The go-sdk
// client answers each round and the answers carry both replies.
func TestStatelessInputRounds(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "twice", Version: "1"}, nil)
	schema := json.RawMessage(`{"type":"object","properties":{"v":{"type":"string"}}}`)
	ask := func(ctx context.Context, ss *mcp.ServerSession, q string) (string, error) {
		res, err := ss.Elicit(ctx, &mcp.ElicitParams{Message: q, RequestedSchema: schema})
		if err != nil {
			return "", err
		}
		return fmt.Sprint(res.Content["v"]), nil
	}
	s.AddTool(&mcp.Tool{Name: "twice", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			a, err := ask(ctx, req.Session, "first?")
			if err != nil {
				return nil, err
			}
			b, err := ask(ctx, req.Session, "second?")
			if err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a + "+" + b}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet"}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		who, err := ask(ctx, req.Session, "whom?")
		if err != nil {
			return nil, err
		}
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "greet " + who}}}}, nil
	})
	ts, _ := newGateway(t, approved("twice", serveMCP(t, s, nil)), gateway.Options{})
	var n atomic.Int32
	c := mcp.NewClient(&mcp.Implementation{Name: "rounds", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"v": fmt.Sprintf("%s%d", strings.TrimSuffix(req.Params.Message, "?"), n.Add(1))}}, nil
		},
	})
	for _, e := range []struct{ path, tool string }{{"/servers/twice/mcp", "twice"}, {"/mcp", "twice__twice"}} {
		cs := connectClient(t, c, ts.URL+e.path, "", "")
		n.Store(0)
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: e.tool, Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("%s: %+v %v", e.path, res, err)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != "first1+second2" {
			t.Errorf("%s: %q, want first1+second2 (two rounds)", e.path, got)
		}
	}
	cs := connectClient(t, c, ts.URL+"/servers/twice/mcp", "", "")
	n.Store(0)
	p, err := cs.GetPrompt(await.Context(t), &mcp.GetPromptParams{Name: "greet"})
	if err != nil {
		t.Fatalf("prompts/get: %v", err)
	}
	if got := p.Messages[0].Content.(*mcp.TextContent).Text; got != "greet whom1" {
		t.Errorf("prompts/get: %q, want greet whom1", got)
	}
}

// TestStatelessInputAmbiguous: a server that answers its POSTs with JSON
// bodies sends its requests during a call on the GET stream, where they
// do not say which call they are for; with two calls of one client in
// flight in the pooled session, the gateway cannot tell, and answers the
// server's requests with an error that says so, rather than guess.
// (TestStatelessInputTiedToItsCall: on the call's own stream, it can.)
func TestStatelessInputAmbiguous(t *testing.T) {
	started, release, finish := make(chan struct{}, 2), make(chan struct{}), make(chan struct{})
	errs := make(chan error, 2)
	s := mcp.NewServer(&mcp.Implementation{Name: "gate", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "gate", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			started <- struct{}{}
			<-release
			_, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "which?", RequestedSchema: json.RawMessage(`{"type":"object"}`)})
			errs <- err
			<-finish // both calls stay in flight until both were asked
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
		})
	ts, _ := newGateway(t, approved("gate", serveMCP(t, s, &mcp.StreamableHTTPOptions{JSONResponse: true})), gateway.Options{})
	c := mcp.NewClient(&mcp.Implementation{Name: "two-at-once", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	})
	cs := connectClient(t, c, ts.URL+"/servers/gate/mcp", "", "")
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "gate", Arguments: map[string]any{}})
			done <- err
		}()
	}
	for range 2 {
		await.Recv(t, started, "the two calls reaching the upstream")
	}
	close(release)
	for range 2 {
		err := <-errs
		if err == nil || !strings.Contains(err.Error(), "2 calls of the client were in flight in one upstream session") {
			t.Errorf("the server's elicitation with two calls in flight: %v, want the gateway's error saying why", err)
		}
	}
	close(finish)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("call: %v", err)
		}
	}
}

// TestStatelessAnsweredWhileWaiting: a server that stops waiting for its
// input and answers the call before the client retries: the answer is
// kept for the retry, which gets it (and the call is recorded once).
func TestStatelessAnsweredWhileWaiting(t *testing.T) {
	// The server gives up waiting when the test says so, once the client
	// has its input_required answer (a timer could fire before the gateway
	// parked the call on a loaded machine).
	giveUp := make(chan struct{})
	s := mcp.NewServer(&mcp.Implementation{Name: "impatient", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "impatient", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			short, cancel := cancelOn(ctx, giveUp)
			defer cancel()
			_, err := req.Session.Elicit(short, &mcp.ElicitParams{Message: "quick?", RequestedSchema: json.RawMessage(`{"type":"object"}`)})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("gave up waiting: %v", err != nil)}}}, nil
		})
	ts, _, store, _ := inputGatewayFor(t, &askUpstream{url: serveMCP(t, s, nil)}, "impatient", gateway.Options{})
	ep := ts.URL + "/servers/impatient/mcp"
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", `"name":"impatient","arguments":{}`)
	if status != 200 || a.Result.ResultType != "input_required" {
		t.Fatalf("first call: %d %+v", status, a)
	}
	var key string
	for k := range a.Result.InputRequests {
		key = k
	}
	q, _ := json.Marshal(a.Result.RequestState)
	// The server gives up and answers; its answer is recorded as it
	// passes, just before it reaches the parked call, which keeps it for
	// the retry.
	close(giveUp)
	await.Until(t, "the server's answer recorded", func() bool { return len(toolRecords(store)) == 1 })
	status, r := rawStateless(t, ep, "ann", 2, "tools/call", fmt.Sprintf(`"name":"impatient","arguments":{},"inputResponses":{%q:{"action":"cancel"}},"requestState":%s`, key, q))
	if status != 200 || r.Result.ResultType != "complete" || len(r.Result.Content) != 1 || r.Result.Content[0].Text != "gave up waiting: true" {
		t.Fatalf("retry after the server answered: %d %+v", status, r)
	}
}
