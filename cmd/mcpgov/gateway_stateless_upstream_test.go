package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayStatelessUpstream runs `mcpgov gateway serve` in front of
// the go-sdk conformance server, which the catalog says speaks 2026-07-28
// (launch.protocol): the gateway calls it without a session. Its
// test_input_required_result_multi_round tool asks twice (two
// input_required rounds, its state in requestState). A stateless go-sdk
// client gets each round as it is and retries, each retry governed and
// recorded as a call; a client of 2025-11-25 gets the rounds as its
// session's elicitations and one answer. Both get the tool's answer
// built from their input, and both call its x-mcp-header tool, whose
// Mcp-Param-* header the server requires.
func TestGatewayStatelessUpstream(t *testing.T) {
	// Only the stateless go-sdk handler serves 2026-07-28: the stateful
	// one's server/discover lists the earlier revisions.
	addr := freeAddr(t)
	startProcess(t, os.Environ(), buildConformanceServer(t), "-http", addr, "-stateless=true")
	listening(t, addr)
	upstream := "http://" + addr + "/mcp"
	bundle := catalogBundle(t, fmt.Sprintf(`[catalog]
name = "stateless-upstream"
mode = "enforce"
[servers.conf]
status = "approved"
[servers.conf.launch]
url = %q
protocol = "2026-07-28"
`, upstream))
	auditDir := filepath.Join(t.TempDir(), "audit")
	base, stderr := startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir), bundle)
	ctx := await.Context(t)

	answer := func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		switch {
		case strings.Contains(r.Params.Message, "name"):
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Grace"}}, nil
		case strings.Contains(r.Params.Message, "color"):
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"color": "teal"}}, nil
		}
		return nil, fmt.Errorf("unexpected elicitation %q", r.Params.Message)
	}
	for _, tc := range []struct{ client, version string }{{"stateless-e2e", "2026-07-28"}, {"session-e2e", "2025-11-25"}} {
		c := mcp.NewClient(&mcp.Implementation{Name: tc.client, Version: "1"}, &mcp.ClientOptions{ElicitationHandler: answer})
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/conf/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
		if err != nil {
			t.Fatalf("%s: connect: %v\n%s", tc.client, err, stderr())
		}
		if v := cs.InitializeResult().ProtocolVersion; v != tc.version {
			t.Fatalf("%s: negotiated %q, want %s", tc.client, v, tc.version)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_input_required_result_multi_round", Arguments: map[string]any{}})
		if err != nil || res.IsError || textOf(res) != "Multi-round complete: Grace likes teal" {
			t.Fatalf("%s: multi-round call: %+v %v\n%s", tc.client, res, err, stderr())
		}
		// The revision's Mcp-Param-* headers, which the server checks:
		// the gateway sends the annotated argument it learnt from the
		// tools' listing.
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Fatal(err)
		}
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_x_mcp_header", Arguments: map[string]any{"region": "eu-north", "level": 2}})
		if err != nil || res.IsError || textOf(res) != "region=eu-north" {
			t.Fatalf("%s: test_x_mcp_header: %+v %v\n%s", tc.client, res, err, stderr())
		}
		cs.Close()
	}

	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	calls := map[string]int{}
	for _, r := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.Contains(r, `"method":"tools/call"`) || !strings.Contains(r, `"tool":"test_input_required_result_multi_round"`) {
			continue
		}
		if !strings.Contains(r, `"outcome":"allowed"`) {
			t.Errorf("record: %s, want allowed", r)
		}
		for _, name := range []string{"stateless-e2e", "session-e2e"} {
			if strings.Contains(r, `"client":{"name":"`+name+`"`) {
				calls[name]++
			}
		}
	}
	if calls["stateless-e2e"] != 3 || calls["session-e2e"] != 1 {
		t.Errorf("tools/call records by client: %v, want 3 for the stateless client (each round a call) and 1 for the session's client\n%s", calls, out)
	}
}
