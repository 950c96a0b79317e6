//lint:file-ignore SA1019 sampling is deprecated as of protocol 2026-07-28 (SEP-2577) but servers still ask for it during a call; the gateway must carry it to a stateless client as an input request.
package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// askUpstream is a go-sdk server over Streamable HTTP (protocol
// 2025-11-25 toward the gateway) whose tools ask their client: "ask"
// elicits a name, "sample" asks for a model's answer, "hold" elicits and
// reports what became of its request and its call.
type askUpstream struct {
	url          string
	holdErr      chan error    // what the "hold" elicitation returned
	holdCanceled chan struct{} // the "hold" call's context ended
}

func newAskUpstream(t *testing.T) *askUpstream {
	t.Helper()
	u := &askUpstream{holdErr: make(chan error, 4), holdCanceled: make(chan struct{}, 4)}
	testDone, endTest := context.WithCancel(context.Background())
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	schema := json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object","properties":{"greeting":{"type":"string"}}}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "Your name?", RequestedSchema: schema})
			if err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%s %v (%s)", "hello", res.Content["name"], res.Action)}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "sample", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 20,
				Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "Capital of France?"}}}})
			if err != nil {
				return nil, err
			}
			text := ""
			if tc, ok := res.Content.(*mcp.TextContent); ok {
				text = tc.Text
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "model " + res.Model + " said " + text}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "hold", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			// The elicitation and the call's end are awaited apart: the
			// gateway's error answer to the elicitation and the call's
			// cancellation reach this server on two HTTP requests, in
			// either order, and a refused retry cancels the call without
			// answering the elicitation at all. The elicitation ends with
			// the test at the latest.
			ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			stop := context.AfterFunc(testDone, cancel)
			go func() {
				defer stop()
				defer cancel()
				_, err := req.Session.Elicit(ectx, &mcp.ElicitParams{Message: "Still there?", RequestedSchema: schema})
				u.holdErr <- err
			}()
			<-ctx.Done()
			u.holdCanceled <- struct{}{}
			return nil, ctx.Err()
		})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(ts.Close)
	t.Cleanup(endTest) // runs before ts.Close: a pending elicitation must not hold the server open
	u.url = ts.URL
	return u
}

// inputGateway serves the asking upstream as "asker" with every core
// recording into the returned store; the caller is named by X-Test-User.
func inputGateway(t *testing.T, up *askUpstream, opts gateway.Options) (*httptest.Server, *gateway.Handler, *recordStore, *fakeGov) {
	t.Helper()
	return inputGatewayFor(t, up, "asker", opts)
}

// inputGatewayFor is inputGateway serving the upstream as server id.
func inputGatewayFor(t *testing.T, up *askUpstream, id string, opts gateway.Options) (*httptest.Server, *gateway.Handler, *recordStore, *fakeGov) {
	t.Helper()
	store := &recordStore{}
	base := approved(id, up.url)
	opts.Governance = recordingGov{fakeGov: base, sink: store}
	opts.Identify = headerUser
	ts, h := serveGateway(t, opts)
	return ts, h, store, base
}

// userTransport names the caller of every request.
type userTransport struct{ user string }

func (u userTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-User", u.user)
	return http.DefaultTransport.RoundTrip(r)
}

func toolRecords(store *recordStore) []*audit.Record {
	store.mu.Lock()
	defer store.mu.Unlock()
	var out []*audit.Record
	for _, r := range store.recs {
		if r.Method == "tools/call" && r.Kind == audit.KindToolCall {
			out = append(out, r)
		}
	}
	return out
}

