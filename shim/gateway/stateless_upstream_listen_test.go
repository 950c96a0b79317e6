package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessUpstreamListens: a stateless client listens
// (subscriptions/listen) on the endpoint of an upstream that speaks the
// revision too: the gateway listens to the upstream for it, and the
// upstream's tools list_changed and the update of a subscribed resource
// reach the client's listen stream, with the client's subscription id.
func TestStatelessUpstreamListens(t *testing.T) {
	var listens atomic.Int64
	s := mcp.NewServer(&mcp.Implementation{Name: "changing", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	s.AddTool(&mcp.Tool{Name: "first", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	s.AddResource(&mcp.Resource{URI: "docs://a", Name: "a"}, func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: "a"}}}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	upTS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "subscriptions/listen" {
			listens.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(upTS.Close)
	ep, _, _, _ := sessionlessGateway(t, upTS.URL)

	ctx, cancel := context.WithCancel(await.Context(t))
	t.Cleanup(cancel)
	resp := openListen(t, ctx, ep, "sub-1", `{"toolsListChanged":true,"resourceSubscriptions":["docs://a"]}`)
	type event struct {
		Method string `json:"method"`
		Params struct {
			URI           string          `json:"uri"`
			Notifications json.RawMessage `json:"notifications"`
			Meta          map[string]any  `json:"_meta"`
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
	ack := <-events
	if ack.Method != "notifications/subscriptions/acknowledged" || !strings.Contains(string(ack.Params.Notifications), `"toolsListChanged":true`) ||
		!strings.Contains(string(ack.Params.Notifications), `"resourceSubscriptions":["docs://a"]`) {
		t.Fatalf("first event %+v %s, want the acknowledgement of toolsListChanged and docs://a", ack, ack.Params.Notifications)
	}
	await.Until(t, "the gateway listening to the upstream", func() bool { return listens.Load() > 0 })

	// The upstream takes the gateway's listen after it got its POST: a
	// tool is added until the change reaches the client.
	n := 0
	var got event
	await.Until(t, "the upstream's tools list_changed on the client's listen stream", func() bool {
		n++
		s.AddTool(&mcp.Tool{Name: "added" + strconv.Itoa(n), InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{}, nil
			})
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatal("the client's listen stream ended")
				}
				if e.Method == "notifications/tools/list_changed" {
					got = e
					return true
				}
			default:
				return false
			}
		}
	})
	if id := got.Params.Meta["io.modelcontextprotocol/subscriptionId"]; id != "sub-1" {
		t.Errorf("list_changed for subscription %v, want sub-1", id)
	}
	if err := s.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "docs://a"}); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if e.Method == "notifications/resources/updated" {
			if e.Params.URI != "docs://a" || e.Params.Meta["io.modelcontextprotocol/subscriptionId"] != "sub-1" {
				t.Errorf("resource update %+v, want docs://a for sub-1", e)
			}
			return
		}
	}
	t.Fatal("the client's listen stream ended before the resource update")
}
