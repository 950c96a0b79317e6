package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
)

// TestLines: every record that blocks, or would have, is one warning line;
// allowed calls are none; a record the store could not keep is reported
// by the lines with the store's error.
func TestLines(t *testing.T) {
	ctx := context.Background()
	var out strings.Builder
	lines := &Lines{W: &out}
	srv := approved()
	srv.Pins = map[string]string{"echo": "sha256:00"}
	core := New(Config{Server: srv, VersionApproved: true, Sink: lines})
	core.FilterTools(ctx, json.RawMessage(`{"tools":[{"name":"echo"},{"name":"rm"}]}`))
	core.FilterTools(ctx, json.RawMessage(`{"tools":[{"name":"echo"},{"name":"rm"}]}`)) // no new lines
	core.CheckCall(ctx, json.RawMessage(`{"name":"rm_rf"}`))
	st, _ := core.BeginCall(ctx, json.RawMessage(`{"name":"read"}`))
	core.FinishCall(ctx, st, json.RawMessage(`{"content":[]}`), nil)

	want := []string{
		"mcpgov: warning: hid tool echo: tool echo drifted from its pin: definition sha256:",
		"mcpgov: warning: hid tool rm: tool rm is not allowed by the catalog entry s",
		"mcpgov: warning: blocked tools/call rm_rf: tool rm_rf is not allowed by the catalog entry s",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("lines:\n%s", out.String())
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want prefix %q", i, got[i], want[i])
		}
	}

	out.Reset()
	auditing := New(Config{Mode: catalog.ModeAudit, Launch: "npx x", Sink: Tee{Store: &memAuditor{fail: errors.New("disk full")}, Lines: lines}})
	auditing.Admit(ctx)
	if want := "mcpgov: warning: audit mode: would have blocked the server: MCP server \"npx x\" is not in the catalog\nmcpgov: warning: audit record not stored: disk full\n"; out.String() != want {
		t.Errorf("audit mode:\n%s\nwant\n%s", out.String(), want)
	}
}
