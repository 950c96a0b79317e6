package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// fakeGov serves catalog entries reached over HTTP, each approved, with
// its tool rules.
type fakeGov struct {
	servers []gateway.Server
	entries map[string]*catalog.Server
	virtual map[string]gateway.Virtual

	mu    sync.Mutex
	cores []enforce.Config
}

func (g *fakeGov) Server(id string) (gateway.Server, error) {
	for _, s := range g.servers {
		if s.ID == id {
			return s, nil
		}
	}
	return gateway.Server{}, fmt.Errorf("server %q is not in the catalog: %w", id, gateway.ErrNotFound)
}

func (g *fakeGov) Servers() []gateway.Server { return g.servers }

func (g *fakeGov) Virtual(id string) (gateway.Virtual, error) {
	v, ok := g.virtual[id]
	if !ok {
		return v, fmt.Errorf("virtual server %q: %w", id, gateway.ErrNotFound)
	}
	return v, nil
}

func (g *fakeGov) Core(id string, s gateway.SessionInfo) (*enforce.Core, error) {
	cfg := enforce.Config{Server: g.entries[id], VersionApproved: true, Mode: catalog.ModeEnforce,
		Identity: s.Identity, Session: s.ID}
	g.mu.Lock()
	g.cores = append(g.cores, cfg)
	g.mu.Unlock()
	return enforce.New(cfg), nil
}

func (g *fakeGov) Ready() error { return nil }

// upstream starts a go-sdk server over Streamable HTTP with tools named
// by names; each answers "<server>:<tool>".
func upstream(t *testing.T, server string, names ...string) string {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: server, Version: "1"}, nil)
	for _, name := range names {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: server + ":" + name}}}, nil
			})
	}
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(ts.Close)
	return ts.URL
}

func newGateway(t *testing.T, gov *fakeGov, opts gateway.Options) (*httptest.Server, *gateway.Handler) {
	t.Helper()
	opts.Governance = gov
	opts.Identify = func(r *http.Request) (audit.Identity, error) {
		return audit.Identity{Method: "anonymous", Subject: r.Header.Get("X-Test-User")}, nil
	}
	return serveGateway(t, opts)
}

// serveGateway serves the gateway opts make until the test ends, then
// closes it; an error closing it fails the test.
func serveGateway(t *testing.T, opts gateway.Options) (*httptest.Server, *gateway.Handler) {
	t.Helper()
	h, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close gateway: %v", err)
		}
	})
	return ts, h
}

// headerUser names the caller by the X-Test-User header, as the subject
// of a JWT from https://idp.test.
func headerUser(r *http.Request) (audit.Identity, error) {
	return audit.Identity{Method: "jwt", Issuer: "https://idp.test", Subject: r.Header.Get("X-Test-User")}, nil
}

func twoServers(t *testing.T) *fakeGov {
	return &fakeGov{
		servers: []gateway.Server{
			{ID: "alpha", URL: upstream(t, "alpha", "echo", "secret")},
			{ID: "beta", URL: upstream(t, "beta", "echo", "sum")},
		},
		entries: map[string]*catalog.Server{
			"alpha": {ID: "alpha", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"secret"}}},
			"beta":  {ID: "beta", Status: catalog.StatusApproved},
		},
		virtual: map[string]gateway.Virtual{},
	}
}

func connect(t *testing.T, url string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	t.Cleanup(cancel)
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func callText(t *testing.T, cs *mcp.ClientSession, name string) (string, error) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), nil
}

func TestProxyEndpoint(t *testing.T) {
	gov := twoServers(t)
	ts, _ := newGateway(t, gov, gateway.Options{})
	cs := connect(t, ts.URL+"/servers/alpha/mcp")
	if got, want := toolNames(t, cs), []string{"echo"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v (secret is denied)", got, want)
	}
	if got, err := callText(t, cs, "echo"); err != nil || got != "alpha:echo" {
		t.Fatalf("call echo = %q, %v", got, err)
	}
	if _, err := callText(t, cs, "secret"); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Fatalf("call of a denied tool: %v, want Unknown tool", err)
	}
	gov.mu.Lock()
	defer gov.mu.Unlock()
	if len(gov.cores) == 0 || gov.cores[0].Identity.Method != "anonymous" {
		t.Fatalf("cores built with %+v, want the anonymous identity", gov.cores)
	}
}

