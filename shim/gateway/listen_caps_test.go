package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessListenURIsBounded (review: one subscriptions/listen could
// name any number of URIs, each a resources/subscribe upstream): a listen
// naming 101 URIs is refused with -32602 saying the bound, and nothing is
// subscribed upstream; ten listens of 100 URIs each, held open, subscribe
// 1000, the session's bound, and an eleventh listen's new URI is not
// subscribed (its acknowledgement leaves it out).
func TestStatelessListenURIsBounded(t *testing.T) {
	var subscribed atomic.Int64
	s := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler: func(context.Context, *mcp.SubscribeRequest) error {
			subscribed.Add(1)
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	s.AddResource(&mcp.Resource{URI: "docs://a", Name: "a"}, func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: "a"}}}, nil
	})
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(upTS.Close)
	gov := &fakeGov{servers: []gateway.Server{{ID: "docs", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"docs": {ID: "docs", Status: catalog.StatusApproved}}}
	ts, _ := newGateway(t, gov, gateway.Options{})
	ep := ts.URL + "/servers/docs/mcp"

	uris := func(from, n int) string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("docs://r%d", from+i)
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	status, a := rawStateless(t, ep, "ann", 1, "subscriptions/listen", `"notifications":{"resourceSubscriptions":`+uris(0, 101)+`}`)
	if status != 400 || a.Error == nil || a.Error.Code != -32602 || !strings.Contains(a.Error.Message, "lists 101 URIs, more than the 100") {
		t.Errorf("a listen naming 101 URIs: %d %+v, want 400 -32602 naming the bound", status, a.Error)
	}
	if n := subscribed.Load(); n != 0 {
		t.Errorf("%d resources/subscribe upstream for the refused listen, want none", n)
	}

	// listen opens a listen stream naming list and returns the URIs its
	// acknowledgement honours; the stream stays open until the test ends.
	listen := func(id int, list string) []string {
		t.Helper()
		resp := openListen(t, await.Context(t), ep, id, `{"resourceSubscriptions":`+list+`}`)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue
			}
			var ack struct {
				Method string `json:"method"`
				Params struct {
					Notifications struct {
						ResourceSubscriptions []string `json:"resourceSubscriptions"`
					} `json:"notifications"`
				} `json:"params"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &ack); err != nil || ack.Method != "notifications/subscriptions/acknowledged" {
				t.Fatalf("listen %d: first event %s (%v), want the acknowledgement", id, data, err)
			}
			return ack.Params.Notifications.ResourceSubscriptions
		}
		t.Fatalf("listen %d: stream ended without an acknowledgement (%d): %v", id, resp.StatusCode, sc.Err())
		return nil
	}
	for i := range 10 {
		if got := listen(10+i, uris(100*i, 100)); len(got) != 100 {
			t.Fatalf("listen %d of 100 URIs: %d honoured, want 100", i, len(got))
		}
	}
	if got := listen(20, `["docs://r5","docs://beyond"]`); len(got) != 1 || got[0] != "docs://r5" {
		t.Errorf("a listen past the session's 1000 URIs honours %q, want only docs://r5 (already subscribed)", got)
	}
	if n := subscribed.Load(); n != 1000 {
		t.Errorf("%d resources/subscribe upstream, want 1000", n)
	}
}
