//lint:file-ignore SA1019 logging is deprecated as of protocol 2026-07-28 (SEP-2577) but a 2025-11-25 client still sets a level; the gateway must carry it to a stateless server in _meta.
package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// seenPost is what a stateless upstream saw of one POST.
type seenPost struct {
	method, session, header, meta string // Mcp-Method, Mcp-Session-Id, MCP-Protocol-Version, _meta protocolVersion
	level                         string // _meta logLevel
	retry                         bool   // it carried inputResponses
}

// sessionlessUpstream is a go-sdk v1.8 server, stateless (it speaks
// 2026-07-28), whose "ask" tool asks for its client's input the revision's way: it
// answers input_required with an elicitation and a requestState, and
// answers the retry with what the client gave. It keeps what it saw.
type sessionlessUpstream struct {
	url  string
	mu   sync.Mutex
	seen []seenPost
	// "wait" tells started, then waits for its call's end and tells
	// ended.
	started, ended chan struct{}
}

func newSessionlessUpstream(t *testing.T, opts *mcp.ServerOptions) *sessionlessUpstream {
	t.Helper()
	u := &sessionlessUpstream{started: make(chan struct{}, 4), ended: make(chan struct{}, 4)}
	s := mcp.NewServer(&mcp.Implementation{Name: "sessionless", Version: "2"}, opts)
	s.AddTool(&mcp.Tool{Name: "wait", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			u.started <- struct{}{}
			<-ctx.Done()
			u.ended <- struct{}{}
			return nil, ctx.Err()
		})
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object","properties":{"who":{"type":"string"}},"required":["who"]}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct {
				Who string `json:"who"`
			}
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return nil, err
			}
			if req.Params.InputResponses == nil {
				return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"name": &mcp.ElicitParams{Message: "name for " + args.Who,
					RequestedSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)}},
					RequestState: "asked:" + args.Who}, nil
			}
			if req.Params.RequestState != "asked:"+args.Who {
				return nil, fmt.Errorf("requestState %q is not the one given for %s", req.Params.RequestState, args.Who)
			}
			er, ok := req.Params.InputResponses["name"].(*mcp.ElicitResult)
			if !ok {
				return nil, fmt.Errorf("no answer to the elicitation: %v", req.Params.InputResponses)
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%s got %v", args.Who, er.Content["name"])}}}, nil
		})
	// Only a stateless go-sdk handler serves 2026-07-28 (a stateful
	// one's server/discover lists the earlier revisions).
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Params struct {
					Meta           map[string]any  `json:"_meta"`
					InputResponses json.RawMessage `json:"inputResponses"`
				} `json:"params"`
			}
			_ = json.Unmarshal(body, &m)
			v, _ := m.Params.Meta["io.modelcontextprotocol/protocolVersion"].(string)
			level, _ := m.Params.Meta["io.modelcontextprotocol/logLevel"].(string)
			u.mu.Lock()
			u.seen = append(u.seen, seenPost{method: r.Header.Get("Mcp-Method"), session: r.Header.Get("Mcp-Session-Id"),
				header: r.Header.Get("Mcp-Protocol-Version"), meta: v, level: level, retry: m.Params.InputResponses != nil})
			u.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	u.url = ts.URL
	return u
}

// posts returns what the upstream saw, checking that every request was
// one of the stateless revision: no session, no initialize, the version
// in the header and in _meta.
func (u *sessionlessUpstream) posts(t *testing.T) []seenPost {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.seen {
		if p.session != "" || p.method == "initialize" || p.method == "" || p.header != "2026-07-28" || p.meta != "2026-07-28" {
			t.Errorf("the upstream got %+v, want a stateless request of 2026-07-28", p)
		}
	}
	return append([]seenPost(nil), u.seen...)
}

