package guard

import (
	"fmt"
	"strings"
	"testing"
)

// varTriggers are texts on which resolving variables could do much more
// work per byte than the scan itself: a call with many arguments that
// name a variable assigned several times, lists nested deep, and a
// variable assigned nested lists, each repeated.
var varTriggers = map[string]string{
	"many args":    "a = 'x'\na = 'y'\na = 'z'\na = 'w'\nsubprocess.run([" + strings.Repeat("a, ", 120) + "a])\n",
	"deep list":    "a = 'rm'\nsubprocess.run(" + strings.Repeat("[", 190) + "a" + strings.Repeat("]", 190) + ")\n",
	"nested lists": "cmd = [[a, [b, [c]]], [a]]\ncmd = [[b, [a]]]\ncmd = [a, [b]]\ncmd = [[[a]]]\nsubprocess.run(cmd)\n",
}

// TestVarResolutionCost: CheckCode allocates a bounded number of bytes
// per byte of these texts whatever the arguments and nesting: the scan
// without variables allocates 17 per byte of "many args" (its call's 120
// arguments), resolving them without bounds that stop the work 6,800,
// and 7,300 per byte of calls that each differ; with the bounds, 18 and
// 68 (each of the 16 lists is read again as a command line). The limit is twice that: a regression of the kind is a
// hundredfold.
func TestVarResolutionCost(t *testing.T) {
	const n = 64 << 10
	texts := map[string]string{}
	for name, tr := range varTriggers {
		texts[name] = strings.Repeat(tr, n/len(tr)+1)
	}
	// Calls that differ, so that none is judged again from the last.
	var b strings.Builder
	b.WriteString("a = 'x'\na = 'y'\na = 'z'\na = 'w'\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "subprocess.run([n%d, %s a])\n", i, strings.Repeat("a, ", 120))
	}
	texts["distinct calls"] = b.String()
	for name, s := range texts {
		CheckCode(s)
		got := allocBytes(func() { CheckCode(s) })
		per := float64(got) / float64(len(s))
		t.Logf("%s: %.1f bytes allocated per byte of text", name, per)
		if per > 128 {
			t.Errorf("%s: %d bytes allocated for %d bytes of text (%.1f per byte), want at most 128 per byte", name, got, len(s), per)
		}
	}
}

// BenchmarkVarResolution: CheckCode on 1 MiB of each trigger.
func BenchmarkVarResolution(b *testing.B) {
	for name, tr := range varTriggers {
		s := strings.Repeat(tr, (1<<20)/len(tr)+1)
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				CheckCode(s)
			}
		})
	}
}
