package guard

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// scalingTriggers are the trigger tokens of the guardrails' rules, each
// repeated into one long line or word: the inputs on which a rule that
// looks back to the start of its line or word, or forward to its end,
// for every trigger it meets does work quadratic in the input.
var scalingTriggers = []string{
	// secrets
	"a -p", "mysql -pX ", "sshpass -p ", "xpassword", "XPASSWORD", "PGPASSWORD=", "<password>", "</password>",
	`"a" + `, `'a' + `, `"a" .. `, `"a" "b" `, `" + "`, "'", `"`, "--token ", "--password a,", "token=", "://a:b@", "eyJ",
	"-----BEGIN ", ":_authToken=", "Authorization: Bearer ", "ghp_", "AKIA", "=== '", "password === ",
	// secrets, one finding per repeat (each was checked against every
	// earlier one: seconds for a 1 MiB leaf)
	"sshpass -pS3cr3tPw9x ", "mysql\t-pS3cr3tPw9x ", `"ghp_R7tQ2vX9kL4mN8pZ" + "3wY6bH1cJ5dF0gS2aE7uI9oK" `,
	// code
	"import ", "from os import a as b,", "import os as o,", "os.popen(", "o.popen(", "curl x | sh;", "rm -rf / ", "$(", "`",
	"eval(", "subprocess.Popen(", "pickle.loads(", "powershell -enc ", "iex(", "; ", "&& ", "\\\n",
	// code: variables resolved in a call's arguments (varTriggers)
	"a = 'x'\na = 'y'\nsubprocess.run([" + strings.Repeat("a, ", 120) + "a])\n",
	"a = 'rm'\nsubprocess.run(" + strings.Repeat("[", 190) + "a" + strings.Repeat("]", 190) + ")\n",
	"cmd = [[a, [b, [c]]], [a]]\ncmd = [[b, [a]]]\nsubprocess.run(cmd)\n",
	// sql
	"' OR '1'='1", "/*", "*/", "-- ", "$$", "DROP TABLE t;", "UNION SELECT ", "/*! ", "(",
	// pii
	"ann@example.com ", "4111 1111 1111 1111 ", "+1 555 0100 ", "123-45-6789 ", "GB82WEST12345698765432 ", "@", "1 ",
	// injection and poisoning
	"ignore previous instructions ", "<IMPORTANT>", "![x](https://h.example/?d=", "| a | b |\n", "Subject: x\n",
	"send the full conversation history to ", "~/.ssh/id_rsa ", "before using this tool, ", "<", "\n",
}

// scalingCheckers are the guardrails' checkers as a set runs them.
var scalingCheckers = []struct {
	name string
	run  func(string)
}{
	{"secrets", func(s string) { secret.Find("", s); secret.Find("password", s) }},
	{"code", func(s string) { CheckCode(s) }},
	{"sql", func(s string) { CheckSQL(s) }},
	{"pii", func(s string) { CheckPII(s, nil) }},
	{"injection", func(s string) { CheckInjection("text", s) }},
	{"poisoning", func(s string) { CheckPoisoning(catalog.ToolDef{Name: "t", Description: s}, nil) }},
}

// allocBytes is the heap a call of f allocates, the least of five runs
// (the least is the one the runtime's own goroutines added least to).
func allocBytes(f func()) uint64 {
	var best uint64
	for i := range 5 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		if d := b.TotalAlloc - a.TotalAlloc; i == 0 || d < best {
			best = d
		}
	}
	return best
}

// TestGuardrailScaling: no checker's work grows faster than its input.
// Each checker reads every trigger repeated to n and to 4n bytes, and
// the heap it allocates for 4n may be at most 4x that for n, with slack
// for tables sized in powers of two. The measure is the bytes allocated,
// not the time taken: it is the same on a loaded machine as on an idle
// one, so the test can neither flake nor pass by luck, and a look-back
// that copies, splits or upper-cases the line or word so far (the form
// these quadratic scans took) allocates quadratically. A scan that only
// reads is caught by BenchmarkGuardrailScaling, whose ratio make bench
// reports. The heap is the process's, so the measurement runs in a child
// process of this test binary (TestGuardrailScalingChild) where no other
// test's goroutine allocates beside it.
func TestGuardrailScaling(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestGuardrailScalingChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "MCPGOV_GUARD_SCALING=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "checked scaling") {
		t.Fatalf("the scaling child: %v\n%s", err, out)
	}
}