// sessionlessGateway serves the upstream as "sless", which the catalog
// says speaks 2026-07-28; every core records into the returned store and
// the caller is named by X-Test-User.
func sessionlessGateway(t *testing.T, url string, more ...gateway.Server) (string, *gateway.Handler, *recordStore, *fakeGov) {
	t.Helper()
	store := &recordStore{}
	base := &fakeGov{servers: append([]gateway.Server{{ID: "sless", URL: url, Protocol: "2026-07-28"}}, more...),
		entries: map[string]*catalog.Server{"sless": {ID: "sless", Status: catalog.StatusApproved}}}
	for _, srv := range more {
		base.entries[srv.ID] = &catalog.Server{ID: srv.ID, Status: catalog.StatusApproved}
	}
	ts, h := serveGateway(t, gateway.Options{Governance: recordingGov{fakeGov: base, sink: store}, Identify: headerUser})
	return ts.URL + "/servers/sless/mcp", h, store, base
}

// namingClient is a go-sdk client that answers "name for X" with
// name-of-X.
func namingClient() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "namer", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			who, ok := strings.CutPrefix(req.Params.Message, "name for ")
			if !ok {
				return nil, fmt.Errorf("unexpected elicitation %q", req.Params.Message)
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "name-of-" + who}}, nil
		},
	})
}

// TestStatelessUpstreamInputPasses: a stateless client (go-sdk v1.8,
// 2026-07-28) calls a tool of an upstream the catalog says speaks the
// revision: the gateway calls it statelessly (server/discover, then each
// request on its own: no initialize, no session), the server's
// input_required answer reaches the client as it is, and the client's
// retry goes to the server as a call of its own. Two calls at once each
// get their own answer; every round is governed and recorded.
func TestStatelessUpstreamInputPasses(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	ep, _, store, _ := sessionlessGateway(t, up.url)
	cs := connectClient(t, namingClient(), ep, "ann", "")
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	callBoth(t, cs, "ask")()
	calls, retries := 0, 0
	for _, p := range up.posts(t) {
		switch {
		case p.method == "tools/call" && p.retry:
			retries++
		case p.method == "tools/call":
			calls++
		}
	}
	if calls != 2 || retries != 2 {
		t.Errorf("the upstream got %d calls and %d retries, want 2 and 2", calls, retries)
	}
	recs := toolRecords(store)
	if len(recs) != 4 {
		t.Fatalf("%d tools/call records, want 4 (each call's two rounds)", len(recs))
	}
	for i, r := range recs {
		if r.Tool != "ask" || r.Outcome != audit.OutcomeAllowed || r.Identity.Subject != "ann" {
			t.Errorf("record %d: %s %s %s, want ask allowed for ann", i, r.Tool, r.Outcome, r.Identity.Subject)
		}
	}
}

// TestStatelessUpstreamRetryGoverned: the retry of a call whose
// stateless server asked for input is governed as any call: the tool
// denied meanwhile, the retry is refused and recorded, and never reaches
// the server.
func TestStatelessUpstreamRetryGoverned(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	ep, h, store, gov := sessionlessGateway(t, up.url)
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", `"name":"ask","arguments":{"who":"carol"}`)
	if status != 200 || a.Result.ResultType != "input_required" || a.Result.RequestState != "asked:carol" || a.Result.InputRequests["name"] == nil {
		t.Fatalf("first call: %d %+v, want the server's input_required as it gave it", status, a)
	}
	gov.entries["sless"] = &catalog.Server{ID: "sless", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"ask"}}}
	h.Reload()
	status, r := rawStateless(t, ep, "ann", 2, "tools/call", `"name":"ask","arguments":{"who":"carol"},"inputResponses":{"name":{"action":"accept","content":{"name":"x"}}},"requestState":"asked:carol"`)
	if status != 400 || r.Error == nil || !strings.Contains(r.Error.Message, "Unknown tool") {
		t.Fatalf("retry of a tool denied meanwhile: %d %+v, want it refused", status, r.Error)
	}
	for _, p := range up.posts(t) {
		if p.retry {
			t.Errorf("the refused retry reached the upstream")
		}
	}
	outcomes := map[string]int{}
	for _, r := range toolRecords(store) {
		outcomes[r.Outcome]++
	}
	if outcomes[audit.OutcomeAllowed] != 1 || outcomes[audit.OutcomeDenied] != 1 {
		t.Errorf("records: %v, want the first round allowed and the retry denied", outcomes)
	}
}

