package shim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
