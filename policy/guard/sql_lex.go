package guard

import "strings"

// A small dialect-agnostic SQL lexer (MySQL and Postgres quoting): enough
// to find statements, keywords, literals and comments without a grammar.

// sqlTok kinds.
const (
	tWord = iota
	tNum
	tStr // '…', E'…', $$…$$
	tIdent
	tPunct
)

type sqlTok struct {
	kind  int
	text  string // upper-cased for words; the literal's content for strings
	depth int
}

type sqlLex struct {
	toks         []sqlTok
	comments     int
	execComment  bool // MySQL /*! … */
	commentAfter bool // a -- or # comment right after a string literal
	unterminated bool
	// trailing is the text of a comment after the last token ("" and
	// trailingAt -1 when the text ends in a token).
	trailing   string
	trailingAt int
	depth      int // parenthesis depth at the end
}

// lexSQL tokenises s dialect-agnostically (MySQL and Postgres quoting).
func lexSQL(s string) sqlLex {
	lx := sqlLex{trailingAt: -1}
	depth := 0
	lastStr := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#' && (i+1 == len(s) || !isWordChar(s[i+1]) || lastStr):
			// "#2" in a product name is a number sign, not MySQL's comment.
			if lastStr {
				lx.commentAfter = true
			}
			lx.comments++
			j := strings.IndexByte(s[i:], '\n')
			if lx.trailingAt < 0 || len(lx.toks) > lx.trailingAt {
				lx.trailing, lx.trailingAt = "", len(lx.toks)
			}
			if j < 0 {
				lx.trailing += s[i:]
				i = len(s)
			} else {
				lx.trailing += s[i : i+j]
				i += j + 1
			}
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			lx.comments++
			if i+2 < len(s) && s[i+2] == '!' {
				lx.execComment = true
				i += 3
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				continue // the body is code to MySQL
			}
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				lx.unterminated = true
				i = len(s)
			} else {
				i += j + 4
			}
			continue
		case c == '*' && i+1 < len(s) && s[i+1] == '/' && lx.execComment:
			i += 2
			continue
		case c == '\'' || ((c == 'E' || c == 'e' || c == 'N' || c == 'n') && i+1 < len(s) && s[i+1] == '\''):
			if c != '\'' {
				i++
			}
			j := i + 1
			var b strings.Builder
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				lx.unterminated = true
			}
			lx.toks = append(lx.toks, sqlTok{kind: tStr, text: b.String(), depth: depth})
			i = j
			lastStr = true
			continue
		case c == '"' || c == '`' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := strings.IndexByte(s[i+1:], end)
			if j < 0 {
				if c == '[' {
					lx.toks = append(lx.toks, sqlTok{kind: tPunct, text: "[", depth: depth})
					i++
					continue
				}
				lx.unterminated = true
				j = len(s) - i - 1
			}
			lx.toks = append(lx.toks, sqlTok{kind: tIdent, text: strings.ToUpper(s[i+1 : i+1+j]), depth: depth})
			i += j + 2
			lastStr = c != '['
			continue
		case c == '$':
			// $tag$ … $tag$ dollar quoting; $1 parameters.
			j := i + 1
			for j < len(s) && (isWordChar(s[j]) && !(s[j] >= '0' && s[j] <= '9' && j == i+1)) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				k := strings.Index(s[j+1:], tag)
				if k < 0 {
					lx.unterminated = true
					lx.toks = append(lx.toks, sqlTok{kind: tStr, text: s[j+1:], depth: depth})
					i = len(s)
				} else {
					lx.toks = append(lx.toks, sqlTok{kind: tStr, text: s[j+1 : j+1+k], depth: depth})
					i = j + 1 + k + len(tag)
				}
				lastStr = true
				continue
			}
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			lx.toks = append(lx.toks, sqlTok{kind: tNum, text: "?", depth: depth})
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'x' || s[j] == 'X' || isHex(s[j]) && j > i && (s[i+1] == 'x' || s[i+1] == 'X')) {
				j++
			}
			lx.toks = append(lx.toks, sqlTok{kind: tNum, text: s[i:j], depth: depth})
			i = j
		case isWordChar(c) || c >= 0x80:
			j := i
			for j < len(s) && (isWordChar(s[j]) || s[j] >= 0x80) {
				j++
			}
			lx.toks = append(lx.toks, sqlTok{kind: tWord, text: strings.ToUpper(s[i:j]), depth: depth})
			i = j
		default:
			t := string(c)
			if i+1 < len(s) {
				switch s[i : i+2] {
				case "<>", "!=", ">=", "<=", "||", "::":
					t = s[i : i+2]
				}
			}
			if c == '(' {
				depth++
			}
			lx.toks = append(lx.toks, sqlTok{kind: tPunct, text: t, depth: depth})
			if c == ')' && depth > 0 {
				depth--
			}
			i += len(t)
		}
		lastStr = false
	}
	if lx.trailingAt != len(lx.toks) {
		lx.trailing, lx.trailingAt = "", -1
	}
	lx.depth = depth
	return lx
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lowerASCII lower-cases a short ASCII word without allocating when it is
// already lower case.
func lowerASCII(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] >= 'A' && w[i] <= 'Z' {
			return strings.ToLower(w)
		}
	}
	return w
}

// indexFold is strings.Index, ASCII case-insensitive, for a lower-case
// needle. The next place of each case of the first byte is looked up
// only once the scan has passed it, so text full of one case and free
// of the other ("eyJ…" for "your") is read once, not once per place.
func indexFold(s, lower string) int {
	n := len(lower)
	if n == 0 {
		return 0
	}
	c0 := lower[0]
	up := c0
	if c0 >= 'a' && c0 <= 'z' {
		up = c0 - 32
	}
	// nextLo and nextUp: the next c0 and up at or after i (len(s) when
	// none); -1 while not looked up.
	nextLo, nextUp := -1, -1
	next := func(c byte, from int) int {
		if j := strings.IndexByte(s[from:], c); j >= 0 {
			return from + j
		}
		return len(s)
	}
	for i := 0; i+n <= len(s); {
		if nextLo < i {
			nextLo = next(c0, i)
		}
		if up == c0 {
			nextUp = nextLo
		} else if nextUp < i {
			nextUp = next(up, i)
		}
		i = min(nextLo, nextUp)
		if i+n > len(s) {
			return -1
		}
		if equalFoldASCII(s[i:i+n], lower) {
			return i
		}
		i++
	}
	return -1
}

func equalFoldASCII(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