// TestStatelessUpstreamSessionClient: a client of 2025-11-25 (a session)
// through the gateway to a stateless upstream: the server's
// input_required is asked of the client as the session's elicitation, on
// the call's own stream, and the call retried upstream with its answer;
// two calls at once each get their own. A client that did not declare
// elicitation gets an error saying how the server's request was
// answered.
func TestStatelessUpstreamSessionClient(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	ep, _, _, _ := sessionlessGateway(t, up.url)
	cs := connectClient(t, namingClient(), ep, "ann", "2025-11-25")
	if cs.InitializeResult().ServerInfo == nil || cs.InitializeResult().ServerInfo.Name != "sessionless" {
		t.Errorf("serverInfo %+v, want the server's from its server/discover", cs.InitializeResult().ServerInfo)
	}
	// A session's ping and logging level: answered by the gateway (the
	// revision has neither), the level carried in each later request.
	if err := cs.Ping(await.Context(t), nil); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := cs.SetLoggingLevel(await.Context(t), &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Errorf("logging/setLevel: %v", err)
	}
	callBoth(t, cs, "ask")()
	retries := 0
	for _, p := range up.posts(t) {
		if p.method == "ping" || p.method == "logging/setLevel" {
			t.Errorf("the upstream got %s", p.method)
		}
		if p.method == "tools/call" && p.level != "debug" {
			t.Errorf("a call went upstream with logLevel %q, want the session's debug", p.level)
		}
		if p.retry {
			retries++
		}
	}
	if retries != 2 {
		t.Errorf("the upstream got %d retries, want 2", retries)
	}

	ms := connectClient(t, mcp.NewClient(&mcp.Implementation{Name: "mute", Version: "1"}, nil), ep, "ann", "2025-11-25")
	_, err := ms.CallTool(await.Context(t), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"who": "dan"}})
	if err == nil || !strings.Contains(err.Error(), "the client answered the server's elicitation/create with an error") {
		t.Errorf("a client without elicitation: %v, want the gateway's error saying how the server's request was answered", err)
	}
}

// TestStatelessUpstreamNotConfirmed: a server the catalog says speaks
// 2026-07-28 whose server/discover does not list it: opening a session
// fails with an error that says so and what to do.
func TestStatelessUpstreamNotConfirmed(t *testing.T) {
	up := newSessionlessUpstream(t, &mcp.ServerOptions{SupportedProtocolVersions: []string{"2025-11-25"}})
	ep, _, _, _ := sessionlessGateway(t, up.url)
	_, body, _ := post(t, ep, "", initBody, "X-Test-User", "ann")
	if !strings.Contains(body, "launch.protocol") || !strings.Contains(body, "unsupported protocol version") {
		t.Fatalf("initialize: %s, want a refusal naming launch.protocol and the server's answer", body)
	}
}

// TestStatelessUpstreamCancel: a call cancelled by its client, a
// stateless one (closing its POST) and a session's (notifications/
// cancelled), is cancelled upstream the revision's way: the gateway
// closes the call's POST, and the server's handler ends; the call is
// recorded as cancelled.
func TestStatelessUpstreamCancel(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	ep, _, store, _ := sessionlessGateway(t, up.url)
	for _, version := range []string{"2026-07-28", "2025-11-25"} {
		cs, err := namingClient().Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ep,
			HTTPClient: &http.Client{Transport: userTransport{"ann"}}}, &mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(await.Context(t))
		done := make(chan error, 1)
		go func() {
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "wait", Arguments: map[string]any{}})
			done <- err
		}()
		await.Recv(t, up.started, version+": the call reaching the upstream")
		cancel()
		await.Recv(t, up.ended, version+": the cancelled call's end upstream")
		if err := <-done; err == nil {
			t.Errorf("%s: a cancelled call answered", version)
		}
		cs.Close()
	}
	await.Until(t, "both calls recorded as cancelled", func() bool {
		n := 0
		for _, r := range toolRecords(store) {
			if r.Tool == "wait" && r.Outcome == audit.OutcomeCancelled {
				n++
			}
		}
		return n == 2
	})
}

