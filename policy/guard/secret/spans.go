package secret

import (
	"sort"

	"github.com/google/btree"
)

// spanSet answers whether a span overlaps any span added to it. A call's
// text usually holds a few findings, which are scanned; past
// spanScanMax the union of the spans is kept in a B-tree of disjoint
// spans instead, so that a text with many findings (a 1 MiB leaf of
// joined literals or mysql -p flags) costs O(n log n), not O(n²): each
// new finding was checked against every earlier one.
type spanSet struct {
	few  []span
	tree *btree.BTreeG[span]
}

// span is [start, end) of the text; spans are never empty (findings are
// not), so two spans that only touch do not overlap.
type span struct{ start, end int }

// spanScanMax is how many spans are scanned before the set keeps a tree.
const spanScanMax = 32

// newSpanSet returns a set holding the spans of fs.
func newSpanSet(fs []Finding) *spanSet {
	s := &spanSet{}
	for _, f := range fs {
		s.add(f.Start, f.End)
	}
	return s
}

// overlaps reports whether [start, end) overlaps a span of the set.
func (s *spanSet) overlaps(start, end int) bool {
	if s.tree == nil {
		for _, f := range s.few {
			if start < f.end && f.start < end {
				return true
			}
		}
		return false
	}
	// The union's spans are disjoint and ordered: only the last one that
	// starts before end can reach past start.
	hit := false
	s.tree.DescendLessOrEqual(span{start: end - 1}, func(u span) bool {
		hit = u.end > start
		return false
	})
	return hit
}

// add puts [start, end) in the set.
func (s *spanSet) add(start, end int) {
	if start >= end {
		return
	}
	if s.tree == nil {
		if len(s.few) < spanScanMax {
			s.few = append(s.few, span{start, end})
			return
		}
		s.tree = btree.NewG(16, func(a, b span) bool { return a.start < b.start })
		for _, f := range s.few {
			s.merge(f)
		}
		s.few = nil
	}
	s.merge(span{start, end})
}

// merge adds n to the union, joining the spans it overlaps.
func (s *spanSet) merge(n span) {
	var joined []span
	s.tree.DescendLessOrEqual(span{start: n.end - 1}, func(u span) bool {
		if u.end <= n.start {
			return false
		}
		joined = append(joined, u)
		return true
	})
	for _, u := range joined {
		s.tree.Delete(u)
		n.start, n.end = min(n.start, u.start), max(n.end, u.end)
	}
	s.tree.ReplaceOrInsert(n)
}

// jointSums returns the bytes joinLiterals removed before each joint:
// sums[i] for at[:i], so that unjoin finds a span's shift by binary
// search instead of walking every joint for every finding.
func jointSums(at []joint) []int {
	sums := make([]int, len(at)+1)
	for i, j := range at {
		sums[i+1] = sums[i] + j.n
	}
	return sums
}

// unjoin maps a span of the joined text back to s; ok only for a span
// that crosses a joint (the others were found in s itself). at is in
// increasing pos, sums is jointSums(at).
func unjoin(start, end int, at []joint, sums []int) (int, int, bool) {
	before := sort.Search(len(at), func(i int) bool { return at[i].pos > start }) // joints at or before start
	inside := sort.Search(len(at), func(i int) bool { return at[i].pos >= end })  // joints before end
	return start + sums[before], end + sums[inside], inside > before
}
