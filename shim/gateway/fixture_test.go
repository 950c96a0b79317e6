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

// serveMCP serves s over Streamable HTTP (opts; nil for the defaults)
// until the test ends, and returns its URL.
func serveMCP(tb testing.TB, s *mcp.Server, opts *mcp.StreamableHTTPOptions) string {
	tb.Helper()
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts))
	tb.Cleanup(ts.Close)
	return ts.URL
}

// approved is the governance of one approved server, id at url.
func approved(id, url string) *fakeGov {
	return &fakeGov{servers: []gateway.Server{{ID: id, URL: url}},
		entries: map[string]*catalog.Server{id: {ID: id, Status: catalog.StatusApproved}}}
}

// connectClient connects c to endpoint until the test ends, naming the
// caller user (X-Test-User) when user is set; when version is set, it
// asks for that protocol version and checks that it was negotiated.
func connectClient(t *testing.T, c *mcp.Client, endpoint, user, version string) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: endpoint}
	if user != "" {
		tr.HTTPClient = &http.Client{Transport: userTransport{user}}
	}
	var opts *mcp.ClientSessionOptions
	if version != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := c.Connect(await.Context(t), tr, opts)
	if err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { cs.Close() })
	if got := cs.InitializeResult().ProtocolVersion; version != "" && got != version {
		t.Fatalf("connect %s: negotiated %q, want %s", endpoint, got, version)
	}
	return cs
}

// callBoth calls tool in cs for alice and bob at once ({"who": name});
// the function it returns waits for both answers and checks that each
// got its own, "<who> got name-of-<who>" (namingClient's input).
func callBoth(t *testing.T, cs *mcp.ClientSession, tool string) (check func()) {
	t.Helper()
	type answer struct {
		who, text string
		err       error
	}
	done := make(chan answer, 2)
	for _, who := range []string{"alice", "bob"} {
		go func() {
			res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"who": who}})
			a := answer{who: who, err: err}
			if err == nil && res.IsError {
				a.err = fmt.Errorf("tool error: %v", res.Content)
			} else if err == nil && len(res.Content) > 0 {
				a.text = res.Content[0].(*mcp.TextContent).Text
			}
			done <- a
		}()
	}
	return func() {
		t.Helper()
		for range 2 {
			a := await.Recv(t, done, "the answers to both calls")
			if want := a.who + " got name-of-" + a.who; a.err != nil || a.text != want {
				t.Errorf("call for %s: %q %v, want %q", a.who, a.text, a.err, want)
			}
		}
	}
}

// cancelOn is ctx, cancelled also once stop is closed: how a test's
// server stops a wait the test decides the end of.
func cancelOn(ctx context.Context, stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// openListen opens a stateless client's subscriptions/listen on endpoint
// as the user ann, asking for notifications (the JSON of its
// notifications member), and returns the open response: its body is the
// listen's event stream, closed when the test ends or ctx is done.
func openListen(t *testing.T, ctx context.Context, endpoint string, id any, notifications string) *http.Response {
	t.Helper()
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	rid, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":` + string(rid) + `,"method":"subscriptions/listen","params":{"notifications":` + notifications + `,` + meta + `}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"X-Test-User": "ann", "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
