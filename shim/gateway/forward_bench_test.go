package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
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
		c := gatewaytest.AcceptingClient(name, map[string]any{"name": "Ada"})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: a.ts.URL + "/servers/asker/mcp", HTTPClient: &http.Client{Transport: tr}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	same := connect("bench-same", &gatewaytest.RetrySplit{User: "ann", Retries: a.ts.URL, Others: a.ts.URL})
	forwarded := connect("bench-forwarded", &gatewaytest.RetrySplit{User: "ann", Retries: r.ts.URL, Others: a.ts.URL})
	tSame, tForwarded, n := alternate(b, askTimer(b, same, "hello Ada (accept)"), askTimer(b, forwarded, "hello Ada (accept)"))
	b.ReportMetric(float64(tSame.Microseconds())/float64(n), "same-us/call")
	b.ReportMetric(float64(tForwarded.Microseconds())/float64(n), "forwarded-us/call")
	b.ReportMetric(float64(tForwarded)/float64(tSame), "forwarded/same")
}
