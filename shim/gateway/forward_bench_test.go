package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// BenchmarkGatewayRetryForwarded compares a 2026-07-28 tools/call whose
// server elicits once, through two replicas sharing their key: retried on
// the replica holding the call (same), and retried on the other, which
// forwards it (forwarded). Two go-sdk clients are called alternately so
// that the machine's load lands on both; it reports each side's time per
// call and forwarded/same.
func BenchmarkGatewayRetryForwarded(b *testing.B) {
	up := streamUpstream(b, nil)
	a := startTestReplica(b, up, "self", gateway.Options{})
	r := startTestReplica(b, up, "self", gateway.Options{})
	connect := func(name string, tr http.RoundTripper) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ClientOptions{
			ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
			},
		})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: a.ts.URL + "/servers/asker/mcp", HTTPClient: &http.Client{Transport: tr}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	same := connect("bench-same", &splitTransport{user: "ann", retries: a.ts.URL, others: a.ts.URL})
	forwarded := connect("bench-forwarded", &splitTransport{user: "ann", retries: r.ts.URL, others: a.ts.URL})
	call := func(cs *mcp.ClientSession) time.Duration {
		start := time.Now()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{}})
		if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "hello Ada (accept)" {
			b.Fatalf("%+v %v", res, err)
		}
		return time.Since(start)
	}
	call(same)
	call(forwarded)
	var tSame, tForwarded time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			tSame += call(same)
			tForwarded += call(forwarded)
		} else {
			tForwarded += call(forwarded)
			tSame += call(same)
		}
		n++
	}
	b.ReportMetric(float64(tSame.Microseconds())/float64(n), "same-us/call")
	b.ReportMetric(float64(tForwarded.Microseconds())/float64(n), "forwarded-us/call")
	b.ReportMetric(float64(tForwarded)/float64(tSame), "forwarded/same")
}
