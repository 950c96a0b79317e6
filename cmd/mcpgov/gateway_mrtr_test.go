//lint:file-ignore SA1019 sampling is deprecated as of protocol 2026-07-28 (SEP-2577) but servers still ask for it during a call; the gateway must carry it to a stateless client as an input request.
package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayStatelessRoundTrips runs the stateless revision's remaining
// parts through `mcpgov gateway serve` with real servers: a go-sdk v1.8
// client with an elicitation and a sampling handler calls
// server-everything's (stdio, 2025-11-25) elicitation and sampling tools,
// whose requests reach it as input_required answers (MRTR) — its handlers
// run and the tools' answers carry what they returned; it subscribes to a
// server-everything resource through subscriptions/listen and gets its
// updates; and it calls the go-sdk conformance server's x-mcp-header tool,
// mirroring the argument into Mcp-Param-Region, which the gateway checks
// against the body. Each completed call is recorded once, with the client.
func TestGatewayStatelessRoundTrips(t *testing.T) {
	bundle := everythingConfBundle(t, "roundtrips", "")
	auditDir := filepath.Join(t.TempDir(), "audit")
	base, stderr := startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir), bundle)
	ctx := await.Context(t)

	var mu sync.Mutex
	var ran []string
	updated := make(chan string, 16)
	client := mcp.NewClient(&mcp.Implementation{Name: "roundtrips-e2e", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			mu.Lock()
			ran = append(ran, "elicitation")
			mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Grace Hopper", "check": true}}, nil
		},
		CreateMessageHandler: func(_ context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			mu.Lock()
			ran = append(ran, "sampling")
			mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "e2e-model", Content: &mcp.TextContent{Text: "sampled by the client"}}, nil
		},
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) { updated <- r.Params.URI },
	})
	hdrs := &gatewaytest.ParamHeaders{}
	connect := func(path string) *mcp.ClientSession {
		t.Helper()
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + path, HTTPClient: &http.Client{Transport: hdrs}}, nil)
		if err != nil {
			t.Fatalf("connect %s: %v\n%s", path, err, stderr())
		}
		t.Cleanup(func() { cs.Close() })
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Fatalf("%s: negotiated %q, want 2026-07-28", path, v)
		}
		return cs
	}

	ev := connect("/servers/everything/mcp")
	res, err := ev.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "Grace Hopper") || !strings.Contains(textOf(res), "accept") {
		t.Fatalf("trigger-elicitation-request: %+v %v\n%s", res, err, stderr())
	}
	res, err = ev.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-sampling-request", Arguments: map[string]any{"prompt": "say something", "maxTokens": 20}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "sampled by the client") || !strings.Contains(textOf(res), "e2e-model") {
		t.Fatalf("trigger-sampling-request: %+v %v\n%s", res, err, stderr())
	}
	mu.Lock()
	handlers := strings.Join(ran, ",")
	mu.Unlock()
	if handlers != "elicitation,sampling" {
		t.Errorf("the client's handlers ran: %s, want elicitation,sampling", handlers)
	}

	const uri = "demo://resource/dynamic/text/1"
	if err := ev.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	// server-everything sends every subscribed resource's update when the
	// updates are switched on, then every 5 s: the first that reaches the
	// client after its subscription is made upstream is the proof.
	if res, err := ev.CallTool(ctx, &mcp.CallToolParams{Name: "toggle-subscriber-updates", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Fatalf("toggle-subscriber-updates: %+v %v", res, err)
	}
	select {
	case got := <-updated:
		if got != uri {
			t.Fatalf("update of %q, want %q", got, uri)
		}
	case <-ctx.Done():
		t.Fatalf("no notifications/resources/updated for %s on the listen stream\n%s", uri, stderr())
	}
	if err := ev.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}

	conf := connect("/servers/conf/mcp")
	if _, err := conf.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	res, err = conf.CallTool(ctx, &mcp.CallToolParams{Name: "test_x_mcp_header", Arguments: map[string]any{"region": "eu-north", "level": 2}})
	if err != nil || res.IsError || textOf(res) != "region=eu-north" {
		t.Fatalf("test_x_mcp_header: %+v %v", res, err)
	}
	seen := hdrs.Seen()
	if !strings.Contains(seen, "Mcp-Param-Region: eu-north") {
		t.Errorf("the go-sdk client sent %q; want Mcp-Param-Region: eu-north", seen)
	}

	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	// The server's own requests are recorded too (their content passed
	// the post hooks on its way to the client), apart from the calls.
	var calls, asked []string
	for _, r := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(r, `"method":"tools/call"`) {
			calls = append(calls, r)
		} else {
			asked = append(asked, r)
		}
	}
	want := []string{`"tool":"trigger-elicitation-request"`, `"tool":"trigger-sampling-request"`, `"tool":"toggle-subscriber-updates"`, `"tool":"test_x_mcp_header"`}
	if len(calls) != len(want) {
		t.Fatalf("%d tools/call records, want %d (one per completed call):\n%s", len(calls), len(want), out)
	}
	for i, r := range calls {
		if !strings.Contains(r, want[i]) || !strings.Contains(r, `"client":{"name":"roundtrips-e2e","version":"1"}`) || !strings.Contains(r, `"outcome":"allowed"`) {
			t.Errorf("record %d: want %s, allowed, with the client: %s", i, want[i], r)
		}
	}
	if len(asked) != 2 || !strings.Contains(asked[0], `"method":"elicitation/create"`) || !strings.Contains(asked[1], `"method":"sampling/createMessage"`) {
		t.Errorf("records of the server's requests: %q, want the elicitation and the sampling request", asked)
	}
}
