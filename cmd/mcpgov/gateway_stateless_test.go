package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayStateless connects the go-sdk v1.8 client, which speaks the
// stateless revision 2026-07-28 to a server that offers it, through
// `mcpgov gateway serve` to server-everything (launched over stdio, a
// 2025-11-25 server) and to the go-sdk conformance server (over
// Streamable HTTP): the client negotiates 2026-07-28 with the gateway
// (server/discover, no initialize, no session), lists and calls tools,
// gets a call's progress on its POST stream, is refused the denied tool,
// and each call is recorded once with the caller's identity.
func TestGatewayStateless(t *testing.T) {
	bundle := everythingConfBundle(t, "stateless", "")
	auditDir := filepath.Join(t.TempDir(), "audit")
	base, stderr := startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir), bundle)
	ctx := await.Context(t)

	client := gatewaytest.NewProgressClient("stateless-e2e")
	connect := func(path string) *mcp.ClientSession {
		t.Helper()
		cs := connectAt(t, client.Client, &mcp.StreamableClientTransport{Endpoint: base + path}, "", "2026-07-28", stderr)
		if id := cs.ID(); id != "" {
			t.Fatalf("%s: the client holds session %q; the revision has none", path, id)
		}
		return cs
	}
	ev := connect("/servers/everything/mcp")
	lt, err := ev.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "echo") || slices.Contains(names, "get-env") {
		t.Fatalf("server-everything tools through the gateway: %v (echo listed, get-env denied)", names)
	}
	res, err := ev.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "stateless hello"}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "stateless hello") {
		t.Fatalf("echo: %+v, %v", res, err)
	}
	long := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 0.3, "steps": 3}}
	long.SetProgressToken("op-1")
	res, err = ev.CallTool(ctx, long)
	if err != nil || res.IsError || !strings.Contains(textOf(res), "Steps: 3") {
		t.Fatalf("long-running operation: %+v, %v", res, err)
	}
	// The progress notifications come on the call's POST stream. The
	// go-sdk client runs notification handlers on a goroutine of their
	// own, so the answer may reach the caller before the last handler has
	// run: wait for all three, in order (it failed 1 of 3 clean runs when
	// read at once).
	var got []float64
	await.Until(t, "progress 1, 2, 3 of the long-running operation", func() bool {
		got = client.Progress()
		if len(got) > 3 || !slices.Equal(got, []float64{1, 2, 3}[:len(got)]) {
			t.Fatalf("progress of the long-running operation: %v, want [1 2 3]", got)
		}
		return len(got) == 3
	})
	if _, err := ev.CallTool(ctx, &mcp.CallToolParams{Name: "get-env", Arguments: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Errorf("the denied tool: %v, want Unknown tool", err)
	}

	conf := connect("/servers/conf/mcp")
	res, err = conf.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}})
	if err != nil || res.IsError || textOf(res) == "" {
		t.Fatalf("conformance server test_simple_text: %+v, %v", res, err)
	}
	agg := connect("/mcp")
	res, err = agg.CallTool(ctx, &mcp.CallToolParams{Name: "everything__get-sum", Arguments: map[string]any{"a": 2, "b": 3}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "5") {
		t.Fatalf("everything__get-sum through /mcp: %+v, %v", res, err)
	}

	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	records := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{`"tool":"echo"`, `"tool":"trigger-long-running-operation"`, `"tool":"get-env"`, `"tool":"test_simple_text"`, `"tool":"get-sum"`}
	if len(records) != len(want) {
		t.Fatalf("%d tool_call records, want %d:\n%s", len(records), len(want), out)
	}
	for i, r := range records {
		if !strings.Contains(r, want[i]) || !strings.Contains(r, `"identity":{"method":"anonymous"}`) || !strings.Contains(r, `"client":{"name":"stateless-e2e","version":"1"}`) {
			t.Errorf("record %d: want %s, the anonymous identity and the client: %s", i, want[i], r)
		}
	}
}
