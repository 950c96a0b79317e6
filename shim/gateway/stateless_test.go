package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// statelessGateway serves twoServers with every core recording into
// store; the caller is named by the X-Test-User header.
func statelessGateway(t *testing.T) (string, *recordStore, *fakeGov) {
	t.Helper()
	store := &recordStore{}
	base := twoServers(t)
	gov := recordingGov{fakeGov: base, sink: store}
	ts, _ := serveGateway(t, gateway.Options{Governance: gov, Identify: headerUser})
	return ts.URL, store, base
}

// sessionHeaders records whether any answer carried Mcp-Session-Id.
type sessionHeaders struct {
	user string
	mu   sync.Mutex
	seen []string
}

func (s *sessionHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-User", s.user)
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.Header.Get("Mcp-Session-Id") != "" {
		s.mu.Lock()
		s.seen = append(s.seen, resp.Header.Get("Mcp-Session-Id"))
		s.mu.Unlock()
	}
	return resp, err
}

// TestStatelessRevision connects go-sdk v1.8 clients, which negotiate the
// stateless revision 2026-07-28 when a server offers it, to the three
// kinds of endpoint: they negotiate it (server/discover, no initialize),
// no answer carries a session, tools are listed and called with the
// catalog's rules, each call is recorded once with the caller's
// identity, and two callers get upstream sessions of their own.
func TestStatelessRevision(t *testing.T) {
	url, store, _ := statelessGateway(t)
	connectStateless := func(t *testing.T, endpoint, user string) (*mcp.ClientSession, *sessionHeaders) {
		t.Helper()
		rt := &sessionHeaders{user: user}
		c := mcp.NewClient(&mcp.Implementation{Name: "stateless-client", Version: "1"}, nil)
		cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: url + endpoint, HTTPClient: &http.Client{Transport: rt}}, nil)
		if err != nil {
			t.Fatalf("connect %s: %v", endpoint, err)
		}
		t.Cleanup(func() { cs.Close() })
		if got := cs.InitializeResult().ProtocolVersion; got != "2026-07-28" {
			t.Fatalf("%s: negotiated %q, want 2026-07-28", endpoint, got)
		}
		return cs, rt
	}

	t.Run("proxy", func(t *testing.T) {
		cs, rt := connectStateless(t, "/servers/alpha/mcp", "ann")
		if got, want := toolNames(t, cs), []string{"echo"}; !slices.Equal(got, want) {
			t.Fatalf("tools = %v, want %v (secret is denied)", got, want)
		}
		if got, err := callText(t, cs, "echo"); err != nil || got != "alpha:echo" {
			t.Fatalf("call echo = %q, %v", got, err)
		}
		if _, err := callText(t, cs, "secret"); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
			t.Fatalf("call of a denied tool: %v, want Unknown tool", err)
		}
		if len(rt.seen) > 0 {
			t.Fatalf("answers carried Mcp-Session-Id %v; the stateless revision has no sessions", rt.seen)
		}
	})
	t.Run("aggregate", func(t *testing.T) {
		cs, _ := connectStateless(t, "/mcp", "ann")
		if got, want := toolNames(t, cs), []string{"alpha__echo", "beta__echo", "beta__sum"}; !slices.Equal(got, want) {
			t.Fatalf("tools = %v, want %v", got, want)
		}
		if got, err := callText(t, cs, "beta__sum"); err != nil || got != "beta:sum" {
			t.Fatalf("call beta__sum = %q, %v", got, err)
		}
	})

	// Two callers with the same client, calling at once, each a few
	// times: the same request ids from both, and every answer is the
	// caller's own.
	var wg sync.WaitGroup
	for _, user := range []string{"bob", "carol"} {
		cs, _ := connectStateless(t, "/servers/beta/mcp", user)
		wg.Go(func() {
			for range 5 {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{}})
				if err != nil || res.IsError {
					t.Errorf("%s: call echo: %v %v", user, res, err)
					return
				}
			}
		})
	}
	wg.Wait()

	store.mu.Lock()
	defer store.mu.Unlock()
	calls := map[string]int{}
	sessions := map[string]map[string]bool{}
	for _, rec := range store.recs {
		if rec.Method != "tools/call" {
			continue
		}
		key := rec.Identity.Subject + " " + rec.Server.ID + " " + rec.Tool
		calls[key]++
		if sessions[rec.Identity.Subject] == nil {
			sessions[rec.Identity.Subject] = map[string]bool{}
		}
		sessions[rec.Identity.Subject][rec.Session] = true
		if rec.Identity.Issuer != "https://idp.test" || rec.Client.Name != "stateless-client" {
			t.Errorf("record %s: identity %+v client %+v, want the verified caller and the _meta clientInfo", rec.ID, rec.Identity, rec.Client)
		}
	}
	want := map[string]int{"ann alpha echo": 1, "ann alpha secret": 1, "ann beta sum": 1, "bob beta echo": 5, "carol beta echo": 5}
	for k, n := range want {
		if calls[k] != n {
			t.Errorf("records of %q: %d, want %d (all: %v)", k, calls[k], n, calls)
		}
	}
	for _, user := range []string{"bob", "carol"} {
		for other := range sessions[user] {
			for _, u := range []string{"bob", "carol"} {
				if u != user && sessions[u][other] {
					t.Errorf("session %s served both %s and %s", other, user, u)
				}
			}
		}
	}
}

