package secret

import (
	"math/rand/v2"
	"testing"
)

// TestSpanSetMatchesScan: the set answers as a scan of every span added
// does, below and past spanScanMax, for random spans that overlap,
// touch, nest and repeat.
func TestSpanSetMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var set spanSet
		var all []span
		limit := 1 + r.IntN(400)
		for range 1 + r.IntN(3*spanScanMax) {
			a := r.IntN(limit)
			b := a + 1 + r.IntN(1+limit/8)
			want := false
			for _, u := range all {
				if a < u.end && u.start < b {
					want = true
				}
			}
			if got := set.overlaps(a, b); got != want {
				t.Fatalf("round %d: overlaps(%d, %d) = %v with %d spans %v, want %v", round, a, b, got, len(all), all, want)
			}
			if r.IntN(2) == 0 {
				set.add(a, b)
				all = append(all, span{a, b})
			}
		}
		if len(all) > spanScanMax && set.tree == nil {
			t.Fatalf("round %d: %d spans are still scanned", round, len(all))
		}
	}
}

// TestUnjoinMatchesWalk: unjoin's binary search gives what walking every
// joint gives.
func TestUnjoinMatchesWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		var at []joint
		pos := 0
		for range r.IntN(12) {
			pos += r.IntN(6)
			at = append(at, joint{pos, 1 + r.IntN(9)})
		}
		sums := jointSums(at)
		start := r.IntN(pos + 5)
		end := start + 1 + r.IntN(10)
		shift, es, crossed := 0, end, false
		for _, j := range at {
			if j.pos <= start {
				shift += j.n
			} else if j.pos < end {
				crossed = true
			}
			if j.pos < end {
				es += j.n
			}
		}
		gs, ge, gc := unjoin(start, end, at, sums)
		if gs != start+shift || ge != es || gc != crossed {
			t.Fatalf("unjoin(%d, %d, %v) = %d, %d, %v, want %d, %d, %v", start, end, at, gs, ge, gc, start+shift, es, crossed)
		}
	}
}
