package enforce

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// relatedClient is a client that takes the call a server's message is
// about (RelatedWriter).
type relatedClient struct {
	out chan relatedFrame
}

type relatedFrame struct {
	m       *rpc.Message
	related json.RawMessage
	tied    bool // came through WriteRelated
}

func (c *relatedClient) WriteFrame(msg []byte) error {
	m, err := rpc.Parse(msg)
	if err != nil {
		return err
	}
	c.out <- relatedFrame{m: m}
	return nil
}

func (c *relatedClient) WriteRelated(m *rpc.Message, related json.RawMessage) error {
	c.out <- relatedFrame{m: m, related: related, tied: true}
	return nil
}

// framePeer is an upstream that hands the test what the session sends it.
type framePeer chan []byte

func (p framePeer) WriteFrame(msg []byte) error {
	p <- append([]byte(nil), msg...)
	return nil
}

// TestSessionRelatedToEndedCall: a server's request that its transport
// ties to a call of the client's reaches the client with that call's id;
// one tied to a request that is no longer a call of the client's (here
// answered already) reaches it marked as about no call (an empty id), not
// as an untied request the client could pin on another call in flight.
func TestSessionRelatedToEndedCall(t *testing.T) {
	ctx := context.Background()
	up := make(framePeer, 8)
	client := &relatedClient{out: make(chan relatedFrame, 8)}
	s := NewSession(SessionOptions{Client: client, Routes: []Route{{Upstream: up}}})
	t.Cleanup(s.Wait)
	upstreamID := func() json.RawMessage {
		m, err := rpc.Parse(await.Recv(t, up, "the call upstream"))
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	elicit := func(related json.RawMessage) relatedFrame {
		m, err := rpc.Parse([]byte(`{"jsonrpc":"2.0","id":"e","method":"elicitation/create","params":{"message":"which?","requestedSchema":{"type":"object","properties":{}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		m.Related = related
		if err := s.FromUpstreamMessage(ctx, 0, m); err != nil {
			t.Fatal(err)
		}
		return await.Recv(t, client.out, "the server's request at the client")
	}

	if err := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask","arguments":{}}}`)); err != nil {
		t.Fatal(err)
	}
	first := upstreamID()
	if got := elicit(first); !got.tied || string(got.related) != "7" {
		t.Fatalf("a request about call 7 in flight reached the client tied=%v to %q, want call 7", got.tied, got.related)
	}
	if err := s.FromUpstream(ctx, 0, rpc.ResultResponse(first, json.RawMessage(`{"content":[]}`))); err != nil {
		t.Fatal(err)
	}
	if got := await.Recv(t, client.out, "the answer to call 7"); !got.m.IsResponse() || string(got.m.ID) != "7" {
		t.Fatalf("want the answer to 7, got %s", got.m.Raw)
	}
	if err := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"other","arguments":{}}}`)); err != nil {
		t.Fatal(err)
	}
	upstreamID()
	got := elicit(first)
	if !got.tied || got.related == nil || len(got.related) != 0 {
		t.Fatalf("a request about call 7, answered already, reached the client tied=%v to %q while call 8 is in flight; want it marked as about no call (empty, not nil)", got.tied, got.related)
	}
}