// TestStatelessUpstreamAggregated: through /mcp, where tools are
// namespaced, a stateless server's input_required answer and the
// client's retry of the namespaced tool reach it as for its own
// endpoint, for a stateless client and a session's; beside it, a
// 2025-11-25 server's call waits in the gateway as before, and a retry
// of its tool with a requestState the gateway did not seal is refused,
// not passed to it.
func TestStatelessUpstreamAggregated(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	legacy := newAskUpstream(t)
	ep, _, _, _ := sessionlessGateway(t, up.url, gateway.Server{ID: "asker", URL: legacy.url})
	agg := strings.TrimSuffix(ep, "/servers/sless/mcp") + "/mcp"
	for _, version := range []string{"2026-07-28", "2025-11-25"} {
		cs, err := namingClient().Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: agg,
			HTTPClient: &http.Client{Transport: userTransport{"ann"}}}, &mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "sless__ask", Arguments: map[string]any{"who": "erin"}})
		if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "erin got name-of-erin" {
			t.Errorf("%s: sless__ask through /mcp: %+v %v", version, res, err)
		}
		cs.Close()
	}
}

// TestStatelessUpstreamForeignStateMixed is the refusal half of
// TestStatelessUpstreamAggregated, raw.
func TestStatelessUpstreamForeignStateMixed(t *testing.T) {
	up := newSessionlessUpstream(t, nil)
	legacy := newAskUpstream(t)
	ep, _, _, _ := sessionlessGateway(t, up.url, gateway.Server{ID: "asker", URL: legacy.url})
	agg := strings.TrimSuffix(ep, "/servers/sless/mcp") + "/mcp"
	status, a := rawStateless(t, agg, "ann", 1, "tools/call", `"name":"asker__ask","arguments":{}`)
	if status != 200 || a.Result.ResultType != "input_required" || !strings.HasPrefix(a.Result.RequestState, "mcpgov1.") {
		t.Fatalf("legacy tool through /mcp: %d %+v, want the gateway's own input_required", status, a)
	}
	status, r := rawStateless(t, agg, "ann", 2, "tools/call", `"name":"asker__ask","arguments":{},"inputResponses":{"x":{"action":"decline"}},"requestState":"asked:erin"`)
	if status != 400 || r.Error == nil || !strings.Contains(r.Error.Message, "requestState was not issued by this gateway") {
		t.Errorf("a foreign requestState for the 2025-11-25 server's tool: %d %+v, want it refused", status, r.Error)
	}
	// The waiting call still takes its own retry.
	var key string
	for k := range a.Result.InputRequests {
		key = k
	}
	q, _ := json.Marshal(a.Result.RequestState)
	status, done := rawStateless(t, agg, "ann", 5, "tools/call", fmt.Sprintf(`"name":"asker__ask","arguments":{},"inputResponses":{%q:{"action":"accept","content":{"name":"Ed"}}},"requestState":%s`, key, q))
	if status != 200 || len(done.Result.Content) == 0 || done.Result.Content[0].Text != "hello Ed (accept)" {
		t.Errorf("the legacy call's own retry: %d %+v", status, done)
	}
	status, a = rawStateless(t, agg, "ann", 3, "tools/call", `"name":"sless__ask","arguments":{"who":"erin"}`)
	if status != 200 || a.Result.ResultType != "input_required" || a.Result.RequestState != "asked:erin" {
		t.Fatalf("stateless tool through /mcp: %d %+v, want the server's own input_required", status, a)
	}
	status, a = rawStateless(t, agg, "ann", 4, "tools/call", `"name":"sless__ask","arguments":{"who":"erin"},"inputResponses":{"name":{"action":"accept","content":{"name":"E"}}},"requestState":"asked:erin"`)
	if status != 200 || len(a.Result.Content) == 0 || a.Result.Content[0].Text != "erin got E" {
		t.Errorf("its retry: %d %+v, want the server's answer", status, a)
	}
}
