package guard

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkGuardrail runs each guardrail alone, enforced in the pre hook,
// on the 1 KB call of BenchmarkPreHook (decoded each time, as the shim
// does) and reports µs per KB of arguments. "none" is the same-run
// baseline: the decode and an empty set. The poisoning guardrail reads
// tool descriptions in tools/list answers, not call arguments, so it is
// not among them.
func BenchmarkGuardrail(b *testing.B) {
	for _, kind := range []string{"none", "sql", "secrets", "pii", "code", "injection"} {
		b.Run(kind, func(b *testing.B) {
			cfg := "[defaults]\nmode = \"enforce\"\n"
			if kind != "none" {
				cfg += "[guardrails." + kind + "]\nhooks = [\"pre\"]\n"
			}
			s := mustSet(b, cfg)
			args := benchArgs()
			ctx := context.Background()
			b.SetBytes(int64(len(args)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := Decode(args, DefaultMaxScanBytes)
				if err != nil {
					b.Fatal(err)
				}
				s.Run(ctx, &Request{Hook: HookPre, Server: "db", Tool: "query", Payload: p})
			}
			perKB := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1e3 / (float64(len(args)) / 1024)
			b.ReportMetric(perKB, "µs/KB")
		})
	}
}

// BenchmarkGuardFirstCall measures what the first guarded call of a
// process pays: each iteration starts this test binary afresh
// (TestGuardFirstCallChild), which builds a set with every call
// guardrail enforced in the pre hook and times its first and its second
// call on the 1 KB arguments of BenchmarkGuardrail. Tables and patterns
// built on first use are paid in the first call, or by the warm-up NewSet
// starts. "at-once" calls right after NewSet, racing the warm-up (the
// worst case); "after-warm-up" calls once it is done, as the shim's first
// call comes after its server started and answered initialize. It
// reports the medians, in µs; the second call is the steady state.
func BenchmarkGuardFirstCall(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, when := range []string{"at-once", "after-warm-up"} {
		b.Run(when, func(b *testing.B) { benchFirstCall(b, exe, when) })
	}
}

func benchFirstCall(b *testing.B, exe, when string) {
	var first, second []float64
	for b.Loop() {
		cmd := exec.Command(exe, "-test.run=^TestGuardFirstCallChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MCPGOV_GUARD_FIRST_CALL="+when)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var f, s float64
		line := out
		if i := bytes.Index(out, []byte("first-call-ns=")); i >= 0 {
			line = out[i:]
		}
		if _, err := fmt.Sscanf(string(line), "first-call-ns=%g second-call-ns=%g", &f, &s); err != nil {
			b.Fatalf("child printed no timing (%v):\n%s", err, out)
		}
		first = append(first, f/1e3)
		second = append(second, s/1e3)
	}
	b.ReportMetric(median(first), "first-call-µs")
	b.ReportMetric(median(second), "second-call-µs")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestGuardFirstCallChild is BenchmarkGuardFirstCall's child process; run
// on its own it does nothing.
func TestGuardFirstCallChild(t *testing.T) {
	when := os.Getenv("MCPGOV_GUARD_FIRST_CALL")
	if when == "" {
		return
	}
	cfg := "[defaults]\nmode = \"enforce\"\n"
	for _, kind := range []string{"sql", "secrets", "pii", "code", "injection"} {
		cfg += "[guardrails." + kind + "]\nhooks = [\"pre\"]\n"
	}
	s := mustSet(t, cfg)
	if when == "after-warm-up" {
		warmWG.Wait()
	}
	args := benchArgs()
	ctx := context.Background()
	call := func() time.Duration {
		start := time.Now()
		p, err := Decode(args, DefaultMaxScanBytes)
		if err != nil {
			t.Fatal(err)
		}
		s.Run(ctx, &Request{Hook: HookPre, Server: "db", Tool: "query", Payload: p})
		return time.Since(start)
	}
	f := call()
	sec := call()
	fmt.Printf("first-call-ns=%d second-call-ns=%d\n", f.Nanoseconds(), sec.Nanoseconds())
}
