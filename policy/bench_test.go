package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// benchCall is a 1 KB tools/call and a 2 KB result with emails, a phone
// and an address, the shape of a database tool's answer.
func benchCall() (json.RawMessage, json.RawMessage) {
	args := map[string]any{
		"query":  "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '7 days' AND o.status IN ('paid','shipped') ORDER BY o.total DESC LIMIT 50",
		"params": []any{"2026-11-01", 50, "paid"},
		"note":   strings.Repeat("Weekly revenue report for the finance team, grouped by region. ", 10),
		"format": "markdown",
	}
	a, _ := json.Marshal(args)
	var rows []string
	for i := range 20 {
		rows = append(rows, fmt.Sprintf("| %d | %d.%02d | customer%d@example.com | shipped |", 1000+i, 100+i*7, i, i))
	}
	text := "| id | total | email | status |\n" + strings.Join(rows, "\n") + "\nQuestions: call (415) 555-0132."
	r, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
	return a, r
}

const benchGuardrails = `[defaults]
mode = "enforce"
[guardrails.sql]
[guardrails.secrets]
hooks = ["pre", "post"]
[guardrails.pii]
redact = "token"
[guardrails.code]
[guardrails.injection]
hooks = ["pre", "post"]
`

// runPercentiles times each iteration and reports p50 and p99.
func runPercentiles(b *testing.B, f func()) {
	times := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		f()
		times = append(times, time.Since(t))
	}
	slices.Sort(times)
	if n := len(times); n > 0 {
		b.ReportMetric(float64(times[n/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(times[n*99/100].Nanoseconds())/1e3, "p99-µs")
	}
}

func benchPipeline(b *testing.B, withRego bool) {
	bd := bundle(b, benchGuardrails)
	if !withRego {
		bd = bundleWithoutPolicies(b, bd)
	}
	p, err := Load(bd, Options{NoDecisionCache: true})
	if err != nil {
		b.Fatal(err)
	}
	args, res := benchCall()
	srv := bd.Catalog.Server("everything")
	call := &enforce.Call{Tool: "echo", Arguments: args, Identity: engineer, Session: "s1"}
	ctx := context.Background()
	runPercentiles(b, func() {
		d, err := p.Decide(ctx, srv, call)
		if err != nil || !d.Allow {
			b.Fatalf("%+v %v", d, err)
		}
		rd, err := p.FilterResult(ctx, srv, call, res)
		if err != nil || rd.Redactions == 0 {
			b.Fatalf("%+v %v", rd, err)
		}
	})
}

func bundleWithoutPolicies(b testing.TB, bd *catalog.Bundle) *catalog.Bundle {
	files, _ := PolicyFiles(bd.Dir, true)
	for _, f := range files {
		if err := removeFile(f); err != nil {
			b.Fatal(err)
		}
	}
	return bd
}

// BenchmarkPipeline is the whole pre+post pipeline without Rego: every
// guardrail in enforce mode on a 1 KB call and its 2 KB result, with
// redaction.
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, false) }

// BenchmarkPipelineRego adds the starter Rego policy.
func BenchmarkPipelineRego(b *testing.B) { benchPipeline(b, true) }

// BenchmarkRegoDecision is one starter-policy decision alone, evaluated
// (the decision cache off).
func BenchmarkRegoDecision(b *testing.B) { benchRego(b, false) }

// BenchmarkRegoDecisionCached is the same call repeated with the decision
// cache on: what a session calling one tool again pays.
func BenchmarkRegoDecisionCached(b *testing.B) { benchRego(b, true) }

// BenchmarkRegoDecisionSession is a session's calls with the cache on:
// its facts change on every call (the call counter) while what the
// starter policy reads of them (taint) does not.
func BenchmarkRegoDecisionSession(b *testing.B) {
	bd := bundle(b, "")
	p, err := Load(bd, Options{})
	if err != nil {
		b.Fatal(err)
	}
	args, _ := benchCall()
	srv := bd.Catalog.Server("everything")
	ctx := context.Background()
	n := 0
	runPercentiles(b, func() {
		n++
		call := &enforce.Call{Tool: "echo", Arguments: args, Identity: engineer, Facts: &enforce.FactsView{Calls: n, Servers: []string{"everything"}, Tools: []string{"everything/echo"}}}
		if d, err := p.Decide(ctx, srv, call); err != nil || !d.Allow {
			b.Fatalf("%+v %v", d, err)
		}
	})
}

func benchRego(b *testing.B, cache bool) {
	bd := bundle(b, "")
	p, err := Load(bd, Options{NoDecisionCache: !cache})
	if err != nil {
		b.Fatal(err)
	}
	args, _ := benchCall()
	srv := bd.Catalog.Server("everything")
	call := &enforce.Call{Tool: "echo", Arguments: args, Identity: engineer}
	ctx := context.Background()
	runPercentiles(b, func() {
		if d, err := p.Decide(ctx, srv, call); err != nil || !d.Allow {
			b.Fatalf("%+v %v", d, err)
		}
	})
}

// BenchmarkDecodeOnly is the same-run baseline: decoding the call's
// arguments and its result once, which any relay that looks inside does.
func BenchmarkDecodeOnly(b *testing.B) {
	args, res := benchCall()
	runPercentiles(b, func() {
		var a, r any
		if json.Unmarshal(args, &a) != nil || json.Unmarshal(res, &r) != nil {
			b.Fatal("decode")
		}
	})
}
