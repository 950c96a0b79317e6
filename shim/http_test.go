package shim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

const initLine = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// httpFixture serves the fake server over Streamable HTTP and records the
// requests it gets.
type httpFixture struct {
	srv     *mcp.Server
	url     string
	mu      sync.Mutex
	headers []string // "METHOD MCP-Protocol-Version"
}

func newHTTPFixture(t *testing.T) *httpFixture {
	f := &httpFixture{srv: catalogtest.NewServer(catalogtest.Options{})}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return f.srv }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.headers = append(f.headers, r.Method+" "+r.Header.Get("MCP-Protocol-Version"))
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

func (f *httpFixture) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.headers...)
}

func startHTTPSession(t *testing.T, url string) *session {
	t.Helper()
	stderr := &syncBuffer{}
	up, err := DialHTTP(url, nil, stderr)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, client: NewFrameWriter(inW), out: NewFrameReader(outR, 0), in: inW, stderr: stderr, done: make(chan error, 1)}
	r := &Relay{In: inR, Out: outW, Stderr: s.stderr, Drain: time.Second}
	go func() { s.done <- r.Run(context.Background(), up); outW.Close() }()
	t.Cleanup(func() { inW.Close(); up.Shutdown(0) })
	return s
}

func (s *session) recvID(id string) string {
	s.t.Helper()
	for {
		m := s.recv()
		if strings.Contains(m, `"id":`+id+`,`) {
			return m
		}
	}
}

// TestHTTPUpstream: calls work; the GET stream is open before the client
// sees the initialize result, carries server-initiated notifications, and
// every request after initialize has MCP-Protocol-Version.
func TestHTTPUpstream(t *testing.T) {
	f := newHTTPFixture(t)
	s := startHTTPSession(t, f.url)
	s.send(initLine)
	if got := s.recvID("1"); !strings.Contains(got, `"serverInfo":{"name":"fake-mcp-server"`) {
		t.Fatalf("initialize: %s", got)
	}
	if reqs := f.requests(); len(reqs) != 2 || reqs[1] != "GET 2025-06-18" {
		t.Fatalf("requests before the initialize result was released: %v", reqs)
	}
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over http"}}}`)
	if got := s.recvID("2"); !strings.Contains(got, `"text":"over http"`) {
		t.Fatalf("echo: %s", got)
	}
	// A server-initiated notification arrives on the GET stream.
	f.srv.AddTool(&mcp.Tool{Name: "late", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	if got := s.recv(); got != `{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{}}` {
		t.Fatalf("expected list_changed from the GET stream, got %s", got)
	}
	for _, r := range f.requests()[1:] {
		if !strings.HasSuffix(r, " 2025-06-18") {
			t.Errorf("request without MCP-Protocol-Version: %q", r)
		}
	}
}

// TestHTTPUpstreamReinitialize: when the server forgets the session (404),
// the shim initializes a new one with the client's initialize and retries.
func TestHTTPUpstreamReinitialize(t *testing.T) {
	f := newHTTPFixture(t)
	s := startHTTPSession(t, f.url)
	s.send(initLine)
	s.recvID("1")
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for ss := range f.srv.Sessions() {
		ss.Close()
	}
	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"again"}}}`)
	if got := s.recvID("2"); !strings.Contains(got, `"text":"again"`) {
		t.Fatalf("after re-initialize: %s", got)
	}
	if !strings.Contains(s.stderr.String(), "upstream session expired; initializing a new one") {
		t.Fatalf("no re-initialization happened; stderr %q", s.stderr.String())
	}
}

// TestHTTPUpstreamRedirectKeepsCredentials: a redirect within the
// endpoint's origin is followed with the configured headers; one to another
// origin is refused with a reason, and the other host never sees the
// headers, the per-request credentials or the bearer token.
func TestHTTPUpstreamRedirectKeepsCredentials(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("X-Api-Key")+"|"+r.Header.Get("Authorization")+"|"+r.URL.RawQuery)
		mu.Unlock()
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(other.Close)
	f := newHTTPFixture(t)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return f.srv }, nil)
	var sameOriginKey string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/mcp", http.StatusPermanentRedirect)
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		default:
			mu.Lock()
			sameOriginKey = r.Header.Get("X-Api-Key")
			mu.Unlock()
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(origin.Close)
	cred := Credentials{Apply: func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer grant-value")
		return nil
	}}
	headers := http.Header{"X-Api-Key": {"moved-secret"}}

	up, err := DialHTTPWith(origin.URL+"/moved", headers, cred, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Shutdown(0) })
	if err := up.WriteFrame([]byte(initLine)); err != nil {
		t.Fatalf("a redirect within the origin: %v", err)
	}
	if got, err := up.ReadFrame(); err != nil || !strings.Contains(string(got), `"serverInfo"`) {
		t.Fatalf("initialize through a same-origin redirect: %s %v", got, err)
	}
	mu.Lock()
	if sameOriginKey != "moved-secret" {
		t.Errorf("the same-origin redirect target got X-Api-Key %q, want the configured header", sameOriginKey)
	}
	mu.Unlock()

	away, err := DialHTTPWith(origin.URL+"/away", headers, cred, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { away.Shutdown(0) })
	err = away.WriteFrame([]byte(initLine))
	if err == nil || !strings.Contains(err.Error(), "redirected to another origin") {
		t.Fatalf("a redirect to another origin: got %v, want a refusal naming it", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Fatalf("the other origin was reached: %q", leaked)
	}
}

// TestOrigin: spellings of one origin compare equal, others do not.
func TestOrigin(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://Example.com/mcp", "https://example.com:443/other", true},
		{"http://127.0.0.1:80/", "http://127.0.0.1/x", true},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8081/", false},
		{"http://example.com/", "https://example.com/", false},
		{"http://[::1]:9/", "http://[::1]:9/a", true},
		{"http://example.com.evil.test/", "http://example.com/", false},
	} {
		ua, _ := url.Parse(c.a)
		ub, _ := url.Parse(c.b)
		if got := origin(ua) == origin(ub); got != c.same {
			t.Errorf("origin(%s) == origin(%s): %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
