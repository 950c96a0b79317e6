package enforce

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecordArgumentsMasksSecrets(t *testing.T) {
	in := `{"query":"select 1","password":"hunter2-Xq9zLmP4","nested":{"items":["token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here"]},"url":"postgres://app:s3cr3tP4ss@db:5432/x","n":12345678901234567890}`
	got := string(recordArguments(json.RawMessage(in)))
	for _, secret := range []string{"hunter2-Xq9zLmP4", "abcdefghijklmnopqrstuvwxyz0123456789", "s3cr3tP4ss"} {
		if strings.Contains(got, secret) {
			t.Errorf("secret %q recorded: %s", secret, got)
		}
	}
	for _, kept := range []string{`"query":"select 1"`, `12345678901234567890`, `app:`, `token ghp_`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q lost: %s", kept, got)
		}
	}
	plain := `{"message":"hello"}`
	if got := string(recordArguments(json.RawMessage(plain))); got != plain {
		t.Errorf("clean arguments rewritten: %s", got)
	}
	big := `{"blob":"` + strings.Repeat("a", MaxRecordedArguments) + `"}`
	if got := string(recordArguments(json.RawMessage(big))); !strings.Contains(got, `"_mcpgov_truncated":true`) || len(got) > 200 {
		t.Errorf("oversized arguments recorded as %.200s", got)
	}
}

// TestRecordArgumentsMasksKeys: issue 12 item 8. Without a Decider's copy,
// a token used as an object key was recorded as it was; masked keys stay
// distinct, and clean keys and values are kept.
func TestRecordArgumentsMasksKeys(t *testing.T) {
	gh1 := "ghp_" + strings.Repeat("Ab3dEf6hIj", 4)
	gh2 := "ghp_" + strings.Repeat("Zy9xWv8uTs", 4)
	in := `{"tokens":{"` + gh1 + `":"a","` + gh2 + `":"b"},"https://bot:s3cr3tPass@git.example.com/r":1,"name":"x"}`
	got := string(recordArguments(json.RawMessage(in)))
	for _, secret := range []string{gh1[4:], gh2[4:], "s3cr3tPass"} {
		if strings.Contains(got, secret) {
			t.Errorf("secret %q recorded: %s", secret, got)
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("record is not JSON: %v: %s", err, got)
	}
	tokens, _ := m["tokens"].(map[string]any)
	if len(tokens) != 2 || tokens["ghp_****"] == nil || tokens["ghp_****#2"] == nil {
		t.Errorf("masked keys collide or vanish: %s", got)
	}
	if m["name"] != "x" || m["https://bot:****@git.example.com/r"] == nil {
		t.Errorf("keys lost: %s", got)
	}
}

// BenchmarkRecordArguments is the record's copy of a 1 KB call (the shape
// of policy's BenchmarkPipeline) when no Decider supplies one: what
// callRecord pays per call without guardrails.
func BenchmarkRecordArguments(b *testing.B) {
	args, _ := json.Marshal(map[string]any{
		"query":  "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '7 days' AND o.status IN ('paid','shipped') ORDER BY o.total DESC LIMIT 50",
		"params": []any{"2026-11-01", 50, "paid"},
		"note":   strings.Repeat("Weekly revenue report for the finance team, grouped by region. ", 10),
		"format": "markdown",
	})
	b.ReportAllocs()
	for b.Loop() {
		recordArguments(args)
	}
}
