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
