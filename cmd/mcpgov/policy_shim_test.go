package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
)

// guardedGuardrails turns every guardrail kind on, in enforce mode.
const guardedGuardrails = `[defaults]
mode = "enforce"
[guardrails.sql]
[guardrails.secrets]
hooks = ["pre", "post"]
[guardrails.pii]
redact = "token"
[guardrails.code]
[guardrails.injection]
hooks = ["pre", "post"]
[guardrails.poisoning]
`

// writeGuardedBundle is writeBundle's catalog with the starter policies
// and every guardrail enforced.
func writeGuardedBundle(tb testing.TB) string {
	tb.Helper()
	dir := writeBundle(tb)
	tmp := tb.TempDir()
	if _, err := catalog.WriteStarter(tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "policies"), filepath.Join(dir, "policies")); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte(guardedGuardrails), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestPolicyShimParity: benign traffic through the full pipeline (starter
// policies, every guardrail enforced) reaches a go-sdk client exactly as it
// does directly; the guardrails change nothing they have no reason to.
func TestPolicyShimParity(t *testing.T) {
	assertParity(t, writeGuardedBundle(t))
}

// BenchmarkShimEchoGuarded is BenchmarkShimEcho with the starter policies
// and every guardrail enforced (make bench: ShimEchoGuarded:ShimEcho).
func BenchmarkShimEchoGuarded(b *testing.B) {
	cmd, args := viaShim(writeGuardedBundle(b), "fake-mcp-server")
	benchEcho(b, cmd, args...)
}
