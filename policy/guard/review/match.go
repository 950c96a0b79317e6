package review

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// The matching engine behind the phrase rules. One Aho–Corasick pass over a
// text finds every literal any rule cares about (its anchors, the words it
// requires, the literals its matches can start with); a rule's regular
// expression then runs only where its literals say a match can begin, and
// only inside the sentence there. A clean 1 KB description costs one pass
// and a handful of short anchored attempts.

// compiled is what prepareRules derives from a phraseRule.
type compiled struct {
	anchorIDs  []int32
	requireIDs []int32
	// startWord[id] is 1 for a literal a match can start with, 2 when a \b
	// must precede it; nil when the starts are unknown and re scans the
	// whole sentence.
	startWord []int8
	anchored  *regexp.Regexp // re anchored at the start of its input
}

// ruleLiterals is the automaton over every literal of every rule.
var ruleLiterals *acMatcher

// prepareRules compiles the rule table: literal ids for the prefilter and,
// where the literals a match starts with are known, an anchored expression.
func prepareRules(rules []phraseRule) []phraseRule {
	ids := map[string]int32{}
	var lits []string
	id := func(lit string) int32 {
		if i, ok := ids[lit]; ok {
			return i
		}
		ids[lit] = int32(len(lits))
		lits = append(lits, lit)
		return ids[lit]
	}
	type startInfo struct {
		id   int32
		word bool
	}
	starts := make([][]startInfo, len(rules))
	for i := range rules {
		p := &rules[i]
		for _, a := range p.anchors {
			p.anchorIDs = append(p.anchorIDs, id(a))
		}
		for _, a := range p.requires {
			p.requireIDs = append(p.requireIDs, id(a))
		}
		re, err := syntax.Parse(p.re.String(), syntax.Perl)
		if err != nil {
			panic(err) // it compiled once already
		}
		for _, st := range firstLiterals(re.Simplify(), false) {
			starts[i] = append(starts[i], startInfo{id(st.lit), st.word})
		}
	}
	for i := range rules {
		p := &rules[i]
		if starts[i] == nil {
			continue
		}
		p.startWord = make([]int8, len(lits))
		for _, st := range starts[i] {
			w := int8(1)
			if st.word {
				w = 2
			}
			p.startWord[st.id] = max(p.startWord[st.id], w)
		}
		// A leading \b is checked against the byte before the match; the
		// anchored expression sees it at the start of its input, where it
		// holds for any word character.
		p.anchored = regexp.MustCompile(`^(?:` + p.re.String() + `)`)
	}
	ruleLiterals = newACMatcher(lits)
	return rules
}

// startLit is a literal a match can start with; word says a \b precedes it.
type startLit struct {
	lit  string
	word bool
}

// firstLiterals returns the literals every match of re starts with, or nil
// when re can start with anything else (a class, an optional part, ^).
func firstLiterals(re *syntax.Regexp, word bool) []startLit {
	const maxStarts = 64
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 || len(re.Rune) == 0 {
			return nil
		}
		return []startLit{{string(re.Rune), word}}
	case syntax.OpCapture:
		return firstLiterals(re.Sub[0], word)
	case syntax.OpConcat:
		subs := re.Sub
		for len(subs) > 0 && subs[0].Op == syntax.OpWordBoundary {
			word, subs = true, subs[1:]
		}
		if len(subs) == 0 {
			return nil
		}
		head := firstLiterals(subs[0], word)
		if head == nil || len(subs) < 2 || subs[0].Op != syntax.OpLiteral {
			return head
		}
		// "overrid" + (e|ing|…): longer literals make fewer candidates.
		tail := firstLiterals(subs[1], false)
		if tail == nil || len(head)*len(tail) > maxStarts {
			return head
		}
		var out []startLit
		for _, h := range head {
			for _, t := range tail {
				out = append(out, startLit{h.lit + t.lit, h.word})
			}
		}
		return out
	case syntax.OpAlternate:
		var out []startLit
		for _, sub := range re.Sub {
			l := firstLiterals(sub, word)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	}
	return nil
}

// litHit is one occurrence of a literal.
type litHit struct {
	id    int32
	start int32
}

// bitset over literal ids.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(i int32)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) anyOf(ids []int32) bool {
	for _, i := range ids {
		if b.has(i) {
			return true
		}
	}
	return false
}

func (p *phraseRule) candidate(b bitset) bool {
	return b.anyOf(p.anchorIDs) && (p.requireIDs == nil || b.anyOf(p.requireIDs))
}

