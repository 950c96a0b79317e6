package main

import (
	"os"
	"path/filepath"
	"reflect"
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
	bundle := writeGuardedBundle(t)
	servers := [][]string{{"fake-mcp-server"}}
	if ok, err := haveProgram("mcp-server-everything"); err != nil {
		t.Fatal(err)
	} else if ok {
		servers = append(servers, []string{"mcp-server-everything", "stdio"})
	} else {
		t.Log("mcp-server-everything is not installed; make test installs it into .cache/npm")
	}
	for _, srv := range servers {
		t.Run(srv[0], func(t *testing.T) {
			direct := observe(t, connect(t, srv[0], srv[1:]...))
			cmd, args := viaShim(bundle, srv[0], srv[1:]...)
			guarded := observe(t, connect(t, cmd, args...))
			if !reflect.DeepEqual(direct, guarded) {
				for k := range direct {
					if direct[k] != guarded[k] {
						t.Errorf("%s differs:\n direct  %s\n guarded %s", k, direct[k], guarded[k])
					}
				}
				t.Fatalf("observations differ (%d direct, %d guarded)", len(direct), len(guarded))
			}
		})
	}
}

// BenchmarkShimEchoGuarded is BenchmarkShimEcho with the starter policies
// and every guardrail enforced (make bench: ShimEchoGuarded:ShimEcho).
func BenchmarkShimEchoGuarded(b *testing.B) {
	cmd, args := viaShim(writeGuardedBundle(b), "fake-mcp-server")
	benchEcho(b, cmd, args...)
}
