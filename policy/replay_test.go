package policy

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
)

// TestReplayWithoutArguments: a call whose arguments the logging mode
// kept out cannot be re-decided by a candidate whose guardrails read
// them, and the report says so; one re-decided on masked arguments is
// marked approximate.
func TestReplayWithoutArguments(t *testing.T) {
	b := bundle(t, "[guardrails.sql]\nmode = \"enforce\"\nhooks = [\"pre\"]\n")
	r, err := NewReplayer(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := audit.Record{Seq: 1, Method: "tools/call", Server: audit.ServerRef{ID: "everything"}, Tool: "echo",
		Decision: audit.Decision{Allow: true}, Outcome: audit.OutcomeAllowed}
	placeholder := base
	placeholder.Kind, placeholder.SuppressedKind = audit.KindPlaceholder, audit.KindToolCall
	masked := base
	masked.Seq, masked.Kind = 2, audit.KindToolCall
	masked.Arguments, masked.ArgumentsKept = json.RawMessage(`{"sql":"DROP TABLE t"}`), "masked"
	for _, rec := range []audit.Record{placeholder, masked} {
		if err := r.Add(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	rep := r.Report()
	if rep.Calls != 2 || rep.Redecided != 1 || rep.Changes[ChangeUndecidable] != 1 || rep.Changes[ChangeNewlyDenied] != 1 {
		t.Fatalf("report %+v", rep)
	}
	for _, g := range rep.Groups {
		switch g.Change {
		case ChangeUndecidable:
			if g.Seqs[0] != 1 || g.Reason == "" {
				t.Errorf("undecidable group %+v", g)
			}
		case ChangeNewlyDenied:
			if g.Approximate != 1 || g.Seqs[0] != 2 {
				t.Errorf("newly denied group %+v: want the masked call, approximate", g)
			}
		}
	}
}