// phrases runs the phrase rules and the other-server tool mentions over one
// normalised text. prefix marks findings in text decoded from hidden
// characters.
func (r *reviewer) phrases(field string, sc scanned, prefix string) {
	norm := sc.norm
	rules := phraseRules() // sets ruleLiterals
	nlits := len(ruleLiterals.lits)
	whole := newBitset(nlits)
	hits := r.hits[:0]
	ruleLiterals.scan(norm, func(id int32, end int) {
		whole.set(id)
		hits = append(hits, litHit{id, int32(end - len(ruleLiterals.lits[id]))})
	})
	r.hits = hits

	var segs [][2]int
	var segBits []bitset
	segOf := func(pos int) int {
		return sort2Search(segs, pos)
	}
	for i := range rules {
		p := &rules[i]
		if !p.candidate(whole) || p.toolsOnly && field == "instructions" {
			continue
		}
		if segs == nil {
			segs = segments(norm)
			segBits = make([]bitset, len(segs))
			for k := range segBits {
				segBits[k] = newBitset(nlits)
			}
			for _, h := range hits {
				segBits[segOf(int(h.start))].set(h.id)
			}
		}
		if p.anchored == nil {
			for k, sg := range segs {
				if !p.candidate(segBits[k]) {
					continue
				}
				for _, m := range p.re.FindAllStringSubmatchIndex(norm[sg[0]:sg[1]], reviewMaxPerRule) {
					shift(m, sg[0])
					r.phraseMatch(p, field, sc, prefix, m)
				}
			}
			continue
		}
		var starts []int
		for _, h := range hits {
			w := p.startWord[h.id]
			if w == 0 || (w == 2 && h.start > 0 && isWordByte(norm[h.start-1])) {
				continue
			}
			starts = append(starts, int(h.start))
		}
		slices.Sort(starts)
		end, n := -1, 0
		for j, at := range starts {
			if at < end || (j > 0 && at == starts[j-1]) {
				continue
			}
			k := segOf(at)
			if !p.candidate(segBits[k]) {
				continue
			}
			m := p.anchored.FindStringSubmatchIndex(norm[at:segs[k][1]])
			if m == nil {
				continue
			}
			shift(m, at)
			r.phraseMatch(p, field, sc, prefix, m)
			end = max(m[1], at+1)
			if n++; n == reviewMaxPerRule {
				break
			}
		}
	}
	r.mentions(field, sc, prefix)
}

func shift(m []int, by int) {
	for j := range m {
		if m[j] >= 0 {
			m[j] += by
		}
	}
}

// sort2Search returns the index of the segment containing pos.
func sort2Search(segs [][2]int, pos int) int {
	lo, hi := 0, len(segs)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if segs[mid][0] <= pos {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (r *reviewer) phraseMatch(p *phraseRule, field string, sc scanned, prefix string, m []int) {
	sev, ok := p.sev, true
	if p.refine != nil {
		sev, ok = p.refine(r, sc, m)
	}
	if !ok {
		return
	}
	msg := p.msg
	if alt, ok := p.msgs[sev]; ok {
		msg = alt
	}
	r.add(Finding{
		Rule:     p.rule,
		Severity: sev,
		Message:  prefix + msg,
		Field:    field,
		Evidence: sc.evidence(m[0], m[1]),
	})
}

// segmentMax bounds one segment, so text without sentence ends (a minified
// blob) still runs the rules on short inputs.
const segmentMax = 1024

// segments splits text into sentences: after ". ", "! ", "? " and line
// breaks, and at a space before segmentMax bytes. A period not followed by a
// space (a path, a version, a domain) does not end a sentence.
func segments(s string) [][2]int {
	var out [][2]int
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		end := -1
		switch {
		case c == '\n':
			end = i + 1
		case (c == '.' || c == '!' || c == '?') && i+1 < len(s) && s[i+1] == ' ':
			end = i + 1
		case i-start >= segmentMax:
			if j := strings.LastIndexByte(s[start:i], ' '); j > segmentMax/2 {
				end = start + j + 1
			} else {
				end = i
			}
		}
		if end > start {
			out = append(out, [2]int{start, end})
			start = end
		}
	}
	if start < len(s) || len(out) == 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}

// acMatcher is an Aho–Corasick automaton compiled to a dense DFA over byte
// classes (the bytes that occur in some literal, plus "other").
type acMatcher struct {
	lits    []string
	class   [256]uint8
	nclass  int
	delta   []int32   // state*nclass + class → state
	outputs [][]int32 // literal ids that end in each state
}

func newACMatcher(lits []string) *acMatcher {
	m := &acMatcher{lits: lits, nclass: 1}
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if m.class[l[i]] == 0 {
				m.class[l[i]] = uint8(m.nclass)
				m.nclass++
			}
		}
	}
	if m.nclass > 255 {
		panic("acMatcher: too many byte classes")
	}
	// Trie.
	next := [][]int32{make([]int32, m.nclass)}
	m.outputs = [][]int32{nil}
	for id, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := m.class[l[i]]
			if next[s][c] == 0 {
				next = append(next, make([]int32, m.nclass))
				m.outputs = append(m.outputs, nil)
				next[s][c] = int32(len(next) - 1)
			}
			s = next[s][c]
		}
		m.outputs[s] = append(m.outputs[s], int32(id))
	}
	// Failure links, breadth first, folded into a full transition table.
	fail := make([]int32, len(next))
	m.delta = make([]int32, len(next)*m.nclass)
	queue := []int32{}
	for c := 0; c < m.nclass; c++ {
		if v := next[0][c]; v != 0 {
			queue = append(queue, v)
			m.delta[c] = v
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for c := 0; c < m.nclass; c++ {
			v := next[u][c]
			if v == 0 {
				m.delta[int(u)*m.nclass+c] = m.delta[int(fail[u])*m.nclass+c]
				continue
			}
			fail[v] = m.delta[int(fail[u])*m.nclass+c]
			m.outputs[v] = append(m.outputs[v], m.outputs[fail[v]]...)
			m.delta[int(u)*m.nclass+c] = v
			queue = append(queue, v)
		}
	}
	return m
}

// scan reports every occurrence of every literal in s by id and end offset.
func (m *acMatcher) scan(s string, hit func(id int32, end int)) {
	state := int32(0)
	for i := 0; i < len(s); i++ {
		state = m.delta[int(state)*m.nclass+int(m.class[s[i]])]
		for _, id := range m.outputs[state] {
			hit(id, i+1)
		}
	}
}
