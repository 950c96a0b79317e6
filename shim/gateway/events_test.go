package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestResumePOSTStream breaks a streamed tools/call answer after its
// first progress event: the go-sdk client resumes the stream with GET and
// Last-Event-ID, and gets the rest of the progress and the answer once.
func TestResumePOSTStream(t *testing.T) {
	release := make(chan struct{})
	up := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	up.AddTool(&mcp.Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tok := req.Params.GetProgressToken()
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2})
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 2, Total: 2})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
		})
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return up }, nil))
	t.Cleanup(upTS.Close)
	gov := &fakeGov{servers: []gateway.Server{{ID: "slow", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"slow": {ID: "slow", Status: catalog.StatusApproved}}}
	gw, _ := newGateway(t, gov, gateway.Options{})
	cut := make(chan struct{})
	proxy := &gatewaytest.CutProxy{Before: gw.URL, OnCut: func() { close(cut) }}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	c := gatewaytest.NewProgressClient("resumer")
	// Resumption belongs to sessions (2025-11-25); the stateless revision
	// has none.
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/slow/mcp"},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	go func() {
		select {
		case <-cut:
			close(release)
		case <-await.Context(t).Done():
		}
	}()
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(await.Context(t), params)
	if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "done" {
		t.Fatalf("call across the broken stream: %+v, %v", res, err)
	}
	// Notifications are handled apart from the call's answer.
	await.Until(t, "both progress notifications", func() bool { return len(c.Progress()) >= 2 })
	if got := c.Progress(); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("progress = %v, want [1 2] (each once)", got)
	}
	if resumes := proxy.Resumes(); len(resumes) != 1 || !regexp.MustCompile(`^p\d+_1@`+regexp.QuoteMeta(gw.URL)+`$`).MatchString(resumes[0]) {
		t.Errorf("resumptions %q, want one after the first event of a POST stream (pN_1)", resumes)
	}
}

// TestResumeErrors: a Last-Event-ID the gateway did not write, or one
// its log no longer holds, gets a precise 400.
func TestResumeErrors(t *testing.T) {
	gov := twoServers(t)
	ts, _ := newGateway(t, gov, gateway.Options{})
	url := ts.URL + "/servers/beta/mcp"
	sid := initializeSession(t, url)
	status, body, _ := post(t, url, sid, `{"jsonrpc":"2.0","id":"q","method":"ping"}`, "Mcp-Protocol-Version", "2025-11-25")
	if status != 200 || !regexp.MustCompile(`id: p1_1\nevent: message\ndata: \{"jsonrpc":"2.0","id":"q"`).MatchString(body) {
		t.Fatalf("ping as SSE: %d %q", status, body)
	}
	for _, c := range []struct{ id, want string }{
		{"nonsense", `malformed Last-Event-ID "nonsense": the gateway's event ids are STREAM_POSITION`},
		{"p1_7", `cannot resume after Last-Event-ID "p1_7": event not in the session's event log: stream "p1" has 1 events, not 7`},
		{"p1_1", `stream p1 of this session has no events after it (it ended, or never was)`},
		{"p9_3", `the session has no stream "p9"`},
		{"get_4", `cannot resume after Last-Event-ID "get_4": event not in the session's event log: the session has no stream "get"`},
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Last-Event-ID", c.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("Last-Event-ID %s: %d %q, want 400 saying %q", c.id, resp.StatusCode, b, c.want)
		}
	}
}

// TestMemoryEventLog: positions per stream, replay after a position,
// the bounds (oldest dropped first), a stream dropped once read.
func TestMemoryEventLog(t *testing.T) {
	ctx := context.Background()
	l := gateway.NewMemoryEventLog(3, 1<<20)
	for i, stream := range []string{"a", "b", "a", "a", "b"} {
		pos, _ := l.Append(ctx, "s", stream, []byte{byte('0' + i)})
		if want := map[int]uint64{0: 1, 1: 1, 2: 2, 3: 3, 4: 2}[i]; pos != want {
			t.Fatalf("event %d of %s at %d, want %d", i, stream, pos, want)
		}
	}
	if got, err := l.After(ctx, "s", "a", 1); err != nil || string(bytes.Join(got, nil)) != "23" {
		t.Fatalf("a after 1: %q %v", got, err)
	}
	// Bound 3: a_1 and b_1 are gone.
	if _, err := l.After(ctx, "s", "a", 0); !errors.Is(err, gateway.ErrEventNotInLog) || !strings.Contains(err.Error(), "newest 3 events") {
		t.Fatalf("a after 0: %v, want the bound named", err)
	}
	if got, err := l.After(ctx, "s", "a", 3); err != nil || len(got) != 0 {
		t.Fatalf("a after its last: %q %v", got, err)
	}
	if _, err := l.After(ctx, "s", "a", 4); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("a after 4: %v", err)
	}
	l.Drop(ctx, "s", "a")
	if got, err := l.After(ctx, "s", "b", 1); err != nil || string(bytes.Join(got, nil)) != "4" {
		t.Fatalf("b after a was dropped: %q %v", got, err)
	}
	if _, err := l.After(ctx, "s", "a", 2); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("a after it was dropped: %v", err)
	}
	big := gateway.NewMemoryEventLog(100, 10)
	for range 4 {
		_, _ = big.Append(ctx, "s", "x", []byte("1234"))
	}
	if got, err := big.After(ctx, "s", "x", 2); err != nil || len(got) != 2 {
		t.Fatalf("byte bound 10 with 4-byte events: after 2: %d events %v, want the newest 2", len(got), err)
	}
	l.Forget(ctx, "s")
	if _, err := l.After(ctx, "s", "b", 1); !errors.Is(err, gateway.ErrEventNotInLog) {
		t.Fatalf("after the session was forgotten: %v", err)
	}
}

// TestResumeGETStream: the session's GET stream breaks; the client
// resumes it with the id of the last event it got, and gets what was
// sent after that once, then what follows.
func TestResumeGETStream(t *testing.T) {
	gov := twoServers(t)
	ts, h := newGateway(t, gov, gateway.Options{})
	url := ts.URL + "/servers/beta/mcp"
	sid := initializeSession(t, url)
	if status, _, _ := post(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != 202 {
		t.Fatalf("initialized: %d", status)
	}
	type ev struct{ id, data string }
	open := func(last string) (*bufio.Reader, func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(await.Context(t))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET (Last-Event-ID %q): %v %v", last, resp, err)
		}
		return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
	}
	next := func(r *bufio.Reader) ev {
		t.Helper()
		var e ev
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read the stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				e.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			case line == "" && e.data != "":
				return e
			}
		}
	}
	// Reload tells the session's client to list its tools again, on the
	// GET stream (no POST is in flight).
	r1, close1 := open("")
	h.Reload()
	if e := next(r1); e.id != "get_1" || !strings.Contains(e.data, "notifications/tools/list_changed") {
		t.Fatalf("first event: %+v", e)
	}
	close1()
	h.Reload() // sent while the stream is broken
	r2, close2 := open("get_1")
	defer close2()
	if e := next(r2); e.id != "get_2" || !strings.Contains(e.data, "list_changed") {
		t.Fatalf("resumed: %+v, want get_2", e)
	}
	h.Reload()
	if e := next(r2); e.id != "get_3" {
		t.Fatalf("after the resumption: %+v, want get_3 (get_2 once)", e)
	}
}