func TestAggregateEndpoint(t *testing.T) {
	gov := twoServers(t)
	ts, _ := newGateway(t, gov, gateway.Options{})
	cs := connect(t, ts.URL+"/mcp")
	want := []string{"alpha__echo", "beta__echo", "beta__sum"}
	if got := toolNames(t, cs); !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	for name, text := range map[string]string{"alpha__echo": "alpha:echo", "beta__sum": "beta:sum"} {
		if got, err := callText(t, cs, name); err != nil || got != text {
			t.Fatalf("call %s = %q, %v; want %q", name, got, err, text)
		}
	}
	if _, err := callText(t, cs, "alpha__secret"); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Fatalf("call of a denied tool: %v, want Unknown tool", err)
	}
}

func TestVirtualEndpoint(t *testing.T) {
	gov := twoServers(t)
	gov.virtual["team"] = gateway.Virtual{Servers: gov.servers, Tools: map[string]bool{"beta__sum": true}}
	ts, _ := newGateway(t, gov, gateway.Options{})
	cs := connect(t, ts.URL+"/virtual/team/mcp")
	if got, want := toolNames(t, cs), []string{"beta__sum"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	if _, err := callText(t, cs, "alpha__echo"); err == nil {
		t.Fatal("a tool outside the virtual server was callable")
	}
}

// post sends one raw POST and returns the status and body.
func post(t *testing.T, url, session, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func TestBadInput(t *testing.T) {
	gov := twoServers(t)
	ts, h := newGateway(t, gov, gateway.Options{MaxBody: 1024})
	url := ts.URL + "/servers/beta/mcp"
	status, body, hdr := post(t, url, "", initBody, "Accept", "application/json")
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" || !strings.Contains(body, `"protocolVersion"`) {
		t.Fatalf("initialize: %d %q session %q", status, body, sid)
	}
	for _, c := range []struct {
		name, session, body string
		header              []string
		status              int
		want                string
	}{
		{"malformed JSON", sid, `{"jsonrpc":"2.0","id":2,"method":`, nil, 400, `"code":-32700`},
		{"not JSON-RPC", sid, `{"id":2,"method":"ping"}`, nil, 400, `"code":-32600`},
		{"ambiguous member", sid, `{"jsonrpc":"2.0","id":2,"method":"ping","Method":"tools/call"}`, nil, 400, `ambiguous`},
		{"batch", sid, `[{"jsonrpc":"2.0","id":2,"method":"ping"}]`, nil, 400, `batches are not supported`},
		{"missing session", "", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, nil, 400, `missing Mcp-Session-Id`},
		{"unknown session", "nope", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, nil, 404, `session not found`},
		{"oversized body", sid, `{"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2000) + `"}}`, nil, 413, `exceeds the gateway's limit of 1024 bytes`},
		{"request without id", sid, `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"sum"}}`, nil, 400, `without an id is never forwarded`},
		{"bad protocol version", sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, []string{"Mcp-Protocol-Version", "1999-01-01"}, 400, `unsupported Mcp-Protocol-Version`},
		{"stateless request without _meta", "", `{"jsonrpc":"2.0","id":2,"method":"server/discover"}`, []string{"Mcp-Protocol-Version", "2026-07-28"}, 400, `"code":-32602,"message":"mcpgov: missing or invalid _meta \"io.modelcontextprotocol/protocolVersion\"`},
		{"foreign origin", sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, []string{"Origin", "https://evil.example"}, 403, `not allowed`},
		{"another caller's session", sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, []string{"X-Test-User", "mallory"}, 403, `belongs to another caller`},
		{"wrong content type", sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, []string{"Content-Type", "text/plain"}, 415, `application/json`},
		{"unknown server", "", initBody, nil, 404, `not in the catalog`},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := url
			if c.name == "unknown server" {
				u = ts.URL + "/servers/nope/mcp"
			}
			status, body, _ := post(t, u, c.session, c.body, c.header...)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %q, want %d containing %q", status, body, c.status, c.want)
			}
		})
	}
	// The session still works, answered as JSON when the client only
	// accepts JSON, as SSE when it accepts a stream.
	status, body, _ = post(t, url, sid, `{"jsonrpc":"2.0","id":"p","method":"ping"}`, "Accept", "application/json")
	if status != 200 || !strings.Contains(body, `"id":"p"`) {
		t.Fatalf("ping as JSON: %d %q", status, body)
	}
	status, body, hdr = post(t, url, sid, `{"jsonrpc":"2.0","id":"q","method":"ping"}`)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") || !strings.Contains(body, `data: {"jsonrpc":"2.0","id":"q"`) {
		t.Fatalf("ping as SSE: %d %q %q", status, hdr.Get("Content-Type"), body)
	}
	if status, _, _ = post(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != 202 {
		t.Fatalf("notification: %d, want 202", status)
	}
	// DELETE ends it.
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if status, _, _ = post(t, url, sid, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); status != 404 {
		t.Fatalf("after DELETE: %d, want 404", status)
	}
	await.Until(t, "the session is gone", func() bool { return h.Sessions() == 0 })
}

