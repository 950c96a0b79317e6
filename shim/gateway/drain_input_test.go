package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// startDrain drains h in the background under ctx; the channel gives
// Drain's error once it returns. It returns once /readyz of base says
// the replica is draining.
func startDrain(t *testing.T, ctx context.Context, h *gateway.Handler, base string) <-chan error {
	t.Helper()
	drained := make(chan error, 1)
	go func() { drained <- h.Drain(ctx) }()
	await.Until(t, "/readyz saying draining", func() bool { return readyzStatus(base) == http.StatusServiceUnavailable })
	return drained
}

func readyzStatus(base string) int {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stillDraining fails the test when Drain returned already.
func stillDraining(t *testing.T, drained <-chan error, why string) {
	t.Helper()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while %s", err, why)
	default:
	}
}

// statelessAsk is the body of a new stateless call of "ask".
const statelessAsk = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"ask","arguments":{"greeting":"hi"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}}}`

// TestDrainCompletesParkedStatelessCalls: a replica that drains keeps two
// calls parked for their client's input (input_required): a new call
// gets 503, the retry sent to the draining replica completes the first,
// Drain waits for the second, whose retry reaches another replica and is
// forwarded to the draining one, and completes; then Drain returns, each
// call recorded once as allowed.
func TestDrainCompletesParkedStatelessCalls(t *testing.T) {
	up := streamUpstream(t, nil)
	a := startTestReplica(t, up, "self", gateway.Options{})
	b := startTestReplica(t, up, "self", gateway.Options{})
	epA, epB := a.ts.URL+"/servers/asker/mcp", b.ts.URL+"/servers/asker/mcp"
	key1, state1 := askCall(t, epA, 1)
	key2, state2 := askCall(t, epA, 2)
	drained := startDrain(t, await.Context(t), a.h, a.ts.URL)

	status, text, hdr := post(t, epA, "", statelessAsk, "X-Test-User", "ann", "Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "ask")
	if status != http.StatusServiceUnavailable || !strings.Contains(text, "shutting down") || hdr.Get("Retry-After") == "" {
		t.Fatalf("a new call on the draining replica: %d %q, want 503 with Retry-After", status, text)
	}

	status, ans := rawStateless(t, epA, "ann", 3, "tools/call", retryParams(key1, state1, "Ida"))
	if status != 200 || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Ida (accept)" {
		t.Fatalf("the retry sent to the draining replica: %d %+v %+v", status, ans.Error, ans.Result)
	}
	stillDraining(t, drained, "a call still waited for its client's input")
	if got := readyzStatus(a.ts.URL); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz of the draining replica: %d, want 503", got)
	}

	status, ans = rawStateless(t, epB, "ann", 4, "tools/call", retryParams(key2, state2, "Flo"))
	if status != 200 || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Flo (accept)" {
		t.Fatalf("the retry forwarded to the draining replica: %d %+v %+v", status, ans.Error, ans.Result)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	recs := toolRecords(a.store)
	if len(recs) != 2 {
		t.Fatalf("%d tools/call records on the draining replica, want 2", len(recs))
	}
	for _, r := range recs {
		if r.Tool != "ask" || r.Outcome != audit.OutcomeAllowed {
			t.Errorf("record %s %s, want ask allowed", r.Tool, r.Outcome)
		}
	}
	if got := refusedRetries(b.store); len(got) != 0 {
		t.Errorf("the forwarding replica refused retries: %q", got)
	}
}

// TestDrainCancelsParkedCallAtDeadline: a call still parked for its
// client's input when the drain's deadline passes is cancelled: its
// server's elicitation ends with an error, Drain says so, and the call is
// recorded as cancelled with why.
func TestDrainCancelsParkedCallAtDeadline(t *testing.T) {
	up := newAskUpstream(t)
	ts, h, store, _ := inputGateway(t, up, gateway.Options{})
	status, ans := rawStateless(t, ts.URL+"/servers/asker/mcp", "ann", 1, "tools/call", `"name":"hold","arguments":{}`)
	if status != 200 || ans.Result.ResultType != "input_required" {
		t.Fatalf("hold: %d %+v %+v, want input_required", status, ans.Error, ans.Result)
	}
	ctx, cancel := context.WithCancel(await.Context(t))
	drained := startDrain(t, ctx, h, ts.URL)
	stillDraining(t, drained, "the call waited for its client's input")
	cancel() // the drain's deadline
	if err := <-drained; err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for their client's input") {
		t.Errorf("Drain: %v, want the calls it cancelled", err)
	}
	select {
	case <-up.holdCanceled:
	case <-await.Context(t).Done():
		t.Fatal("the held call was not cancelled upstream")
	}
	var found []string
	store.mu.Lock()
	for _, r := range store.recs {
		if r.Tool == "hold" {
			found = append(found, r.Outcome+": "+r.Reason)
		}
	}
	store.mu.Unlock()
	if len(found) != 1 || !strings.HasPrefix(found[0], audit.OutcomeCancelled+": ") || !strings.Contains(found[0], "shut down (its drain timed out)") {
		t.Errorf("records of the held call: %q, want one cancelled by the drain", found)
	}
}

// TestDrainTakesSessionAnswer: a session's call (protocol 2025-11-25)
// whose server elicits from the client while the gateway drains
// completes: the client's answer, a POST in its session, is taken, while
// a new session gets 503; Drain returns once the call is answered.
func TestDrainTakesSessionAnswer(t *testing.T) {
	up := newAskUpstream(t)
	ts, h, store, _ := inputGateway(t, up, gateway.Options{})
	asked := make(chan struct{})
	answer := make(chan struct{})
	c := mcp.NewClient(&mcp.Implementation{Name: "session-client", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			close(asked)
			select {
			case <-answer:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Sam"}}, nil
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/asker/mcp",
		HTTPClient: &http.Client{Transport: userTransport{"ann"}}}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2025-11-25" {
		t.Fatalf("negotiated %q, want a session of 2025-11-25", v)
	}
	type result struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{}})
		done <- result{res, err}
	}()
	select {
	case <-asked:
	case <-await.Context(t).Done():
		t.Fatal("the server's elicitation never reached the client")
	}
	drained := startDrain(t, await.Context(t), h, ts.URL)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	if status, text, _ := post(t, ts.URL+"/servers/asker/mcp", "", init, "X-Test-User", "ann"); status != http.StatusServiceUnavailable {
		t.Errorf("a new session on the draining gateway: %d %q, want 503", status, text)
	}
	stillDraining(t, drained, "a call waited for its client's answer")
	close(answer)
	r := <-done
	if r.err != nil || r.res.IsError || len(r.res.Content) != 1 || r.res.Content[0].(*mcp.TextContent).Text != "hello Sam (accept)" {
		t.Fatalf("the call answered during the drain: %+v %v", r.res, r.err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if recs := toolRecords(store); len(recs) != 1 || recs[0].Outcome != audit.OutcomeAllowed {
		t.Errorf("records: %d, want the call allowed", len(recs))
	}
}
