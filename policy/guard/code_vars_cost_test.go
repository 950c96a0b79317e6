package guard

import (
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
// arguments), resolving them without bounds that stop the work 6,800.
func TestVarResolutionCost(t *testing.T) {
	const n = 64 << 10
	for name, tr := range varTriggers {
		s := strings.Repeat(tr, n/len(tr)+1)
		CheckCode(s)
		got := allocBytes(func() { CheckCode(s) })
		if per := float64(got) / float64(len(s)); per > 64 {
			t.Errorf("%s: %d bytes allocated for %d bytes of text (%.1f per byte), want at most 64 per byte", name, got, len(s), per)
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
