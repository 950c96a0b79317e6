package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

// TestCostCap: through the shim in front of a real MCP server, calls are
// priced by the catalog; the call past the session budget is refused
// naming the budget, and recorded with its price; audit query sums what
// was spent by server and identity; a new session has a fresh budget.
func TestCostCap(t *testing.T) {
	sb := newSandbox(t)
	bundle := writeBundle(t)
	cat := filepath.Join(bundle, "catalog.toml")
	text, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	priced := strings.Replace(string(text), "mode = \"enforce\"\n", "mode = \"enforce\"\n\n[catalog.budgets]\ncurrency = \"EUR\"\nsession = 0.25\n", 1)
	priced = strings.Replace(priced, "[servers.fake.launch]", "[servers.fake.prices]\ncall = 0.1\n\n[servers.fake.launch]", 1)
	if err := os.WriteFile(cat, []byte(priced), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	add := func(cs *mcp.ClientSession) (string, bool) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: catalogtest.ToolAdd, Arguments: map[string]any{"a": 1, "b": 2}})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String(), res.IsError
	}
	cs, _ := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	for i := range 2 {
		if text, isErr := add(cs); isErr {
			t.Fatalf("call %d within the budget was refused: %s", i+1, text)
		}
	}
	text3, isErr := add(cs)
	if !isErr || !strings.Contains(text3, "the session budget of 0.25 EUR is spent (0.20 so far; this call costs 0.10)") || !strings.Contains(text3, "budget.session") {
		t.Fatalf("the call past the budget: isError=%v %s", isErr, text3)
	}
	cs.Close()
	fresh, _ := sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	if text, isErr := add(fresh); isErr {
		t.Fatalf("a new session's first call was refused: %s", text)
	}
	fresh.Close()

	out := sb.must("", "audit", "query", "--format", "jsonl", "--tool", catalogtest.ToolAdd).Stdout
	var costs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Outcome string `json:"outcome"`
			Cost    *struct {
				Price, Call, Total float64
			} `json:"cost"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Cost == nil {
			t.Fatalf("a record without its cost: %s", line)
		}
		costs = append(costs, rec.Outcome+":"+jsonNumber(rec.Cost.Price)+"/"+jsonNumber(rec.Cost.Total))
	}
	if got := strings.Join(costs, " "); got != "allowed:0.1/0.1 allowed:0.1/0.1 denied:0.1/0 allowed:0.1/0.1" {
		t.Errorf("recorded costs (outcome:price/total): %s", got)
	}
	var sums struct {
		Sums []struct {
			Group string
			Calls int
			Cost  float64
		}
	}
	if err := json.Unmarshal([]byte(sb.must("", "audit", "query", "--sum-cost", "server", "--json").Stdout), &sums); err != nil {
		t.Fatal(err)
	}
	if len(sums.Sums) != 1 || sums.Sums[0].Group != "fake" || sums.Sums[0].Calls != 4 || sums.Sums[0].Cost < 0.2999 || sums.Sums[0].Cost > 0.3001 {
		t.Errorf("cost by server: %+v", sums)
	}
	if got := sb.must("", "audit", "query", "--sum-cost", "identity").Stdout; !strings.Contains(got, "anonymous") || !strings.Contains(got, "0.3000") {
		t.Errorf("cost by identity:\n%s", got)
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