// TestStatelessWire checks the revision's wire rules with raw requests:
// results carry resultType, protocol errors get their HTTP statuses,
// headers that do not mirror the body are refused, and there is no GET.
func TestStatelessWire(t *testing.T) {
	url, _, _ := statelessGateway(t)
	ep := url + "/servers/alpha/mcp"
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}`
	req := func(id int, method, params string) string {
		if params == "" {
			params = "{" + meta + "}"
		} else {
			params = "{" + params + "," + meta + "}"
		}
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": json.RawMessage(params)})
		return string(b)
	}
	type answer struct {
		Result map[string]json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		ID json.RawMessage `json:"id"`
	}
	do := func(body string, header ...string) (int, answer, http.Header) {
		t.Helper()
		status, text, h := post(t, ep, "", body, append([]string{"Accept", "application/json", "X-Test-User", "dan"}, header...)...)
		var a answer
		if err := json.Unmarshal([]byte(text), &a); err != nil {
			t.Fatalf("answer %q: %v", text, err)
		}
		return status, a, h
	}
	v := []string{"Mcp-Protocol-Version", "2026-07-28"}

	status, a, h := do(req(7, "server/discover", ""), append(v, "Mcp-Method", "server/discover")...)
	if status != 200 || a.Error != nil || string(a.Result["resultType"]) != `"complete"` || !strings.Contains(string(a.Result["supportedVersions"]), `"2026-07-28"`) {
		t.Fatalf("server/discover: %d %+v", status, a)
	}
	if strings.Contains(string(a.Result["capabilities"]), "subscribe") || !strings.Contains(string(a.Result["capabilities"]), `"listChanged":true`) {
		t.Errorf("discover: capabilities %s, want listChanged (subscriptions/listen relays it) and no resource subscriptions", a.Result["capabilities"])
	}
	if h.Get("Mcp-Session-Id") != "" {
		t.Errorf("discover answered with Mcp-Session-Id")
	}
	status, a, _ = do(req(8, "tools/call", `"name":"echo","arguments":{}`), append(v, "Mcp-Method", "tools/call", "Mcp-Name", "echo")...)
	if status != 200 || string(a.ID) != "8" || string(a.Result["resultType"]) != `"complete"` || !strings.Contains(string(a.Result["content"]), "alpha:echo") {
		t.Fatalf("tools/call: %d %+v", status, a)
	}
	for _, c := range []struct {
		name   string
		body   string
		header []string
		status int
		code   int
		says   string
	}{
		{"no completion handler", req(9, "completion/complete", `"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"b"}`), append(v, "Mcp-Method", "completion/complete"), 404, -32601, ""},
		{"invalid params upstream", req(17, "completion/complete", ""), append(v, "Mcp-Method", "completion/complete"), 400, -32602, "ref"},
		{"denied tool", req(10, "tools/call", `"name":"secret"`), append(v, "Mcp-Method", "tools/call", "Mcp-Name", "secret"), 400, -32602, "Unknown tool"},
		{"Mcp-Name mismatch", req(11, "tools/call", `"name":"secret"`), append(v, "Mcp-Method", "tools/call", "Mcp-Name", "echo"), 400, -32020, `Mcp-Name header "echo" does not match the body's name "secret"`},
		{"Mcp-Method missing", req(12, "tools/list", ""), v, 400, -32020, "missing required Mcp-Method header"},
		{"header missing", req(13, "tools/list", ""), []string{"Mcp-Method", "tools/list"}, 400, -32020, "Mcp-Protocol-Version header is required"},
		{"header and _meta differ", strings.Replace(req(14, "tools/list", ""), "2026-07-28", "2026-07-29", 1), append(v, "Mcp-Method", "tools/list"), 400, -32020, `does not match the request's _meta`},
		{"unsupported version", strings.Replace(req(15, "tools/list", ""), "2026-07-28", "2027-01-01", 1), []string{"Mcp-Protocol-Version", "2027-01-01", "Mcp-Method", "tools/list"}, 400, -32022, `"2027-01-01" is not supported`},
		{"initialize", req(16, "initialize", ""), append(v, "Mcp-Method", "initialize"), 404, -32601, "not served under protocol 2026-07-28"},
	} {
		status, a, _ := do(c.body, c.header...)
		if status != c.status || a.Error == nil || a.Error.Code != c.code || !strings.Contains(a.Error.Message, c.says) {
			t.Errorf("%s: %d %+v, want %d, code %d saying %q", c.name, status, a.Error, c.status, c.code, c.says)
		}
	}

	// A mirrored header given twice is refused: an intermediary reading
	// the last value would see tools/list of "secret", not the call checked.
	for _, h := range [][2]string{{"Mcp-Method", "tools/list"}, {"Mcp-Name", "secret"}} {
		twice, _ := http.NewRequest(http.MethodPost, ep, strings.NewReader(req(18, "tools/call", `"name":"echo","arguments":{}`)))
		twice.Header.Set("Content-Type", "application/json")
		twice.Header.Set("Accept", "application/json")
		twice.Header.Set("X-Test-User", "dan")
		twice.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		twice.Header.Set("Mcp-Method", "tools/call")
		twice.Header.Set("Mcp-Name", "echo")
		twice.Header.Add(h[0], h[1])
		resp, err := http.DefaultClient.Do(twice)
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || a.Error == nil || a.Error.Code != -32020 || !strings.Contains(a.Error.Message, h[0]+" header is given 2 times") {
			t.Errorf("%s twice: %d %+v %v, want 400 -32020 naming the header", h[0], resp.StatusCode, a.Error, err)
		}
	}

	get, _ := http.NewRequest(http.MethodGet, ep, nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET under 2026-07-28: %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestStatelessPoolRecovers: the stdio server behind a stateless
// caller's pooled session exits; the call waiting for it gets an error
// saying so, and the caller's next request is served by a new process.
func TestStatelessPoolRecovers(t *testing.T) {
	t.Setenv(stdioServerEnv, "1") // inherited by the servers the gateway starts
	gov := &fakeGov{
		servers: []gateway.Server{{ID: "local", Command: []string{os.Args[0]}}},
		entries: map[string]*catalog.Server{"local": {ID: "local", Status: catalog.StatusApproved}},
	}
	ts, h := newGateway(t, gov, gateway.Options{})
	c := mcp.NewClient(&mcp.Implementation{Name: "stateless-stdio", Version: "1"}, nil)
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/local/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	first, err := callText(t, cs, "pid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := callText(t, cs, "exit"); err == nil || !strings.Contains(err.Error(), "upstream MCP server local exited: the server process ended (exit status 3)") {
		t.Fatalf("call exit: %v", err)
	}
	await.Until(t, "the pooled session of the exited server ended", func() bool { return h.Sessions() == 0 })
	second, err := callText(t, cs, "pid")
	if err != nil || second == first || second == "" {
		t.Fatalf("after the exit: pid %q (before %q), %v; want a new process", second, first, err)
	}
}

// TestStatelessCancel: a stateless client that gives up on a call closes
// its POST; the gateway cancels the call upstream (the revision has no
// session to send notifications/cancelled in).
func TestStatelessCancel(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	up := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	up.AddTool(&mcp.Tool{Name: "wait", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		})
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return up }, nil))
	t.Cleanup(upTS.Close)
	gov := &fakeGov{servers: []gateway.Server{{ID: "slow", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"slow": {ID: "slow", Status: catalog.StatusApproved}}}
	ts, _ := newGateway(t, gov, gateway.Options{})
	cs := connect(t, ts.URL+"/servers/slow/mcp")
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	ctx, cancel := context.WithCancel(await.Context(t))
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "wait", Arguments: map[string]any{}})
		errc <- err
	}()
	select {
	case <-started:
	case <-await.Context(t).Done():
		t.Fatal("the call never reached the upstream")
	}
	cancel()
	select {
	case <-cancelled:
	case <-await.Context(t).Done():
		t.Fatal("the upstream call was not cancelled when the client gave up")
	}
	if err := <-errc; err == nil {
		t.Fatal("the cancelled call returned no error")
	}
}

// TestStatelessListen: a go-sdk client that wants tools/list_changed
// opens subscriptions/listen as it connects under the stateless
// revision; after a call, a bundle reload tells it to list its tools
// again on that stream.
func TestStatelessListen(t *testing.T) {
	gov := twoServers(t)
	ts, h := newGateway(t, gov, gateway.Options{})
	changed := make(chan struct{}, 8)
	c := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/servers/alpha/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	if got, err := callText(t, cs, "echo"); err != nil || got != "alpha:echo" {
		t.Fatalf("call echo: %q %v", got, err)
	}
	h.Reload()
	select {
	case <-changed:
	case <-await.Context(t).Done():
		t.Fatal("no notifications/tools/list_changed on the subscriptions/listen stream after the reload")
	}
	if got := toolNames(t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("tools after the reload: %v", got)
	}
}
