package gateway_test

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkGatewayStateless compares a tools/call through the gateway in
// a 2025-11-25 session with the same call under the stateless revision
// (its pooled upstream session, the id rewritten, resultType added), from
// two go-sdk clients of one gateway called alternately, so that the
// machine's load lands on both. It reports each side's time per call and
// stateless/session, the ratio against the same-run baseline.
func BenchmarkGatewayStateless(b *testing.B) {
	url := benchGateway(b, upstreamTB(b, "alpha", "echo"), nil)
	connect := func(version string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench-" + version, Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url + "/servers/alpha/mcp"},
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
	tSession, tStateless, n := alternate(b, echoTimer(b, session), echoTimer(b, stateless))
	b.ReportMetric(float64(tSession.Microseconds())/float64(n), "session-us/call")
	b.ReportMetric(float64(tStateless.Microseconds())/float64(n), "stateless-us/call")
	b.ReportMetric(float64(tStateless)/float64(tSession), "stateless/session")
}
