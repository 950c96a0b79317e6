package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// The A/B driver of the gateway's in-process benchmarks: a gateway on
// loopback over one approved upstream, and two sides called alternately,
// so that the machine's load lands on both.

// benchGateway serves the approved server alpha at up through a gateway
// (with tracing, when given) whose records are numbered and dropped, for
// an anonymous caller, until the benchmark ends; it returns its URL.
func benchGateway(b *testing.B, up string, tracing *gateway.Tracing) string {
	return benchServe(b, approved("alpha", up), tracing)
}

// benchServe serves gov's servers through a gateway as benchGateway does.
func benchServe(b *testing.B, gov *fakeGov, tracing *gateway.Tracing) string {
	var sink enforce.Sink = &idSink{}
	if tracing != nil {
		sink = tracing.Sink(sink)
	}
	h, err := gateway.New(gateway.Options{Governance: recordingGov{fakeGov: gov, sink: sink}, Tracing: tracing,
		Identify: func(*http.Request) (audit.Identity, error) { return audit.Identity{Method: "anonymous"}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(h)
	b.Cleanup(func() { ts.Close(); _ = h.Close(context.Background()) })
	return ts.URL
}

// echoTimer returns a function that calls alpha's echo in cs and returns
// how long the call took.
func echoTimer(b *testing.B, cs *mcp.ClientSession) func() time.Duration {
	return func() time.Duration {
		start := time.Now()
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"x": 1}}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
}

// askTimer returns a function that calls ask, answered want, in cs (its
// client answers the tool's elicitation) and returns how long the call
// took.
func askTimer(b *testing.B, cs *mcp.ClientSession, want string) func() time.Duration {
	return func() time.Duration {
		start := time.Now()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{}})
		if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != want {
			b.Fatalf("%+v %v", res, err)
		}
		return time.Since(start)
	}
}

// alternate calls x and y once each to warm up, then both in each round of
// b.Loop, which goes first swapped every round; it returns each one's
// total time and the rounds.
func alternate(b *testing.B, x, y func() time.Duration) (tx, ty time.Duration, n int) {
	x()
	y()
	for b.Loop() {
		if n%2 == 0 {
			tx += x()
			ty += y()
		} else {
			ty += y()
			tx += x()
		}
		n++
	}
	return tx, ty, n
}
