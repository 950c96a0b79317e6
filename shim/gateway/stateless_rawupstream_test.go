//lint:file-ignore SA1019 logging is deprecated as of protocol 2026-07-28 (SEP-2577), yet still carried per request
package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// allLevels are the log levels of MCP, least first.
var allLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// rawStatelessUpstream is a server of 2026-07-28 written by hand, for what
// a go-sdk server would not do. Its tool "silent" gets 202 Accepted and
// never an answer. Its tool "loud" answers on an event
// stream that carries a notifications/message at every level, and one
// without a level, whatever the call's _meta says. listen serves its
// subscriptions/listen POSTs (n counts them from 1).
func rawStatelessUpstream(t *testing.T, listen func(w http.ResponseWriter, r *http.Request, n int64)) string {
	t.Helper()
	var listens atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := rpc.Parse(body)
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "not a stateless request", http.StatusBadRequest)
			return
		}
		switch m.Method {
		case "server/discover":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true},"logging":{}}}`)))
		case "tools/list":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"tools":[{"name":"loud","inputSchema":{"type":"object"}},{"name":"silent","inputSchema":{"type":"object"}}]}`)))
		case "tools/call":
			if strings.Contains(string(m.Params), `"name":"silent"`) {
				w.WriteHeader(http.StatusAccepted) // no answer, ever
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for _, level := range append(slices.Clone(allLevels), "") {
				params := `{"data":"at ` + level + `"}`
				if level != "" {
					params = `{"level":"` + level + `","data":"at ` + level + `"}`
				}
				_, _ = w.Write([]byte(`data: {"jsonrpc":"2.0","method":"notifications/message","params":` + params + "}\n\n"))
			}
			_, _ = w.Write([]byte("data: " + string(rpc.ResultResponse(m.ID, json.RawMessage(`{"content":[{"type":"text","text":"said it all"}]}`))) + "\n\n"))
		case "subscriptions/listen":
			listen(w, r, listens.Add(1))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "not served here"}))
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestStatelessLogFilterOwn: an upstream that ignores the call's log level
// sends its log messages at every level; the gateway lets through on the
// call's stream only those at or above the level the call named, none
// without a level, and none at all to a call that named no level.
func TestStatelessLogFilterOwn(t *testing.T) {
	url := rawStatelessUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		http.Error(w, "no listens here", http.StatusBadRequest)
	})
	ep, _, _, _ := sessionlessGateway(t, url)
	var mu sync.Mutex
	var got []string
	c := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "1"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			mu.Lock()
			got = append(got, string(req.Params.Level))
			mu.Unlock()
		},
	})
	cs := connectClient(t, c, ep, "ann", "")
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	logged := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	call := func(meta mcp.Meta) {
		t.Helper()
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "loud", Arguments: map[string]any{}, Meta: meta})
		if err != nil || res.IsError {
			t.Fatalf("loud: %+v %v", res, err)
		}
	}

	atWarning := allLevels[3:]
	call(mcp.Meta{"io.modelcontextprotocol/logLevel": "warning"})
	await.Until(t, "the log messages of the call at warning", func() bool { return len(logged()) >= len(atWarning) })
	if l := logged(); !slices.Equal(l, atWarning) {
		t.Errorf("the call at warning got log messages at %q, want %q", l, atWarning)
	}
	// The call without a level gets none: the call at debug after it
	// shows that its messages would have come by then.
	call(nil)
	call(mcp.Meta{"io.modelcontextprotocol/logLevel": "debug"})
	want := append(slices.Clone(atWarning), allLevels...)
	await.Until(t, "the log messages of the call at debug", func() bool { return len(logged()) >= len(want) })
	if l := logged(); !slices.Equal(l, want) {
		t.Errorf("log messages %q, want %q: those at warning and up, then none, then all eight (none without a level)", l, want)
	}
}

// TestStatelessListenReopened: the upstream drops the stream of the
// gateway's subscriptions/listen without answering it; the gateway opens
// the listen again, and a list change sent on the new stream reaches the
// client's listen stream.
func TestStatelessListenReopened(t *testing.T) {
	var reopened atomic.Bool
	url := rawStatelessUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(`data: {"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true}}}` + "\n\n"))
		if n == 1 {
			return // the stream breaks: no answer to the listen
		}
		reopened.Store(true)
		_, _ = w.Write([]byte(`data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"upstream-own"}}}` + "\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ep, _, _, _ := sessionlessGateway(t, url)

	ctx, cancel := context.WithCancel(await.Context(t))
	t.Cleanup(cancel)
	resp := openListen(t, ctx, ep, "sub-1", `{"toolsListChanged":true}`)
	type event struct {
		Method string `json:"method"`
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	events := make(chan event, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				var e event
				if json.Unmarshal([]byte(strings.TrimSpace(data)), &e) == nil {
					events <- e
				}
			}
		}
	}()
	for {
		e := await.Recv(t, events, "the upstream's list change, sent on its reopened listen, on the client's listen stream")
		if e.Method == "" {
			t.Fatal("the client's listen stream ended")
		}
		if e.Method != "notifications/tools/list_changed" {
			continue
		}
		if !reopened.Load() {
			t.Fatal("a list change reached the client before the upstream's listen was reopened")
		}
		if id := e.Params.Meta["io.modelcontextprotocol/subscriptionId"]; id != "sub-1" {
			t.Errorf("list_changed for subscription %v, want the client's sub-1", id)
		}
		return
	}
}

// TestStatelessUpstream202: a call the upstream answers with 202 Accepted
// (no answer will come) is answered with an error saying so, and recorded
// as a failed call, instead of leaving the client waiting.
func TestStatelessUpstream202(t *testing.T) {
	url := rawStatelessUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		http.Error(w, "no listens here", http.StatusBadRequest)
	})
	ep, _, store, _ := sessionlessGateway(t, url)
	cs := connectClient(t, mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil), ep, "ann", "")
	res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "silent", Arguments: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "answered its POST with 202 Accepted and no body, without the answer to tools/call") {
		t.Fatalf("silent answered %+v %v, want an error saying the server answered 202", res, err)
	}
	await.Until(t, "the record of the silent call", func() bool { return len(toolRecords(store)) == 1 })
	if r := toolRecords(store)[0]; r.Tool != "silent" || r.Outcome != audit.OutcomeError {
		t.Errorf("record %s %s, want silent error", r.Tool, r.Outcome)
	}
}
