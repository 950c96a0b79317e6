package guard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// TestOneDetectorWhateverTheBundle guards the bug of two secret detectors:
// scan knew a GitHub token as gh?_ and 30 or more characters, the secrets
// guardrail (gitleaks' rule) as exactly 36, so a 32-character token was a
// critical finding to scan and passed the guardrail; and the audit record
// of one argument read "ghp_****" without guardrails but "[REDACTED:secret]"
// with a secrets guardrail. Now one detector (package secret) serves
// scan, the guardrail and every mask: the same argument is found by both
// and reads alike in the trail and on a launch line whatever the bundle
// holds.
func TestOneDetectorWhateverTheBundle(t *testing.T) {
	const chars = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cD0eF"
	withSecrets := mustSet(t, "[guardrails.secrets]\nmode = \"enforce\"\n")
	without := mustSet(t, "[guardrails.sql]\nmode = \"enforce\"\n")
	for n := 30; n <= 40; n++ {
		tok := "ghp_" + chars[:n]
		text := "deploy with " + tok + " now"

		// scan's plaintext-secret finding and the guardrail agree.
		if m, ok := secret.Detect("", tok); !ok || !m.Strong || m.Kind != "GitHub token" {
			t.Errorf("%d chars: scan's detector: %+v, %v", n, m, ok)
		}
		raw, _ := json.Marshal(map[string]string{"msg": text})
		req := request(t, HookPre, string(raw))
		rs := withSecrets.Run(context.Background(), req)
		found := false
		for _, f := range findingsOf(rs) {
			found = found || f.Rule == secret.RuleGitHub
		}
		if !found {
			t.Errorf("%d chars: the secrets guardrail missed a token scan reports: %+v", n, findingsOf(rs))
		}

		// The record: with a secrets guardrail, without one, and as a
		// record with no guardrails at all (secret.MaskValue, enforce's).
		want, _ := json.Marshal(map[string]string{"msg": secret.MaskValue("msg", text)})
		if !strings.Contains(string(want), "deploy with ghp_**** now") {
			t.Fatalf("%d chars: no-guardrail record %s", n, want)
		}
		if got := withSecrets.RecordCopy(req, rs); string(got) != string(want) {
			t.Errorf("%d chars: record with a secrets guardrail %s, without guardrails %s", n, got, want)
		}
		req2 := request(t, HookPre, string(raw))
		if got := without.RecordCopy(req2, without.Run(context.Background(), req2)); string(got) != string(want) {
			t.Errorf("%d chars: record with another guardrail %s, without guardrails %s", n, got, want)
		}

		// The launch line the shim quotes and records.
		if got := secret.MaskCommandLine([]string{"server", "--token", tok, tok}); got != "server --token ghp_**** ghp_****" {
			t.Errorf("%d chars: launch line %q", n, got)
		}
	}
}
