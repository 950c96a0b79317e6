package libinjection

import "sync"

// sqlKeywords is built on first use (mcpgov: was a package-level map
// literal, built in package init).
var sqlKeywords = sync.OnceValue(func() map[string]byte {
	// The entries are kept in package-level slices of constant structs
	// (sqli_keywords_*.go, written by resplit), which the linker lays out:
	// nothing is built before the first lookup.
	parts := [][]sqlKeyword{
		sqlKeywords01,
		sqlKeywords02,
		sqlKeywords03,
		sqlKeywords04,
		sqlKeywords05,
		sqlKeywords06,
		sqlKeywords07,
		sqlKeywords08,
		sqlKeywords09,
		sqlKeywords10,
		sqlKeywords11,
		sqlKeywords12,
	}
	n := 0
	for _, part := range parts {
		n += len(part)
	}
	m := make(map[string]byte, n)
	for _, part := range parts {
		for _, e := range part {
			m[e.word] = e.class
		}
	}
	return m
})

// sqlKeyword is an entry of sqlKeywords.
type sqlKeyword struct {
	word  string
	class byte
}