func TestHealth(t *testing.T) {
	ts, _ := newGateway(t, twoServers(t), gateway.Options{})
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(bytes.TrimSpace(b)) == 0 {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, b)
		}
	}
}

// TestGetStream: the server's own messages that belong to no streamed
// call go on the session's GET stream; one GET stream per session.
func TestGetStream(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "growing", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "grow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddTool(&mcp.Tool{Name: "grown", InputSchema: json.RawMessage(`{"type":"object"}`)},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "grew"}}}, nil
		})
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(up.Close)
	gov := &fakeGov{
		servers: []gateway.Server{{ID: "g", URL: up.URL}},
		entries: map[string]*catalog.Server{"g": {ID: "g", Status: catalog.StatusApproved}},
	}
	ts, _ := newGateway(t, gov, gateway.Options{})
	url := ts.URL + "/servers/g/mcp"
	sid := initializeSession(t, url)
	post(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	get := func() *http.Response {
		req, _ := http.NewRequestWithContext(await.Context(t), http.MethodGet, url, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	stream := get()
	defer stream.Body.Close()
	if stream.StatusCode != 200 || !strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET: %d %q", stream.StatusCode, stream.Header.Get("Content-Type"))
	}
	if second := get(); second.StatusCode != http.StatusConflict {
		t.Fatalf("second GET: %d, want 409", second.StatusCode)
	} else {
		second.Body.Close()
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- data
			}
		}
		close(events)
	}()
	// Answered as JSON, so the change the call causes has no POST stream
	// to ride: it comes on the GET stream.
	status, body, _ := post(t, url, sid, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"grow","arguments":{}}}`, "Accept", "application/json")
	if status != 200 || !strings.Contains(body, "grew") {
		t.Fatalf("call grow: %d %q", status, body)
	}
	for {
		ev := await.Recv(t, events, "notifications/tools/list_changed on the GET stream")
		if ev == "" {
			t.Fatal("the GET stream ended")
		}
		if strings.Contains(ev, `"method":"notifications/tools/list_changed"`) {
			break
		}
	}
}

// TestStreamKeepAlive: a quiet event stream gets a comment line every
// KeepAlive, so a proxy's idle timeout does not cut it.
func TestStreamKeepAlive(t *testing.T) {
	ts, _ := newGateway(t, twoServers(t), gateway.Options{KeepAlive: 20 * time.Millisecond})
	url := ts.URL + "/servers/alpha/mcp"
	sid := initializeSession(t, url)
	req, _ := http.NewRequestWithContext(await.Context(t), http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for i := 0; i < 2; i++ {
		if got := await.Recv(t, lines, "a keepalive comment"); got != ": keepalive" {
			t.Fatalf("line %d of a quiet stream: %q, want \": keepalive\"", i, got)
		}
		if blank := await.Recv(t, lines, "the comment's end"); blank != "" {
			t.Fatalf("after the comment: %q, want an empty line", blank)
		}
	}
}

// TestProgressTokenSpellings: the quick refusal of params without a
// progressToken member must not miss one whose name is escaped.
func TestProgressTokenSpellings(t *testing.T) {
	for _, c := range []struct{ params, want string }{
		{`{"name":"echo","_meta":{"progressToken":7}}`, "7"},
		{`{"name":"echo","_meta":{"progress\u0054oken":"a"}}`, `"a"`},
		{`{"name":"echo","arguments":{"message":"progressToken"}}`, ""},
		{`{"name":"echo","arguments":{"message":"hello"}}`, ""},
		{`{"name":"echo","_meta":{"progresstoken":7}}`, ""},
	} {
		if got := gateway.ProgressToken([]byte(c.params)); got != c.want {
			t.Errorf("progressToken(%s) = %q, want %q", c.params, got, c.want)
		}
	}
}

// TestPostContentType: the gateway takes application/json with any
// spelling the media type allows, and nothing else.
func TestPostContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"application/json-seq": false, "text/plain": false, "": false,
	} {
		if got := ct == "application/json" || gateway.MediaType(ct) == "application/json"; got != want {
			t.Errorf("Content-Type %q taken: %v, want %v", ct, got, want)
		}
	}
}
