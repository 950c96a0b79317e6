package catalog

import (
	"fmt"
	"strings"
)

// Match gives a launch to the first server, in file order, whose launch or
// match rules fit it. Two servers that fit the same launches leave the
// second without effect on them — a blocked entry below an approved one
// for the same package blocks nothing — so validation warns about them.

// identityRule is one way a server recognises launches: a package pattern,
// or a URL or command-line glob. Kinds never overlap: Match decides a
// launch by package when it has one, else by URL, else by command line.
type identityRule struct {
	kind string // "package", "url", "command"
	pkg  packagePattern
	glob string
	text string // for messages
}

func (s *Server) identityRules() []identityRule {
	var out []identityRule
	for _, p := range s.packageRules() {
		text := p.eco + ":" + p.name
		if p.version != "" {
			text += "@" + p.version
		}
		out = append(out, identityRule{kind: "package", pkg: p, text: text})
	}
	own := s.launchIdentity()
	if own.URL != "" {
		out = append(out, identityRule{kind: "url", glob: own.URL, text: "url " + own.URL})
	}
	for _, u := range s.Match.URLs {
		out = append(out, identityRule{kind: "url", glob: u, text: "url " + u})
	}
	if own.Ecosystem == "" && own.URL == "" && own.Command != "" {
		line := strings.TrimSpace(own.Command + " " + strings.Join(own.Args, " "))
		out = append(out, identityRule{kind: "command", glob: line, text: "command " + line})
	}
	for _, c := range s.Match.Commands {
		out = append(out, identityRule{kind: "command", glob: c, text: "command " + c})
	}
	return out
}

// overlaps reports whether some launch fits both rules.
func (r identityRule) overlaps(o identityRule) bool {
	if r.kind != o.kind {
		return false
	}
	if r.kind == "package" {
		return r.pkg.eco == o.pkg.eco && r.pkg.name == o.pkg.name &&
			(r.pkg.version == "" || o.pkg.version == "" || globsIntersect(r.pkg.version, o.pkg.version))
	}
	return globsIntersect(r.glob, o.glob)
}

// DuplicateIdentities lists the servers that match launches an earlier
// server already matches, at the later server's line: warnings, not
// errors, since a broad rule above a narrow one can be meant.
func (c *Catalog) DuplicateIdentities() []Problem {
	var out []Problem
	rules := make([][]identityRule, len(c.Servers))
	for i, s := range c.Servers {
		rules[i] = s.identityRules()
	}
	for j, later := range c.Servers {
		for i, first := range c.Servers[:j] {
			if a, b, ok := firstOverlap(rules[i], rules[j]); ok {
				out = append(out, Problem{File: c.File, Line: later.Line, Message: fmt.Sprintf(
					"server %s matches the same launches as server %s (line %d): %s and %s; a launch goes to the first, %s, so %s never applies to it; narrow one of them or remove the duplicate",
					later.ID, first.ID, first.Line, b.text, a.text, first.ID, later.ID)})
			}
		}
	}
	return out
}

func firstOverlap(a, b []identityRule) (identityRule, identityRule, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.overlaps(y) {
				return x, y, true
			}
		}
	}
	return identityRule{}, identityRule{}, false
}

// globsIntersect reports whether some string matches both catalog globs
// (* any run, ? one character): a walk over both patterns at once.
func globsIntersect(p, q string) bool {
	a, b := []rune(p), []rune(q)
	seen := map[[2]int]bool{}
	var walk func(i, j int) bool
	walk = func(i, j int) bool {
		if i == len(a) && j == len(b) {
			return true
		}
		key := [2]int{i, j}
		if seen[key] {
			return false
		}
		seen[key] = true
		switch {
		case i < len(a) && a[i] == '*':
			// The star matches nothing, or takes what q's next element
			// matches (a star in q then matches nothing).
			return walk(i+1, j) || j < len(b) && walk(i, j+1)
		case j < len(b) && b[j] == '*':
			return walk(i, j+1) || i < len(a) && walk(i+1, j)
		case i < len(a) && j < len(b):
			return (a[i] == '?' || b[j] == '?' || a[i] == b[j]) && walk(i+1, j+1)
		}
		return false
	}
	return walk(0, 0)
}
