package catalog

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Globs in the catalog: * matches any run of characters (slashes included,
// so URL and command patterns read naturally), ? one character. Everything
// else is literal. Compiled once per pattern.

var globCache sync.Map // pattern → *regexp.Regexp

// CheckURLPattern reports why p cannot be a match.urls rule, or nil.
func CheckURLPattern(p string) error {
	_, err := compileGlob(p)
	return err
}

func compileGlob(pattern string) (*regexp.Regexp, error) {
	if v, ok := globCache.Load(pattern); ok {
		return v.(*regexp.Regexp), nil
	}
	if pattern == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if strings.ContainsAny(pattern, "[]{}") {
		return nil, fmt.Errorf("pattern %q uses [ ] or { }, which catalog globs do not support (use * and ?)", pattern)
	}
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	globCache.Store(pattern, re)
	return re, nil
}

// globMatch reports whether s matches pattern; an invalid pattern matches
// nothing (loading has already rejected it).
func globMatch(pattern, s string) bool {
	re, err := compileGlob(pattern)
	return err == nil && re.MatchString(s)
}
