package enforce

import (
	"encoding/json"
	"testing"
)

// TestRecordWithoutGuardrailsMasksLikeGuard is the no-guardrail half of
// guard's TestOneDetectorWhateverTheBundle: a GitHub token of any length
// scan reports reads "ghp_****" in a record without guardrails, as it does
// in guard.Set.RecordCopy with a secrets guardrail (the bug: 36 characters
// and more read "[REDACTED:secret]" there).
func TestRecordWithoutGuardrailsMasksLikeGuard(t *testing.T) {
	const chars = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cD0eF"
	for n := 30; n <= 40; n++ {
		in, _ := json.Marshal(map[string]string{"msg": "deploy with ghp_" + chars[:n] + " now"})
		want, _ := json.Marshal(map[string]string{"msg": "deploy with ghp_**** now"})
		if got := recordArguments(in); string(got) != string(want) {
			t.Errorf("%d chars: recorded %s, want %s", n, got, want)
		}
	}
}
