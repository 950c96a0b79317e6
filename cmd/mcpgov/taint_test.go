package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

// writeTaintBundle is writeBundle with the starter policies (taint.rego
// among them), a pii guardrail on results, and the fake server's echo
// marked untrusted and add able to send data out.
func writeTaintBundle(t *testing.T) string {
	t.Helper()
	dir := writeBundle(t)
	tmp := t.TempDir()
	if _, err := catalog.WriteStarter(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "policies"), filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	cat := filepath.Join(dir, "catalog.toml")
	text, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	marked := strings.Replace(string(text), "[servers.fake.launch]", "[servers.fake.tools]\nuntrusted = [\"echo\"]\negress = [\"add\"]\n\n[servers.fake.launch]", 1)
	if err := os.WriteFile(cat, []byte(marked), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte("[guardrails.pii]\nmode = \"audit\"\nhooks = [\"post\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSessionTaint: through the shim in front of a real MCP server, a
// session whose untrusted tool returned PII may no longer call a tool that
// can send data out, and the refusal names the call that tainted it; a
// fresh session may call it.
func TestSessionTaint(t *testing.T) {
	sb := newSandbox(t)
	bundle := writeTaintBundle(t)
	ctx := context.Background()
	add := func(cs *mcp.ClientSession) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: catalogtest.ToolAdd, Arguments: map[string]any{"a": 1, "b": 2}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	cs, _ := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	if res := add(cs); res.IsError {
		t.Fatalf("add in an untainted session was refused: %s", textOf(res))
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: catalogtest.ToolEcho, Arguments: map[string]any{"message": "write to jane.doe@example.com"}})
	if err != nil || res.IsError {
		t.Fatalf("echo: %v %+v", err, res)
	}
	res = add(cs)
	if !res.IsError {
		t.Fatalf("add after an untrusted PII read was not refused: %s", textOf(res))
	}
	for _, want := range []string{"session-taint", "read pii data (call 2, fake/echo, record ", "guardrail pii found pii.email in its result", "ingested untrusted content (call 2, fake/echo", "start a new session"} {
		if !strings.Contains(textOf(res), want) {
			t.Errorf("the refusal lacks %q: %s", want, textOf(res))
		}
	}
	cs.Close()

	fresh, _ := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	if res := add(fresh); res.IsError {
		t.Fatalf("add in a fresh session was refused: %s", textOf(res))
	}

	out := sb.must("", "audit", "query", "--tool", catalogtest.ToolAdd, "--decision", "deny", "--count").Stdout
	if strings.TrimSpace(out) != "1" {
		t.Errorf("want one denied add in the trail, got %s", out)
	}

	// A replay rebuilds each recorded session's facts: under the same
	// bundle nothing changes, and without taint.rego the refused add is
	// newly allowed.
	replayJSON := func(candidate string) replayReport {
		t.Helper()
		var rep replayReport
		if err := json.Unmarshal([]byte(sb.must("", "policy", "replay", "--bundle", candidate, "--json").Stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if same := replayJSON(bundle); same.Calls != 4 || len(same.Groups) != 0 {
		t.Errorf("replay under the enforced bundle: %+v", same)
	}
	if err := os.Remove(filepath.Join(bundle, "policies", "taint.rego")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bundle, "policies", "taint_test.rego")); err != nil {
		t.Fatal(err)
	}
	loose := replayJSON(bundle)
	if g := loose.group("newly_allowed", catalogtest.ToolAdd); g == nil || g.Count != 1 || g.Rule != "session-taint" || len(loose.Groups) != 1 {
		t.Errorf("replay without taint.rego: %+v", loose)
	}
}
