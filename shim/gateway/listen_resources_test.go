package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessResourceSubscriptions: a go-sdk client subscribes to a
// resource under 2026-07-28 (a subscriptions/listen stream naming its
// URI); the gateway subscribes its pooled upstream session with
// resources/subscribe, the server's notifications/resources/updated reach
// the client on its stream with the subscription id, and when the client
// unsubscribes (closes the stream) the gateway unsubscribes upstream.
func TestStatelessResourceSubscriptions(t *testing.T) {
	subscribed, unsubscribed := make(chan string, 4), make(chan string, 4)
	s := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler: func(_ context.Context, r *mcp.SubscribeRequest) error {
			subscribed <- r.Params.URI
			return nil
		},
		UnsubscribeHandler: func(_ context.Context, r *mcp.UnsubscribeRequest) error {
			unsubscribed <- r.Params.URI
			return nil
		},
	})
	for _, uri := range []string{"docs://a", "docs://b"} {
		s.AddResource(&mcp.Resource{URI: uri, Name: strings.TrimPrefix(uri, "docs://")}, func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: "text of " + r.Params.URI}}}, nil
		})
	}
	ts, _ := newGateway(t, approved("docs", serveMCP(t, s, nil)), gateway.Options{})
	updated := make(chan string, 8)
	c := mcp.NewClient(&mcp.Implementation{Name: "subscriber", Version: "1"}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) { updated <- r.Params.URI },
	})
	cs := connectClient(t, c, ts.URL+"/servers/docs/mcp", "", "")
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	if caps := cs.InitializeResult().Capabilities; caps.Resources == nil || !caps.Resources.Subscribe {
		t.Fatalf("server/discover: resources capability %+v, want subscribe offered", caps.Resources)
	}
	if err := cs.Subscribe(await.Context(t), &mcp.SubscribeParams{URI: "docs://a"}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ch chan string, want string) {
		t.Helper()
		if got := await.Recv(t, ch, what+" "+want); got != want {
			t.Fatalf("%s %q, want %q", what, got, want)
		}
	}
	wait("resources/subscribe upstream of", subscribed, "docs://a")
	for _, uri := range []string{"docs://b", "docs://a"} {
		if err := s.ResourceUpdated(await.Context(t), &mcp.ResourceUpdatedNotificationParams{URI: uri}); err != nil {
			t.Fatal(err)
		}
	}
	wait("notifications/resources/updated for", updated, "docs://a")
	if err := cs.Unsubscribe(await.Context(t), &mcp.UnsubscribeParams{URI: "docs://a"}); err != nil {
		t.Fatal(err)
	}
	wait("resources/unsubscribe upstream of", unsubscribed, "docs://a")
	select {
	case uri := <-updated:
		t.Errorf("an update of %q reached the client, which subscribed to docs://a only", uri)
	default:
	}
}

// TestStatelessClosedPostRecorded: a stateless client that gives up on a
// call closes its POST, the revision's only cancellation (its Streamable
// HTTP transport has no notifications/cancelled): the call is cancelled
// upstream and recorded as cancelled at once, saying so (a server need
// not answer a cancelled request).
func TestStatelessClosedPostRecorded(t *testing.T) {
	up := newAskUpstream(t)
	ts, _, store, _ := inputGateway(t, up, gateway.Options{})
	// No elicitation handler: "hold"'s elicitation fails at once, and the
	// call then waits until it is cancelled.
	cs := connectClient(t, mcp.NewClient(&mcp.Implementation{Name: "closer", Version: "1"}, nil), ts.URL+"/servers/asker/mcp", "ann", "")
	ctx, cancel := context.WithCancel(await.Context(t))
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "hold", Arguments: map[string]any{}})
		errc <- err
	}()
	await.Recv(t, up.holdErr, "the call reaching the upstream")
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the cancelled call returned no error")
	}
	await.Recv(t, up.holdCanceled, "the call's cancellation upstream")
	var recs []*audit.Record
	await.Until(t, "the cancelled call's record", func() bool {
		recs = toolRecords(store)
		return len(recs) > 0
	})
	if len(recs) != 1 || recs[0].Outcome != audit.OutcomeCancelled || !strings.Contains(recs[0].Reason, "the client closed its POST") || recs[0].Identity.Subject != "ann" {
		t.Errorf("records: %d, first %s %q, want one cancelled call of ann saying the client closed its POST", len(recs), recs[0].Outcome, recs[0].Reason)
	}
}
