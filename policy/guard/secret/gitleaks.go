package secret

//go:generate go run gen_gitleaks.go -version v8.30.1 -o gitleaks_rules.go

import (
	"regexp"
	"strings"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// glRule is one rule of gitleaks' default ruleset, as the generated table
// (gitleaks_rules.go) holds it.
type glRule struct {
	id          string
	keywords    []string
	regex       string
	entropy     float64
	secretGroup int
	allow       []glAllow

	once sync.Once
	re   *regexp.Regexp
}

// glAllow is one allowlist of a rule, or the global one: a finding is
// allowed when a regex matches its target (the secret, the match or the
// line) or the secret holds a stopword — both, when and is set.
type glAllow struct {
	regexes   []string
	target    string
	stopwords []string
	and       bool

	once sync.Once
	res  []*regexp.Regexp
}

// The rules are compiled when first needed: most calls never reach most
// rules, and compiling all of them would cost every process start
// milliseconds.
func (r *glRule) compiled() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.regex) })
	return r.re
}

func (a *glAllow) allows(secret, match, line string) bool {
	return a.allowsStop(secret, match, line, true)
}

// allowsStop is allows, with the stopwords checked only when stop is set.
func (a *glAllow) allowsStop(secret, match, line string, stop bool) bool {
	a.once.Do(func() {
		for _, s := range a.regexes {
			a.res = append(a.res, regexp.MustCompile(s))
		}
	})
	target := secret
	switch a.target {
	case "match":
		target = match
	case "line":
		target = line
	}
	re := false
	for _, x := range a.res {
		if x.MatchString(target) {
			re = true
			break
		}
	}
	sw := false
	if stop && len(a.stopwords) > 0 {
		low := strings.ToLower(secret)
		for _, w := range a.stopwords {
			if strings.Contains(low, w) {
				sw = true
				break
			}
		}
	}
	if a.and {
		return (len(a.res) == 0 || re) && (len(a.stopwords) == 0 || sw) && (stop || len(a.res) > 0)
	}
	return re || sw
}

// glKeywordIndex is one Aho-Corasick automaton over every rule's keywords
// (lower case, as gitleaks matches them) and, per keyword's index, its
// rules. It is built on first use: a process that never checks a secret
// (most commands, a shim without guardrails) does not pay its 3 MB and
// milliseconds at start.
var glKeywordIndex = sync.OnceValues(func() (*ahocorasick.Trie, [][]int) {
	idx := map[string]int{}
	var kws []string
	var rules [][]int
	for i := range gitleaksRules {
		for _, k := range gitleaksRules[i].keywords {
			k = strings.ToLower(k)
			j, ok := idx[k]
			if !ok {
				j = len(kws)
				idx[k] = j
				kws = append(kws, k)
				rules = append(rules, nil)
			}
			rules[j] = append(rules[j], i)
		}
	}
	return ahocorasick.NewTrieBuilder().AddStrings(kws).Build(), rules
})

// glWindow bounds the text a triggered rule's regex runs on, on each side
// of its keyword: gitleaks runs it over the whole file, which costs
// milliseconds per KB for its longer patterns.
const glWindow = 320

var lowerPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// gitleaksFindings runs the rules whose keywords occur in s, each on a
// window around its first keyword hit, with gitleaks' entropy and
// allowlist checks.
func gitleaksFindings(s string) []Finding {
	bp := lowerPool.Get().(*[]byte)
	low := appendLower((*bp)[:0], s)
	type hit struct{ rule, at int }
	var hits []hit
	var seen map[int]bool
	glKeywords, glKeywordRules := glKeywordIndex()
	glKeywords.Walk(low, func(end, n, pattern int64) bool {
		for _, ri := range glKeywordRules[pattern] {
			if seen[ri] {
				continue
			}
			if seen == nil {
				seen = map[int]bool{}
			}
			seen[ri] = true
			hits = append(hits, hit{ri, int(end - n + 1)})
		}
		return true
	})
	*bp = low
	lowerPool.Put(bp)
	var out []Finding
	for _, h := range hits {
		r := &gitleaksRules[h.rule]
		lo, hi := max(0, h.at-glWindow), min(len(s), h.at+glWindow)
		if lo > 0 {
			if nl := strings.LastIndexByte(s[lo:h.at], '\n'); nl >= 0 && h.at-lo-nl > 64 {
				lo += nl + 1 // start the window at a line start when one is near
			}
		}
		win := s[lo:hi]
		re := r.compiled()
		for _, m := range re.FindAllStringSubmatchIndex(win, 8) {
			match := win[m[0]:m[1]]
			secret, ss, se := match, m[0], m[1]
			if len(m) >= 4 {
				g := r.secretGroup
				if g == 0 {
					for k := 1; k < len(m)/2; k++ {
						if m[2*k] >= 0 && m[2*k+1] > m[2*k] {
							g = k
							break
						}
					}
				}
				if g > 0 && 2*g+1 < len(m) && m[2*g] >= 0 {
					secret, ss, se = win[m[2*g]:m[2*g+1]], m[2*g], m[2*g+1]
				}
			}
			if r.entropy > 0 && entropy(secret) <= r.entropy || dummyValue(secret) {
				continue
			}
			line := lineAround(win, m[0], m[1])
			if gitleaksGlobalAllow.allows(secret, match, line) || anyAllows(r.allow, secret, match, line) {
				continue
			}
			id, what := "secrets.gitleaks."+r.id, r.id+" (gitleaks rule)"
			if m, ok := gitleaksRuleIDs[r.id]; ok {
				id, what = m, secretWhat[m]
			}
			out = append(out, Finding{id, what, lo + ss, lo + se})
		}
	}
	return out
}

// appendLower appends s lower-cased (ASCII) to b.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		b = append(b, c)
	}
	return b
}

func anyAllows(as []glAllow, secret, match, line string) bool {
	for i := range as {
		if as[i].allows(secret, match, line) {
			return true
		}
	}
	return false
}

// lineAround is the line of s around s[a:b], at most maxLineAround
// bytes either side of it: an allowlist reads the words near a match,
// and a bound keeps one long line with many matches linear.
func lineAround(s string, a, b int) string {
	lo, hi := max(0, a-maxLineAround), min(len(s), b+maxLineAround)
	ls := strings.LastIndexByte(s[lo:a], '\n') + 1 + lo
	le := strings.IndexByte(s[b:hi], '\n')
	if le < 0 {
		return s[ls:hi]
	}
	return s[ls : b+le]
}

const maxLineAround = 1024