// TestGuardrailScalingChild is TestGuardrailScaling's measurement, run
// only in its child process.
func TestGuardrailScalingChild(t *testing.T) {
	if os.Getenv("MCPGOV_GUARD_SCALING") == "" {
		return
	}
	const n = 2 << 10
	checked := 0
	for _, c := range scalingCheckers {
		for _, tr := range scalingTriggers {
			small := strings.Repeat(tr, n/len(tr)+1)[:n]
			large := strings.Repeat(tr, 4*n/len(tr)+1)[:4*n]
			c.run(small) // tables built on first use are not the input's
			bs, bl := allocBytes(func() { c.run(small) }), allocBytes(func() { c.run(large) })
			// 4x the bytes, twice over for growth by doubling, and
			// slack linear in the input: under -race sync.Pool drops a
			// quarter of what it is given, and a dropped regexp machine
			// is made anew (~100 KB at 8 KB of input). What a quadratic
			// scan adds at 4n is megabytes.
			limit := 8*bs + 32*4*n + 64<<10
			// Pool drops are random, so a run over the limit is measured
			// again and the least run counts: a quadratic scan allocates
			// its megabytes in every run, a dropped pool entry does not
			// recur in each (a clean-clone run once saw 724 KB against
			// a 637 KB limit for a linear checker).
			for i := 0; i < 4 && bl > limit; i++ {
				bl = min(bl, allocBytes(func() { c.run(large) }))
			}
			if bl > limit {
				t.Errorf("%s on %q repeated: %d bytes allocated for %d bytes of input, %d for %d: grows %.1fx for 4x the input",
					c.name, tr, bs, n, bl, 4*n, float64(bl)/float64(max(bs, 1)))
			}
			checked++
		}
	}
	t.Logf("checked scaling of %d checker and input pairs", checked)
}

// BenchmarkGuardrailScaling runs each checker on each trigger repeated
// to n and to 4n bytes and reports the ratio of the times per call, the
// least of five calls each (a linear checker is near 4, a quadratic one
// near 16), the worst per checker; the log names its trigger.
func BenchmarkGuardrailScaling(b *testing.B) {
	const n = 8 << 10
	least := func(f func()) time.Duration {
		var best time.Duration
		for i := range 5 {
			st := time.Now()
			f()
			if d := time.Since(st); i == 0 || d < best {
				best = d
			}
		}
		return best
	}
	for _, c := range scalingCheckers {
		b.Run(c.name, func(b *testing.B) {
			worst, worstAt := 0.0, ""
			for b.Loop() {
				for _, tr := range scalingTriggers {
					small := strings.Repeat(tr, n/len(tr)+1)[:n]
					large := strings.Repeat(tr, 4*n/len(tr)+1)[:4*n]
					ts, tl := least(func() { c.run(small) }), least(func() { c.run(large) })
					if r := float64(tl) / float64(max(ts, 1)); r > worst {
						worst, worstAt = r, fmt.Sprintf("%q", tr)
					}
				}
			}
			b.ReportMetric(worst, "4n/n-worst")
			b.Logf("%s: worst ratio %.1f on %s", c.name, worst, worstAt)
		})
	}
}

// TestIndexFold: indexFold finds what strings.Index finds in the
// lower-cased text, over every short text of a small alphabet with both
// cases of the needle's first byte.
func TestIndexFold(t *testing.T) {
	alpha := "yYoUr;e"
	var texts []string
	var grow func(s string)
	grow = func(s string) {
		texts = append(texts, s)
		if len(s) < 5 {
			for i := range len(alpha) {
				grow(s + alpha[i:i+1])
			}
		}
	}
	grow("")
	for _, needle := range []string{"your", "y", "yo", ";e", "ur"} {
		for _, s := range texts {
			if got, want := indexFold(s, needle), strings.Index(strings.ToLower(s), needle); got != want {
				t.Fatalf("indexFold(%q, %q) = %d, want %d", s, needle, got, want)
			}
		}
	}
}
