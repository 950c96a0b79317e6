package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// askServer is the server the test replicas serve as "asker".
type askServer struct {
	url  string
	quit func() // ends the elicitations still waiting
}

// streamUpstream is a go-sdk server over Streamable HTTP (2025-11-25
// toward the gateway) whose "ask" elicits a name and greets it, and whose
// "askstream" elicits a name, reports progress, and answers only once
// release is closed. An elicitation still waiting when quit is called
// fails: a call left waiting for its client's input at the end of a test
// would hold the server's session open (its DELETE waits for the call).
func streamUpstream(t testing.TB, release <-chan struct{}) askServer {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	schema := json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)
	quitting := make(chan struct{})
	var once sync.Once
	elicit := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.ElicitResult, error) {
		ctx, cancel := cancelOn(ctx, quitting)
		defer cancel()
		return req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "Your name?", RequestedSchema: schema})
	}
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object","properties":{"greeting":{"type":"string"}}}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := elicit(ctx, req)
			if err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("hello %v (%s)", res.Content["name"], res.Action)}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "askstream", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := elicit(ctx, req)
			if err != nil {
				return nil, err
			}
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1, Total: 2, Message: "name received"}); err != nil {
				return nil, err
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("hello %v, streamed", res.Content["name"])}}}, nil
		})
	return askServer{url: serveMCP(t, s, nil), quit: func() { once.Do(func() { close(quitting) }) }}
}

// testReplica is one gateway replica of a test: its server, its handler,
// its records and the URL it advertises.
type testReplica struct {
	ts    *httptest.Server
	h     *gateway.Handler
	store *recordStore
	url   string
}

// replicaKey is the session key the test replicas share.
var replicaKey = bytes.Repeat([]byte{7}, 32)

// startTestReplica serves the asking upstream as "asker" under opts with
// the replicas' key; with advertise, it advertises its own URL, or the
// one given.
func startTestReplica(t testing.TB, up askServer, advertise string, opts gateway.Options) *testReplica {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	self := "http://" + ts.Listener.Addr().String()
	tlsOn := advertise == "self-tls"
	if tlsOn {
		self = "https://" + ts.Listener.Addr().String()
		// As the CLI sets a replica's listener up: a client certificate
		// is asked for, verified against the replicas' CA.
		ts.TLS = &tls.Config{}
		gateway.ReplicaClientAuth(ts.TLS, testReplicaCA().pool)
	}
	if advertise == "self" || tlsOn {
		advertise = self
	}
	rp := &testReplica{ts: ts, store: &recordStore{}, url: self}
	opts.Governance = recordingGov{fakeGov: approved("asker", up.url), sink: rp.store}
	if opts.Identify == nil {
		opts.Identify = headerUser
	}
	opts.SessionKey = replicaKey
	opts.AdvertiseURL = advertise
	h, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rp.h = h
	ts.Config.Handler = h
	if tlsOn {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		rp.die()
		ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
		defer cancel()
		_ = rp.h.Close(ctx)
	})
	t.Cleanup(up.quit) // before any replica closes: see streamUpstream
	return rp
}

// die stops the replica answering, as the loss of its process would.
func (rp *testReplica) die() {
	rp.ts.CloseClientConnections()
	rp.ts.Close()
}

// askCall starts the "ask" tool on ep as ann and returns its input key
// and requestState.
func askCall(t *testing.T, ep string, id int) (string, string) {
	t.Helper()
	status, a := rawStateless(t, ep, "ann", id, "tools/call", `"name":"ask","arguments":{"greeting":"hi"}`)
	if status != 200 || a.Error != nil || a.Result.ResultType != "input_required" || len(a.Result.InputRequests) != 1 {
		t.Fatalf("ask on %s: %d %+v %+v, want input_required", ep, status, a.Error, a.Result)
	}
	for k := range a.Result.InputRequests {
		return k, a.Result.RequestState
	}
	return "", ""
}