// TestStatelessInputRequests: a go-sdk v1.8 client with an elicitation
// and a sampling handler calls, under 2026-07-28, tools whose 2025-11-25
// server asks its client during the call: the gateway answers the POST
// with input_required, the client's handlers run, its retry delivers
// their answers to the waiting upstream requests and the tools' answers
// carry them; each call is recorded once, with the caller.
func TestStatelessInputRequests(t *testing.T) {
	up := newAskUpstream(t)
	ts, _, store, _ := inputGateway(t, up, gateway.Options{})
	var mu sync.Mutex
	var asked []string
	c := mcp.NewClient(&mcp.Implementation{Name: "mrtr-client", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			mu.Lock()
			asked = append(asked, "elicit:"+req.Params.Message)
			mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			mu.Lock()
			asked = append(asked, "sample:"+req.Params.Messages[0].Content.(*mcp.TextContent).Text)
			mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "test-model", Content: &mcp.TextContent{Text: "Paris"}}, nil
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/asker/mcp",
		HTTPClient: &http.Client{Transport: userTransport{"ann"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	for _, c := range []struct{ tool, want string }{{"ask", "hello Ada (accept)"}, {"sample", "model test-model said Paris"}, {"ask", "hello Ada (accept)"}} {
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: c.tool, Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("%s: %+v %v", c.tool, res, err)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != c.want {
			t.Fatalf("%s answered %q, want %q", c.tool, got, c.want)
		}
	}
	mu.Lock()
	got := strings.Join(asked, ",")
	mu.Unlock()
	if got != "elicit:Your name?,sample:Capital of France?,elicit:Your name?" {
		t.Errorf("the client's handlers ran for %s", got)
	}
	recs := toolRecords(store)
	if len(recs) != 3 {
		t.Fatalf("%d tools/call records, want 3 (one per completed call)", len(recs))
	}
	for i, want := range []string{"ask", "sample", "ask"} {
		if r := recs[i]; r.Tool != want || r.Outcome != audit.OutcomeAllowed || r.Identity.Subject != "ann" {
			t.Errorf("record %d: %s %s %s, want %s allowed for ann", i, r.Tool, r.Outcome, r.Identity.Subject, want)
		}
	}
}

// rawStateless posts one stateless request as user; it returns the HTTP
// status and the answer.
func rawStateless(t *testing.T, url, user string, id int, method, params string, header ...string) (int, rawAnswer) {
	t.Helper()
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": json.RawMessage("{" + params + "," + meta + "}")})
	h := []string{"Accept", "application/json", "X-Test-User", user, "Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", method}
	var p struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal([]byte("{"+params+"}"), &p)
	if p.Name != "" {
		h = append(h, "Mcp-Name", p.Name)
	}
	status, text, _ := post(t, url, "", string(body), append(h, header...)...)
	var a rawAnswer
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		t.Fatalf("answer %q: %v", text, err)
	}
	return status, a
}

type rawAnswer struct {
	Result struct {
		ResultType    string                     `json:"resultType"`
		InputRequests map[string]json.RawMessage `json:"inputRequests"`
		RequestState  string                     `json:"requestState"`
		Content       []struct {
			Text string `json:"text"`
		} `json:"content"`
		IsError    bool             `json:"isError"`
		TTLMs      *int             `json:"ttlMs"`
		CacheScope string           `json:"cacheScope"`
		Tools      []map[string]any `json:"tools"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestStatelessRequestState: the requestState of an input_required answer
// is good only for its caller's one retry of the same request: a forged,
// altered, foreign, replayed or mismatched one is refused with a precise
// error, and the call still waits for the right retry, which completes it.
func TestStatelessRequestState(t *testing.T) {
	up := newAskUpstream(t)
	ts, _, store, _ := inputGateway(t, up, gateway.Options{})
	ep := ts.URL + "/servers/asker/mcp"
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", `"name":"ask","arguments":{"greeting":"hi"}`)
	if status != 200 || a.Result.ResultType != "input_required" || len(a.Result.InputRequests) != 1 || a.Result.RequestState == "" {
		t.Fatalf("first call: %d %+v", status, a)
	}
	var key string
	for k, v := range a.Result.InputRequests {
		key = k
		if !strings.Contains(string(v), `"method":"elicitation/create"`) || !strings.Contains(string(v), "Your name?") {
			t.Fatalf("input request %s: %s", k, v)
		}
	}
	state := a.Result.RequestState
	answer := fmt.Sprintf(`"inputResponses":{%q:{"action":"accept","content":{"name":"Bo"}}}`, key)
	retry := func(user, args, st string) (int, rawAnswer) {
		q, _ := json.Marshal(st)
		return rawStateless(t, ep, user, 2, "tools/call", `"name":"ask","arguments":`+args+`,`+answer+`,"requestState":`+string(q))
	}
	altered := []byte(state)
	altered[len(altered)-3] ^= 1
	for _, c := range []struct {
		name, user, args, state string
		status                  int
		says                    string
	}{
		{"forged", "ann", `{"greeting":"hi"}`, "mcpgov1.AAAA", 400, "not issued by this gateway, or was altered"},
		{"altered", "ann", `{"greeting":"hi"}`, string(altered), 400, "not issued by this gateway, or was altered"},
		{"another caller", "eve", `{"greeting":"hi"}`, state, 403, "issued to another caller"},
		{"other arguments", "ann", `{"greeting":"ho"}`, state, 400, "must repeat the original tools/call request"},
	} {
		status, a := retry(c.user, c.args, c.state)
		if status != c.status || a.Error == nil || a.Error.Code != -32602 || !strings.Contains(a.Error.Message, c.says) {
			t.Errorf("%s: %d %+v, want %d -32602 saying %q", c.name, status, a.Error, c.status, c.says)
		}
	}
	// The same arguments encoded otherwise are the same request.
	status, a = retry("ann", `{"greeting":"\u0068i"}`, state)
	if status != 200 || a.Result.ResultType != "complete" || len(a.Result.Content) != 1 || a.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("the right retry: %d %+v", status, a)
	}
	status, a = retry("ann", `{"greeting":"hi"}`, state)
	if status != 400 || a.Error == nil || !strings.Contains(a.Error.Message, "is over") {
		t.Errorf("replayed after the call ended: %d %+v, want 400 saying the call is over", status, a.Error)
	}
	if recs := toolRecords(store); len(recs) != 1 || recs[0].Outcome != audit.OutcomeAllowed || recs[0].Identity.Subject != "ann" {
		t.Errorf("records: %d, want the one call of ann", len(recs))
	}
	store.mu.Lock()
	refused := map[string]int{}
	for _, r := range store.recs {
		if r.Kind == audit.KindMessageRefused && strings.HasPrefix(r.Reason, "retry refused: ") {
			refused[r.Identity.Subject]++
		}
	}
	store.mu.Unlock()
	if refused["ann"] != 4 || refused["eve"] != 1 {
		t.Errorf("refused retries recorded: %v, want 4 of ann (forged, altered, other arguments, replayed) and 1 of eve", refused)
	}
}

// TestStatelessInputTimeout: a client that never retries: once the input
// timeout passes, the upstream's elicitation is answered with an error,
// the call is cancelled upstream and recorded as cancelled with why, and
// the late retry is told its state expired.
func TestStatelessInputTimeout(t *testing.T) {
	up := newAskUpstream(t)
	ts, _, store, _ := inputGateway(t, up, gateway.Options{InputTimeout: 300 * time.Millisecond})
	ep := ts.URL + "/servers/asker/mcp"
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", `"name":"hold","arguments":{}`)
	if status != 200 || a.Result.ResultType != "input_required" {
		t.Fatalf("first call: %d %+v", status, a)
	}
	select {
	case err := <-up.holdErr:
		if err == nil || !strings.Contains(err.Error(), "did not answer the server's input requests within 300ms") {
			t.Fatalf("the upstream's elicitation returned %v, want the gateway's error", err)
		}
	case <-await.Context(t).Done():
		t.Fatal("the upstream's elicitation was never answered")
	}
	select {
	case <-up.holdCanceled:
	case <-await.Context(t).Done():
		t.Fatal("the call was not cancelled upstream")
	}
	var rec *audit.Record
	await.Until(t, "the abandoned call's record", func() bool {
		recs := toolRecords(store)
		if len(recs) > 0 {
			rec = recs[0]
		}
		return rec != nil
	})
	if rec.Tool != "hold" || rec.Outcome != audit.OutcomeCancelled || !strings.Contains(rec.Reason, "did not answer the server's input requests") {
		t.Errorf("record: %s %s %q, want hold cancelled saying why", rec.Tool, rec.Outcome, rec.Reason)
	}
	q, _ := json.Marshal(a.Result.RequestState)
	var key string
	for k := range a.Result.InputRequests {
		key = k
	}
	status, late := rawStateless(t, ep, "ann", 2, "tools/call", fmt.Sprintf(`"name":"hold","arguments":{},"inputResponses":{%q:{"action":"decline"}},"requestState":%s`, key, q))
	if status != 400 || late.Error == nil || !strings.Contains(late.Error.Message, "requestState expired") {
		t.Errorf("late retry: %d %+v, want 400 saying the state expired", status, late.Error)
	}
}

// TestStatelessRetryGoverned: policy runs again on the retry: a tool the
// catalog denied while its call waited for input is refused on the
// retry, recorded as denied, and the waiting call is cancelled upstream.
func TestStatelessRetryGoverned(t *testing.T) {
	up := newAskUpstream(t)
	ts, h, store, gov := inputGateway(t, up, gateway.Options{})
	ep := ts.URL + "/servers/asker/mcp"
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", `"name":"hold","arguments":{}`)
	if status != 200 || a.Result.ResultType != "input_required" {
		t.Fatalf("first call: %d %+v", status, a)
	}
	gov.entries["asker"] = &catalog.Server{ID: "asker", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"hold"}}}
	h.Reload()
	q, _ := json.Marshal(a.Result.RequestState)
	var key string
	for k := range a.Result.InputRequests {
		key = k
	}
	status, r := rawStateless(t, ep, "ann", 2, "tools/call", fmt.Sprintf(`"name":"hold","arguments":{},"inputResponses":{%q:{"action":"accept","content":{"name":"x"}}},"requestState":%s`, key, q))
	if status != 400 || r.Error == nil || !strings.Contains(r.Error.Message, "Unknown tool") {
		t.Fatalf("retry of a tool denied meanwhile: %d %+v, want it refused", status, r.Error)
	}
	select {
	case <-up.holdCanceled:
	case <-await.Context(t).Done():
		t.Fatal("the refused call was not cancelled upstream")
	}
	var recs []*audit.Record
	await.Until(t, "the denial and the cancelled call recorded", func() bool {
		recs = toolRecords(store)
		return len(recs) >= 2
	})
	outcomes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
	}
	if len(recs) != 2 || outcomes[audit.OutcomeDenied] != 1 || outcomes[audit.OutcomeCancelled] != 1 {
		t.Errorf("records: %v, want one denial (the retry) and one cancelled call", outcomes)
	}
}
