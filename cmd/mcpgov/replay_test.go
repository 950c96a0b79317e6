package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

// replayPolicy denies the tools named in its set; rule ids no-TOOL.
func replayPolicy(tools ...string) string {
	set := ""
	for i, t := range tools {
		if i > 0 {
			set += ", "
		}
		set += `"` + t + `"`
	}
	return `package mcpgov.authz

denied := {` + set + `}

decision := {
	"allow": count(deny) == 0,
	"reasons": [d.reason | some d in deny],
	"rule_ids": [d.id | some d in deny],
}

deny contains {"id": sprintf("no-%s", [input.tool.name]), "reason": sprintf("tool %s is retired", [input.tool.name])} if {
	input.tool.name in denied
}
`
}

// writeReplayBundle is writeBundle with a policy denying tools and an
// optional guardrails.toml.
func writeReplayBundle(t *testing.T, guardrails string, denied ...string) string {
	t.Helper()
	dir := writeBundle(t)
	if len(denied) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "policies", "authz.rego"), []byte(replayPolicy(denied...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if guardrails != "" {
		if err := os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte(guardrails), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type replayGroup struct {
	Change, Rule, Server, Tool, Identity, Reason string
	Count                                        int
	Seqs                                         []uint64
}

type replayReport struct {
	SchemaVersion int            `json:"schemaVersion"`
	Calls         int            `json:"calls"`
	Redecided     int            `json:"redecided"`
	Unchanged     int            `json:"unchanged"`
	Changes       map[string]int `json:"changes"`
	Groups        []replayGroup  `json:"groups"`
}

func (r replayReport) group(change, tool string) *replayGroup {
	for i, g := range r.Groups {
		if g.Change == change && g.Tool == tool {
			return &r.Groups[i]
		}
	}
	return nil
}

// TestPolicyReplay: a trail written by the shim in front of a real MCP
// server is replayed under a tightened and a loosened candidate, and each
// diff names exactly the calls, rules and tools that would change.
func TestPolicyReplay(t *testing.T) {
	sb := newSandbox(t)
	enforced := writeReplayBundle(t, "", catalogtest.ToolAdd)
	cs, _ := sb.shim("--bundle", enforced, "--", "fake-mcp-server")
	ctx := context.Background()
	call := func(name string, args map[string]any) bool {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("call %s: %v", name, err)
		}
		return res.IsError
	}
	if call(catalogtest.ToolEcho, map[string]any{"message": "hello"}) || call(catalogtest.ToolEcho, map[string]any{"message": "again"}) {
		t.Fatal("echo was refused under the enforced bundle")
	}
	if !call(catalogtest.ToolAdd, map[string]any{"a": 1, "b": 2}) {
		t.Fatal("add was not refused under the enforced bundle")
	}
	if call(catalogtest.ToolNotes, map[string]any{}) {
		t.Fatal("list_notes was refused under the enforced bundle")
	}
	cs.Close()

	replay := func(candidate string) replayReport {
		t.Helper()
		out := sb.must("", "policy", "replay", "--bundle", candidate, "--json").Stdout
		var rep replayReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("replay report %q: %v", out, err)
		}
		if rep.Calls != 4 {
			t.Fatalf("replay read %d calls, want 4:\n%s", rep.Calls, out)
		}
		return rep
	}

	// Tightened: echo is retired too.
	tight := replay(writeReplayBundle(t, "", catalogtest.ToolAdd, catalogtest.ToolEcho))
	g := tight.group("newly_denied", catalogtest.ToolEcho)
	if g == nil || g.Count != 2 || g.Rule != "no-echo" || g.Server != "fake" || g.Identity != "anonymous" {
		t.Fatalf("tightened: want echo newly denied twice by no-echo on fake, got %+v", tight)
	}
	if len(tight.Groups) != 1 || tight.Unchanged != 2 {
		t.Errorf("tightened: want only echo to change (add and list_notes unchanged), got %+v", tight)
	}

	// Loosened: add is allowed again, and list_notes results get redacted.
	loose := replay(writeReplayBundle(t, "[guardrails.pii]\nmode = \"enforce\"\nhooks = [\"post\"]\ntools = [\"list_notes\"]\n"))
	g = loose.group("newly_allowed", catalogtest.ToolAdd)
	if g == nil || g.Count != 1 || g.Rule != "no-add" {
		t.Fatalf("loosened: want add newly allowed (was no-add), got %+v", loose)
	}
	g = loose.group("newly_redacted", catalogtest.ToolNotes)
	if g == nil || g.Count != 1 || g.Rule != "guardrail.pii" {
		t.Fatalf("loosened: want list_notes newly redacted by pii, got %+v", loose)
	}
	if loose.Changes["newly_denied"] != 0 || loose.Unchanged != 2 {
		t.Errorf("loosened: echo must not change, got %+v", loose)
	}

	// A Parquet export of the trail replays the same.
	lake := filepath.Join(t.TempDir(), "lake")
	sb.must("", "audit", "export", "--format", "parquet", "--out", lake)
	out := sb.must("", "policy", "replay", "--bundle", writeReplayBundle(t, "", catalogtest.ToolAdd, catalogtest.ToolEcho), "--parquet", lake, "--json").Stdout
	var fromLake replayReport
	if err := json.Unmarshal([]byte(out), &fromLake); err != nil {
		t.Fatal(err)
	}
	if g := fromLake.group("newly_denied", catalogtest.ToolEcho); fromLake.Calls != 4 || g == nil || g.Count != 2 || g.Rule != "no-echo" || len(fromLake.Groups) != 1 {
		t.Errorf("replay of the Parquet export: %+v", fromLake)
	}

	// The human form names the same.
	text := sb.must("", "policy", "replay", "--bundle", writeReplayBundle(t, "", catalogtest.ToolAdd, catalogtest.ToolEcho)).Stdout
	for _, want := range []string{"4 calls read", "newly_denied", "no-echo", "tool echo is retired"} {
		if !strings.Contains(text, want) {
			t.Errorf("replay output lacks %q:\n%s", want, text)
		}
	}
}

// TestShadowBundle: with shadow_bundle set, the shim in front of a real
// server decides each call under both bundles and records both
// decisions; the shadow never blocks a call, nor lets a refused one pass.
func TestShadowBundle(t *testing.T) {
	sb := newSandbox(t)
	enforced := writeReplayBundle(t, "", catalogtest.ToolAdd)
	shadow := writeReplayBundle(t, "", catalogtest.ToolEcho)
	sb.config("shadow_bundle = " + strconv.Quote(shadow) + "\n")
	cs, _ := sb.shim("--bundle", enforced, "--", "fake-mcp-server")
	if text, isErr := echo(t, cs); isErr || text != "hello" {
		t.Fatalf("echo under a shadow that refuses it: isError=%v %q", isErr, text)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: catalogtest.ToolAdd, Arguments: map[string]any{"a": 1, "b": 2}})
	if err != nil || !res.IsError {
		t.Fatalf("add, refused by the enforced bundle, passed under a shadow that allows it: %v %+v", err, res)
	}
	cs.Close()

	out := sb.must("", "audit", "query", "--format", "jsonl", "--kind", "tool_call").Stdout
	type decision struct {
		Allow   bool     `json:"allow"`
		RuleIDs []string `json:"rule_ids"`
		Shadow  *struct {
			Allow    bool     `json:"allow"`
			RuleIDs  []string `json:"rule_ids"`
			Revision string   `json:"bundle_revision"`
		} `json:"shadow"`
	}
	got := map[string]decision{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Tool     string   `json:"tool"`
			Decision decision `json:"decision"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		got[rec.Tool] = rec.Decision
	}
	e, a := got[catalogtest.ToolEcho], got[catalogtest.ToolAdd]
	if !e.Allow || e.Shadow == nil || e.Shadow.Allow || strings.Join(e.Shadow.RuleIDs, ",") != "no-echo" || e.Shadow.Revision == "" {
		t.Errorf("echo's decision %+v: want allowed, the shadow refusing it by no-echo", e)
	}
	if a.Allow || a.Shadow == nil || !a.Shadow.Allow {
		t.Errorf("add's decision %+v: want refused, the shadow allowing it", a)
	}
}