// retryParams are the params of ask's retry answering key with name.
func retryParams(key, state, name string) string {
	q, _ := json.Marshal(state)
	return fmt.Sprintf(`"name":"ask","arguments":{"greeting":"hi"},"inputResponses":{%q:{"action":"accept","content":{"name":%q}}},"requestState":%s`, key, name, q)
}

func refusedRetries(store *recordStore) []string {
	store.mu.Lock()
	defer store.mu.Unlock()
	var out []string
	for _, r := range store.recs {
		if r.Kind == audit.KindMessageRefused && strings.HasPrefix(r.Reason, "retry refused: ") {
			out = append(out, r.Reason)
		}
	}
	return out
}

// TestRetryForwardedToHoldingReplica: two replicas sharing their key,
// each advertising its URL. A call started on A and retried on B is
// answered by B from A, as JSON and as an event stream, with what the
// client sent; A governs and records it once, B records nothing. The
// requestState does not show A's address. A go-sdk client whose retries
// all go to B gets its elicitation answered the same way.
func TestRetryForwardedToHoldingReplica(t *testing.T) {
	release := make(chan struct{})
	up := streamUpstream(t, release)
	metrics := gateway.NewMetrics()
	a := startTestReplica(t, up, "self", gateway.Options{})
	b := startTestReplica(t, up, "self", gateway.Options{Metrics: metrics})
	epA, epB := a.ts.URL+"/servers/asker/mcp", b.ts.URL+"/servers/asker/mcp"

	key, state := askCall(t, epA, 1)
	sealed, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(state, "mcpgov1."))
	if err != nil || bytes.Contains(sealed, []byte(a.url)) || bytes.Contains(sealed, []byte(strings.TrimPrefix(a.url, "http://"))) {
		t.Errorf("requestState %q (%v) shows the replica's address", state, err)
	}
	status, ans := rawStateless(t, epB, "ann", 2, "tools/call", retryParams(key, state, "Bo"))
	if status != 200 || ans.Error != nil || ans.Result.ResultType != "complete" || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("retry on B as JSON: %d %+v %+v, want A's answer", status, ans.Error, ans.Result)
	}

	// As an event stream: B passes A's stream on as it comes; its
	// progress reaches the client while the call still runs on A.
	const meta = `"_meta":{"progressToken":"p-1","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
	streamHeaders := []string{"X-Test-User", "ann", "Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "askstream", "Accept", "application/json"}
	status, text, _ := post(t, epA, "", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"askstream","arguments":{},`+meta+`}}`, streamHeaders...)
	var first rawAnswer
	if status != 200 || json.Unmarshal([]byte(text), &first) != nil || first.Result.ResultType != "input_required" || len(first.Result.InputRequests) != 1 {
		t.Fatalf("askstream on A: %d %s", status, text)
	}
	for k := range first.Result.InputRequests {
		key = k
	}
	q, _ := json.Marshal(first.Result.RequestState)
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"askstream","arguments":{},"inputResponses":{%q:{"action":"accept","content":{"name":"Cy"}}},"requestState":%s,%s}}`,
		key, q, meta)
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, epB, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream, application/json", "X-Test-User": "ann",
		"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "askstream"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("retry on B as a stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := bufio.NewReader(resp.Body)
	next := func() string {
		t.Helper()
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("the stream through B ended: %v", err)
			}
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
				return data
			}
		}
	}
	if ev := next(); !strings.Contains(ev, `"method":"notifications/progress"`) || !strings.Contains(ev, `"progressToken":"p-1"`) || !strings.Contains(ev, "name received") {
		t.Fatalf("first event through B: %s, want the progress (the call waits on A until it is read)", ev)
	}
	close(release)
	if ev := next(); !strings.Contains(ev, `"id":4`) || !strings.Contains(ev, "hello Cy, streamed") {
		t.Fatalf("second event through B: %s, want the answer", ev)
	}

	// A go-sdk client whose retries (requests carrying requestState) go
	// to B and every other request to A.
	c := gatewaytest.AcceptingClient("mrtr-client", map[string]any{"name": "Di"})
	split := &gatewaytest.RetrySplit{User: "ann", Retries: b.ts.URL, Others: a.ts.URL}
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: epA, HTTPClient: &http.Client{Transport: split}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"greeting": "hi"}})
	if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "hello Di (accept)" {
		t.Fatalf("go-sdk client: %+v %v", res, err)
	}
	if n := split.Retried(); n != 1 {
		t.Errorf("the go-sdk client sent %d retries to B, want 1", n)
	}

	if n := len(toolRecords(a.store)); n != 3 {
		t.Errorf("A recorded %d calls, want 3 (each once, where it ran)", n)
	}
	if n := len(toolRecords(b.store)); n != 0 {
		t.Errorf("B recorded %d calls, want none", n)
	}
	if got := metricLine(t, metrics, `mcpgov_gateway_retry_forwards_total{outcome="forwarded"}`); got != "3" {
		t.Errorf("B's forwards counted: %q, want 3", got)
	}
}

// metricLine is the value of one metric line of m, "" when absent.
func metricLine(t *testing.T, m *gateway.Metrics, name string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// relay is a recording reverse proxy to one replica: what a test puts
// between replicas to see and replay their forwards.
type relay struct {
	ts   *httptest.Server
	mu   sync.Mutex
	hdr  http.Header
	body []byte
	path string
}

func startRelay(t *testing.T, to string) *relay {
	t.Helper()
	target, _ := url.Parse(to)
	rl := &relay{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	rl.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rl.mu.Lock()
		rl.hdr, rl.body, rl.path = r.Header.Clone(), b, r.URL.Path
		rl.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rl.ts.Close)
	return rl
}

// replay sends the relayed forward's headers to url with body.
func (rl *relay) replay(t *testing.T, url, body string, change func(http.Header)) (int, string) {
	t.Helper()
	rl.mu.Lock()
	hdr := rl.hdr.Clone()
	rl.mu.Unlock()
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k != "Content-Length" && k != "X-Forwarded-For" && k != "Accept-Encoding" {
			req.Header[k] = v
		}
	}
	if change != nil {
		change(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForwardRefused: a forward another replica did not sign, or whose
// body, path or credentials are not the ones signed, is refused (403)
// and counted as a failed authentication of its sender, the refusal of a
// tools/call recorded with the reason; the call still waits, and the
// real forward completes it. A forwarded retry that reaches a replica
// other than the one its state names (an advertised URL that leads
// elsewhere) is not forwarded again.
func TestForwardRefused(t *testing.T) {
	up := streamUpstream(t, nil)
	var mu sync.Mutex
	var authRefusals []gateway.AuthRefusal
	refused := func(_ context.Context, r gateway.AuthRefusal) {
		mu.Lock()
		authRefusals = append(authRefusals, r)
		mu.Unlock()
	}
	a := startTestReplica(t, up, "self", gateway.Options{Auth: gateway.AuthOptions{Refused: refused}})
	b := startTestReplica(t, up, "self", gateway.Options{})
	epA, epB := a.ts.URL+"/servers/asker/mcp", b.ts.URL+"/servers/asker/mcp"

	// A forward signed with another key.
	key, state := askCall(t, epA, 1)
	retry := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{%s,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}}}`,
		retryParams(key, state, "Ed"))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"m":"POST","p":"/servers/asker/mcp","b":"00","a":"00","ip":"198.51.100.1","x":9999999999999}`))
	forged := "v1." + payload + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	headers := []string{"X-Test-User", "ann", "Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "ask", "Accept", "application/json"}
	status, text, _ := post(t, epA, "", retry, append(headers, "Mcpgov-Replica-Forward", forged)...)
	if status != 403 || !strings.Contains(text, "forwarded request refused: its signature is not the replicas'") {
		t.Fatalf("forged forward: %d %s", status, text)
	}

	// The real forward, seen through a relay in front of A that B is
	// pointed at (a third replica advertising the relay).
	rl := startRelay(t, a.ts.URL)
	aViaRelay := startTestReplica(t, up, rl.ts.URL, gateway.Options{Auth: gateway.AuthOptions{Refused: refused}})
	// aViaRelay advertises the relay, which leads to A: its states name
	// the relay; a retry forwarded there reaches A, which holds no such
	// call and is not the replica named: not forwarded again.
	epAR := aViaRelay.ts.URL + "/servers/asker/mcp"
	key2, state2 := askCall(t, epAR, 3)
	status, ans := rawStateless(t, epB, "ann", 4, "tools/call", retryParams(key2, state2, "Fay"))
	if status != 400 || ans.Error == nil || !strings.Contains(ans.Error.Message, "a forwarded retry is not forwarded again") {
		t.Fatalf("a forward that reached the wrong replica: %d %+v %+v", status, ans.Error, ans.Result)
	}
	if got := refusedRetries(a.store); len(got) != 1 || !strings.Contains(got[0], "not forwarded again") {
		t.Errorf("A's refused retries: %q, want the forward that was not its own", got)
	}
	rl.mu.Lock()
	relayed := string(rl.body)
	rl.mu.Unlock()
	if !strings.Contains(relayed, `"requestState"`) {
		t.Fatalf("the relay saw %q, want the client's retry", relayed)
	}

	// The captured forward replayed with another body, to another path,
	// with other credentials: each refused.
	for _, tc := range []struct {
		name, url, body string
		change          func(http.Header)
		want            string
	}{
		{"altered body", epA, strings.Replace(relayed, `"Fay"`, `"Gus"`, 1), nil, "its body is not the one signed"},
		{"another path", a.ts.URL + "/mcp", relayed, nil, "it was signed for POST /servers/asker/mcp, not POST /mcp"},
		{"other credentials", epA, relayed, func(h http.Header) { h.Set("Authorization", "Bearer someone-else") }, "its credentials are not the ones signed"},
		{"twice", epA, relayed, func(h http.Header) { h.Add("Mcpgov-Replica-Forward", "v1.x.y") }, "Mcpgov-Replica-Forward is given 2 times"},
	} {
		status, text := rl.replay(t, tc.url, tc.body, tc.change)
		if status != 403 || !strings.Contains(text, "forwarded request refused: "+tc.want) {
			t.Errorf("%s: %d %s, want 403 %q", tc.name, status, text, tc.want)
		}
	}
	mu.Lock()
	n := 0
	for _, r := range authRefusals {
		if r.Method == "tools/call" && r.Tool == "ask" && strings.HasPrefix(r.Reason, "forwarded request refused: ") && r.Addr == "127.0.0.1" {
			n++
		}
	}
	mu.Unlock()
	if n != 5 {
		t.Errorf("%d refused forwards recorded as refused calls, want 5: %+v", n, authRefusals)
	}

	// The forged forward consumed nothing: the real retry through B
	// completes the first call.
	status, ans = rawStateless(t, epB, "ann", 5, "tools/call", retryParams(key, state, "Ed"))
	if status != 200 || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Ed (accept)" {
		t.Fatalf("the real retry after the forged one: %d %+v %+v", status, ans.Error, ans.Result)
	}
}

// TestRetryLostWithReplica: the replica holding the call stopped before
// the retry; the replica that gets it answers that the call was lost with
// it, and records the refused retry (a replica that drains still takes
// the retry: drain_input_test.go). Without advertised URLs the retry gets
// the error of a call that is over, naming the setting.
func TestRetryLostWithReplica(t *testing.T) {
	up := streamUpstream(t, nil)
	a := startTestReplica(t, up, "self", gateway.Options{})
	b := startTestReplica(t, up, "self", gateway.Options{})
	key, state := askCall(t, a.ts.URL+"/servers/asker/mcp", 1)
	a.die()
	status, ans := rawStateless(t, b.ts.URL+"/servers/asker/mcp", "ann", 2, "tools/call", retryParams(key, state, "Bo"))
	if status != 400 || ans.Error == nil || ans.Error.Code != -32602 ||
		!strings.Contains(ans.Error.Message, "was lost with the replica of the gateway that held it (it stopped, or cannot be reached); send the request again without requestState") {
		t.Fatalf("retry after A stopped: %d %+v %+v", status, ans.Error, ans.Result)
	}
	if strings.Contains(ans.Error.Message, strings.TrimPrefix(a.url, "http://")) {
		t.Errorf("the error shows the replica's address: %s", ans.Error.Message)
	}
	if got := refusedRetries(b.store); len(got) != 1 || !strings.Contains(got[0], "was lost with the replica") {
		t.Errorf("B's refused retries: %q, want the lost call", got)
	}

	c := startTestReplica(t, up, "", gateway.Options{})
	d := startTestReplica(t, up, "", gateway.Options{})
	key, state = askCall(t, c.ts.URL+"/servers/asker/mcp", 3)
	status, ans = rawStateless(t, d.ts.URL+"/servers/asker/mcp", "ann", 4, "tools/call", retryParams(key, state, "Bo"))
	if status != 400 || ans.Error == nil || !strings.Contains(ans.Error.Message, "set [gateway] advertise_url, or --advertise-url, on every replica") {
		t.Fatalf("retry on another replica without advertised URLs: %d %+v", status, ans.Error)
	}
}

// TestForwardedRetryClientAddress: the replica holding the call counts
// and records a forwarded retry under the client's address as the
// forwarding replica saw it (here from its trusted balancer's
// X-Forwarded-For), and verifies the caller again: a caller refused there
// meanwhile is refused, under that address.
func TestForwardedRetryClientAddress(t *testing.T) {
	up := streamUpstream(t, nil)
	var revoked atomic.Bool
	var mu sync.Mutex
	var refusals []gateway.AuthRefusal
	a := startTestReplica(t, up, "self", gateway.Options{
		Identify: func(r *http.Request) (audit.Identity, error) {
			if revoked.Load() {
				return audit.Identity{}, fmt.Errorf("token revoked")
			}
			return audit.Identity{Method: "jwt", Issuer: "https://idp.test", Subject: r.Header.Get("X-Test-User")}, nil
		},
		Auth: gateway.AuthOptions{Refused: func(_ context.Context, r gateway.AuthRefusal) {
			mu.Lock()
			refusals = append(refusals, r)
			mu.Unlock()
		}},
	})
	b := startTestReplica(t, up, "self", gateway.Options{Auth: gateway.AuthOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	key, state := askCall(t, a.ts.URL+"/servers/asker/mcp", 1)
	revoked.Store(true)
	status, ans := rawStateless(t, b.ts.URL+"/servers/asker/mcp", "ann", 2, "tools/call", retryParams(key, state, "Bo"), "X-Forwarded-For", "203.0.113.9")
	if status != 401 || ans.Error == nil || !strings.Contains(ans.Error.Message, "token revoked") {
		t.Fatalf("retry of a caller refused on A: %d %+v", status, ans.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) != 1 || refusals[0].Addr != "203.0.113.9" || refusals[0].Tool != "ask" {
		t.Errorf("A's refusals: %+v, want one of ask from 203.0.113.9", refusals)
	}
}

// TestRetryForwardedOverTLS: replicas serving HTTPS forward to each
// other's https:// URL, checking the peer's certificate against
// ReplicaRoots (the CLI gives them the replica's own tls_cert); a
// replica that does not trust its peer's certificate forwards nothing,
// and says why in its log.
func TestRetryForwardedOverTLS(t *testing.T) {
	up := streamUpstream(t, nil)
	roots := x509.NewCertPool()
	var bLog, cLog logbuf.Buffer
	a := startTestReplica(t, up, "self-tls", gateway.Options{})
	b := startTestReplica(t, up, "self-tls", gateway.Options{ReplicaRoots: roots, ReplicaCert: testReplicaCA().replicaCert, Diag: &bLog})
	c := startTestReplica(t, up, "self-tls", gateway.Options{Diag: &cLog}) // the system's roots
	roots.AddCert(a.ts.Certificate())
	call := func(rp *testReplica, id int, params string) rawAnswer {
		t.Helper()
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s,%s}}`, id, params, meta)
		req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, rp.ts.URL+"/servers/asker/mcp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-Test-User": "ann",
			"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "ask"} {
			req.Header.Set(k, v)
		}
		resp, err := rp.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans rawAnswer
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
			t.Fatalf("answer of %s: %d %v", rp.url, resp.StatusCode, err)
		}
		return ans
	}
	started := func(id int) (string, string) {
		t.Helper()
		ans := call(a, id, `"name":"ask","arguments":{"greeting":"hi"}`)
		if ans.Result.ResultType != "input_required" || len(ans.Result.InputRequests) != 1 {
			t.Fatalf("ask on A: %+v %+v", ans.Error, ans.Result)
		}
		for k := range ans.Result.InputRequests {
			return k, ans.Result.RequestState
		}
		return "", ""
	}
	key, state := started(1)
	if ans := call(b, 2, retryParams(key, state, "Bo")); ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("retry on B over TLS: %+v %+v\n%s", ans.Error, ans.Result, bLog.String())
	}
	key, state = started(3)
	if ans := call(c, 4, retryParams(key, state, "Cy")); ans.Error == nil || !strings.Contains(ans.Error.Message, "was lost with the replica") {
		t.Fatalf("retry on C, which does not trust A's certificate: %+v %+v", ans.Error, ans.Result)
	}
	if !strings.Contains(cLog.String(), "certificate signed by unknown authority") {
		t.Errorf("C's log does not say why the forward failed:\n%s", cLog.String())
	}
}

