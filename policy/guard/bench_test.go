package guard

import (
	"context"
	"testing"
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
