//lint:file-ignore SA1019 logging is deprecated as of protocol 2026-07-28 (SEP-2577), yet still carried per request
package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// chattyUpstream is a go-sdk server, stateless (2026-07-28), whose
// "chatty" tool logs one message at each of debug, info, warning and
// error before it answers; levels gets the _meta log level of each
// tools/call it is sent.
func chattyUpstream(t *testing.T) (string, func() []string) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "chatty", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "chatty", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for _, level := range []mcp.LoggingLevel{"debug", "info", "warning", "error"} {
				if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: level, Data: "at " + string(level)}); err != nil {
					return nil, err
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "said it all"}}}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	var mu sync.Mutex
	var levels []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Method") == "tools/call" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Params struct {
					Meta map[string]any `json:"_meta"`
				} `json:"params"`
			}
			_ = json.Unmarshal(body, &m)
			level, _ := m.Params.Meta["io.modelcontextprotocol/logLevel"].(string)
			mu.Lock()
			levels = append(levels, level)
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(levels)
	}
}

// TestStatelessLogLevelReachesUpstream: a stateless client (go-sdk v1.8,
// 2026-07-28) names a log level in a call's _meta; the gateway passes it
// to the upstream that speaks the revision, and the call's stream carries
// the upstream's log messages at or above it only; a call that names no
// level gets none.
func TestStatelessLogLevelReachesUpstream(t *testing.T) {
	url, levels := chattyUpstream(t)
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
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ep, HTTPClient: &http.Client{Transport: userTransport{"ann"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
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
		res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "chatty", Arguments: map[string]any{}, Meta: meta})
		if err != nil || res.IsError {
			t.Fatalf("chatty: %+v %v", res, err)
		}
	}

	call(mcp.Meta{"io.modelcontextprotocol/logLevel": "warning"})
	await.Until(t, "the log messages of the call", func() bool { return len(logged()) >= 2 })
	if l := logged(); !slices.Equal(l, []string{"warning", "error"}) {
		t.Errorf("the call at warning got log messages at %q, want warning and error", l)
	}
	call(nil)
	call(mcp.Meta{"io.modelcontextprotocol/logLevel": "debug"})
	await.Until(t, "the log messages of the call at debug", func() bool { return len(logged()) >= 6 })
	if l := logged(); !slices.Equal(l, []string{"warning", "error", "debug", "info", "warning", "error"}) {
		t.Errorf("log messages %q, want warning and error, then none, then all four", l)
	}
	if l := levels(); !slices.Equal(l, []string{"warning", "", "debug"}) {
		t.Errorf("the upstream got the calls with log levels %q, want warning, none, debug", l)
	}
}