// TestForwardKeepsConnectionCredentials: a client whose Connection header
// names its credential headers (hop-by-hop to a proxy) still has its
// retry forwarded with them, and answered. Forwards a replica signed
// that do not check out (here replayed with another body) are refused
// without counting against the sender's address, so they cannot shut off
// that replica's forwards; forwards no replica signed still count, and
// the 429 that follows does not show the address. The 401 the holding
// replica answers a forwarded retry points at the gateway's URL the
// client reached, not at the replica's own.
func TestForwardKeepsConnectionCredentials(t *testing.T) {
	up := streamUpstream(t, nil)
	var revoked atomic.Bool
	identify := func(r *http.Request) (audit.Identity, error) {
		if r.Header.Get("Authorization") != "Bearer tok-ann" || r.Header.Get("X-Mcpgov-Mcp-Headers") != "k=v" {
			return audit.Identity{}, fmt.Errorf("no credentials")
		}
		return audit.Identity{Method: "jwt", Issuer: "https://idp.test", Subject: "ann"}, nil
	}
	auth := gateway.AuthOptions{MaxFailures: 2, FailureWindow: time.Minute}
	a := startTestReplica(t, up, "self", gateway.Options{Auth: auth, Identify: func(r *http.Request) (audit.Identity, error) {
		if revoked.Load() {
			return audit.Identity{}, fmt.Errorf("token revoked")
		}
		return identify(r)
	}})
	b := startTestReplica(t, up, "self", gateway.Options{Identify: identify, Auth: auth})
	epA, epB := a.ts.URL+"/servers/asker/mcp", b.ts.URL+"/servers/asker/mcp"
	creds := []string{"Authorization", "Bearer tok-ann", "X-Mcpgov-Mcp-Headers", "k=v"}
	start := func(ep string, id int) (string, string) {
		t.Helper()
		status, ans := rawStateless(t, ep, "ann", id, "tools/call", `"name":"ask","arguments":{"greeting":"hi"}`, creds...)
		if status != 200 || ans.Result.ResultType != "input_required" || len(ans.Result.InputRequests) != 1 {
			t.Fatalf("ask on %s: %d %+v %+v", ep, status, ans.Error, ans.Result)
		}
		for k := range ans.Result.InputRequests {
			return k, ans.Result.RequestState
		}
		return "", ""
	}

	// A signed forward captured on its way to A, replayed with another
	// body more times than A allows failures: each refused, none counted.
	rl := startRelay(t, a.ts.URL)
	aViaRelay := startTestReplica(t, up, rl.ts.URL, gateway.Options{Identify: identify, Auth: auth})
	key, state := start(aViaRelay.ts.URL+"/servers/asker/mcp", 1)
	status, ans := rawStateless(t, epB, "ann", 2, "tools/call", retryParams(key, state, "Cy"), creds...)
	if status != 400 || ans.Error == nil || !strings.Contains(ans.Error.Message, "not forwarded again") {
		t.Fatalf("the captured forward: %d %+v", status, ans.Error)
	}
	rl.mu.Lock()
	relayed := string(rl.body)
	rl.mu.Unlock()
	for i := range 4 {
		status, text := rl.replay(t, epA, strings.Replace(relayed, `"Cy"`, `"Di"`, 1), nil)
		if status != 403 || !strings.Contains(text, "its body is not the one signed") {
			t.Fatalf("replay %d: %d %s, want 403", i, status, text)
		}
	}

	// Connection names both credential headers: the forward carries them
	// anyway, and A answers the retry.
	key, state = start(epA, 3)
	status, ans = rawStateless(t, epB, "ann", 4, "tools/call", retryParams(key, state, "Bo"),
		append(creds, "Connection", "Authorization, X-Mcpgov-Mcp-Headers")...)
	if status != 200 || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("retry naming its credentials in Connection: %d %+v %+v", status, ans.Error, ans.Result)
	}

	// A caller refused on A (not on B) meanwhile: the challenge names B's
	// URL, which the client reached, not A's.
	key, state = start(epA, 5)
	revoked.Store(true)
	retry := fmt.Sprintf(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{%s,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}}}`,
		retryParams(key, state, "Ed"))
	hdr := append([]string{"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "ask", "Accept", "application/json"}, creds...)
	status, text, got := post(t, epB, "", retry, hdr...)
	challenge := got.Get("WWW-Authenticate")
	if status != 401 || !strings.Contains(challenge, `resource_metadata="`+b.ts.URL+"/.well-known/oauth-protected-resource/servers/asker/mcp") ||
		strings.Contains(challenge, a.ts.Listener.Addr().String()) {
		t.Fatalf("retry of a caller refused on A: %d %q %s, want a challenge naming B's URL", status, challenge, text)
	}
	revoked.Store(false)

	// Forwards no replica signed count (as the refused caller did): A
	// answers 429 once there are MaxFailures, without the address.
	forged := "v1." + base64.RawURLEncoding.EncodeToString([]byte(`{"m":"POST","p":"/servers/asker/mcp","b":"00","a":"00","ip":"198.51.100.1","x":9999999999999}`)) + ".AAAA"
	for i, want := range []int{403, 429} {
		status, text := rl.replay(t, epA, relayed, func(h http.Header) { h.Set("Mcpgov-Replica-Forward", forged) })
		if status != want || strings.Contains(text, "127.0.0.1") {
			t.Fatalf("forged forward %d: %d %s, want %d without the address", i, status, text, want)
		}
	}
}
