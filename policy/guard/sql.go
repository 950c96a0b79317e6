package guard

import (
	"strings"
)

// SQL rule ids.
const (
	RuleSQLDrop          = "sql.drop"
	RuleSQLTruncate      = "sql.truncate"
	RuleSQLDeleteNoWhere = "sql.delete-without-where"
	RuleSQLUpdateNoWhere = "sql.update-without-where"
	RuleSQLStacked       = "sql.stacked-statements"
	RuleSQLComment       = "sql.comment-trick"
	RuleSQLTautology     = "sql.tautology"
	RuleSQLUnion         = "sql.union-injection"
	RuleSQLFile          = "sql.file-access"
	RuleSQLDelay         = "sql.time-delay"
	RuleSQLUnterminated  = "sql.unterminated"
)

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
}

// lexSQL tokenises s dialect-agnostically (MySQL and Postgres quoting).
func lexSQL(s string) sqlLex {
	var lx sqlLex
	depth := 0
	lastStr := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#':
			if lastStr {
				lx.commentAfter = true
			}
			lx.comments++
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
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
	return lx
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// dropObjects are what DROP removes in SQL (and not in English).
var dropObjects = map[string]bool{
	"TABLE": true, "DATABASE": true, "SCHEMA": true, "INDEX": true, "VIEW": true, "USER": true, "ROLE": true,
	"FUNCTION": true, "PROCEDURE": true, "TRIGGER": true, "SEQUENCE": true, "TYPE": true, "EXTENSION": true,
	"TEMPORARY": true, "MATERIALIZED": true, "OWNED": true, "COLUMN": true, "CONSTRAINT": true, "TABLESPACE": true,
	"EVENT": true, "COLLECTION": true, "KEYSPACE": true, "DOMAIN": true, "POLICY": true,
}

// sqlVerbs start a SQL statement.
var sqlVerbs = map[string]bool{
	"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": true, "DROP": true, "TRUNCATE": true, "WITH": true,
	"ALTER": true, "CREATE": true, "GRANT": true, "REVOKE": true, "REPLACE": true, "MERGE": true, "COPY": true,
	"EXEC": true, "EXECUTE": true, "CALL": true, "SHUTDOWN": true, "LOAD": true, "RENAME": true, "UPSERT": true,
}

// SQLFinding is one SQL rule hit (no value, only what and a short why).
type SQLFinding struct {
	Rule    string
	Message string
}

// CheckSQL returns the SQL findings in s: s may be a query (an argument
// that is SQL) or a value that ends up inside one (it is also read as if it
// were spliced into a quoted literal, the classic injection).
func CheckSQL(s string) []SQLFinding {
	if len(s) < 4 || !sqlCandidate(s) {
		return nil
	}
	var out []SQLFinding
	seen := map[string]bool{}
	add := func(rule, msg string) {
		if !seen[rule] {
			seen[rule] = true
			out = append(out, SQLFinding{rule, msg})
		}
	}
	lx := lexSQL(s)
	isQuery := checkStatements(lx, add, false)
	if strings.ContainsAny(s, "'\"") && !isQuery {
		// Read as spliced into '…': a quote breaks out of the literal.
		for _, q := range []string{"'", "\""} {
			if !strings.Contains(s, q) {
				continue
			}
			bx := lexSQL(q + s)
			checkStatements(bx, add, true)
			if bx.commentAfter {
				add(RuleSQLComment, "a quote followed by a comment truncates the rest of the query")
			}
		}
	}
	if lx.execComment {
		add(RuleSQLComment, "MySQL executable comment /*! … */ hides code")
	}
	return out
}

// sqlCandidate is the cheap prefilter, one pass over s: a statement
// separator, a comment marker, or a word that SQL rules look at.
func sqlCandidate(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ';' || c == '#' || c == '-' && i+1 < len(s) && s[i+1] == '-' || c == '/' && i+2 < len(s) && s[i+1] == '*' && s[i+2] == '!':
			return true
		case c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_':
			j := i
			for j < len(s) && (isWordChar(s[j])) {
				j++
			}
			if j-i >= 2 && j-i <= 19 && sqlWords[lowerASCII(s[i:j])] {
				return true
			}
			i = j
			continue
		}
		i++
	}
	return false
}

var sqlWords = map[string]bool{
	"drop": true, "truncate": true, "delete": true, "update": true, "select": true, "union": true, "or": true,
	"sleep": true, "pg_sleep": true, "waitfor": true, "benchmark": true, "outfile": true, "dumpfile": true, "program": true,
	"xp_cmdshell": true, "load_file": true, "pg_read_file": true, "exec": true, "execute": true, "lo_import": true, "lo_export": true,
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

// checkStatements applies the statement rules; it reports whether the text
// reads as SQL (its first statement starts with a SQL verb).
func checkStatements(lx sqlLex, add func(rule, msg string), breakout bool) bool {
	toks := lx.toks
	var stmts [][]sqlTok
	start := 0
	for i, t := range toks {
		if t.kind == tPunct && t.text == ";" && t.depth == 0 {
			stmts = append(stmts, toks[start:i])
			start = i + 1
		}
	}
	stmts = append(stmts, toks[start:])
	isQuery := false
	sqlStmts := 0
	for n, st := range stmts {
		if len(st) == 0 {
			continue
		}
		first := firstWord(st)
		verb := first >= 0 && sqlVerbs[st[first].text] && looksLikeStatement(st, first)
		if n == 0 && verb && !breakout {
			isQuery = true
		}
		if verb {
			sqlStmts++
		}
		statementRules(st, verb, add)
		if breakout || !isQuery {
			injectionRules(st, add)
		}
	}
	if len(nonEmpty(stmts)) > 1 && (isQuery || secondIsVerb(stmts)) {
		add(RuleSQLStacked, "several statements in one argument (stacked queries)")
	}
	if isQuery && lx.unterminated {
		add(RuleSQLUnterminated, "unterminated string, identifier or comment")
	}
	return isQuery
}

func nonEmpty(stmts [][]sqlTok) [][]sqlTok {
	var out [][]sqlTok
	for _, s := range stmts {
		if len(s) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// secondIsVerb: a later statement is SQL (the "x'; DROP TABLE t" shape).
func secondIsVerb(stmts [][]sqlTok) bool {
	for _, st := range nonEmpty(stmts)[1:] {
		f := firstWord(st)
		if f >= 0 && sqlVerbs[st[f].text] && looksLikeStatement(st, f) {
			return true
		}
	}
	return false
}

func firstWord(st []sqlTok) int {
	for i, t := range st {
		if t.kind == tPunct && t.text == "(" {
			continue
		}
		if t.kind == tWord {
			return i
		}
		return -1
	}
	return -1
}

// looksLikeStatement tells SQL from English that starts with the same verb
// ("drop me a line", "update the docs", "select a file").
func looksLikeStatement(st []sqlTok, i int) bool {
	next := func(k int) string {
		if i+k < len(st) {
			return st[i+k].text
		}
		return ""
	}
	switch st[i].text {
	case "DROP":
		return dropObjects[next(1)]
	case "TRUNCATE":
		return next(1) == "TABLE" || (len(st)-i <= 3 && i+1 < len(st) && st[i+1].kind != tPunct)
	case "DELETE":
		return next(1) == "FROM" || hasWord(st[i:], "FROM") && len(st)-i < 12
	case "UPDATE":
		return hasWord(st[i:], "SET")
	case "SELECT":
		if hasWord(st[i:], "FROM") || hasPunct(st[i:], "(") {
			return true
		}
		n := st[min(i+1, len(st)-1)]
		return i+1 < len(st) && (n.kind == tNum || n.kind == tStr || n.text == "*" || n.text == "@")
	case "INSERT":
		return next(1) == "INTO" || next(1) == "IGNORE"
	case "WITH":
		return hasWord(st[i:], "AS") && hasWord(st[i:], "SELECT") || hasWord(st[i:], "DELETE") || hasWord(st[i:], "UPDATE")
	case "ALTER", "CREATE":
		return dropObjects[next(1)] || next(1) == "OR" || next(1) == "UNIQUE"
	case "GRANT", "REVOKE":
		return hasWord(st[i:], "ON") || hasWord(st[i:], "TO")
	case "COPY":
		return hasWord(st[i:], "FROM") || hasWord(st[i:], "TO")
	case "EXEC", "EXECUTE":
		return len(st) > i+1 && st[i+1].kind == tWord && (strings.HasPrefix(st[i+1].text, "XP_") || strings.HasPrefix(st[i+1].text, "SP_"))
	case "SHUTDOWN":
		return len(st)-i <= 2
	}
	return hasWord(st[i:], "INTO") || hasWord(st[i:], "FROM") || hasWord(st[i:], "TABLE")
}

func hasWord(st []sqlTok, w string) bool {
	for _, t := range st {
		if t.kind == tWord && t.text == w {
			return true
		}
	}
	return false
}

func hasPunct(st []sqlTok, p string) bool {
	for _, t := range st {
		if t.kind == tPunct && t.text == p {
			return true
		}
	}
	return false
}

func statementRules(st []sqlTok, verb bool, add func(rule, msg string)) {
	for i, t := range st {
		if t.kind != tWord {
			continue
		}
		prev := ""
		if i > 0 {
			prev = st[i-1].text
		}
		switch t.text {
		case "DROP":
			if i+1 < len(st) && dropObjects[st[i+1].text] && (verb || i == firstWord(st)) {
				add(RuleSQLDrop, "DROP "+st[i+1].text+" removes data or schema")
			}
		case "TRUNCATE":
			if verb && (i == firstWord(st) || prev == ";") {
				add(RuleSQLTruncate, "TRUNCATE removes every row")
			}
		case "DELETE":
			if verb && prev != "ON" && hasAfter(st, i, "FROM") && !whereAfter(st, i) {
				add(RuleSQLDeleteNoWhere, "DELETE without a WHERE clause removes every row")
			}
		case "UPDATE":
			if verb && prev != "KEY" && prev != "FOR" && prev != "DO" && prev != "ON" && hasAfter(st, i, "SET") && !whereAfter(st, i) {
				add(RuleSQLUpdateNoWhere, "UPDATE without a WHERE clause changes every row")
			}
		case "OUTFILE", "DUMPFILE":
			if prev == "INTO" {
				add(RuleSQLFile, "INTO "+t.text+" writes a file on the database server")
			}
		case "PROGRAM":
			if hasWord(st, "COPY") {
				add(RuleSQLFile, "COPY … PROGRAM runs a shell command on the database server")
			}
		case "LOAD_FILE", "PG_READ_FILE", "PG_READ_BINARY_FILE", "XP_CMDSHELL", "LO_IMPORT", "LO_EXPORT":
			add(RuleSQLFile, strings.ToLower(t.text)+" reads files or runs commands on the database server")
		case "SLEEP", "PG_SLEEP", "BENCHMARK":
			if i+1 < len(st) && st[i+1].text == "(" {
				add(RuleSQLDelay, strings.ToLower(t.text)+"() delays the query (time-based probing)")
			}
		case "WAITFOR":
			if i+1 < len(st) && (st[i+1].text == "DELAY" || st[i+1].text == "TIME") {
				add(RuleSQLDelay, "WAITFOR DELAY delays the query (time-based probing)")
			}
		}
	}
}

// hasAfter: word w occurs after i at the same depth within the statement.
func hasAfter(st []sqlTok, i int, w string) bool {
	d := st[i].depth
	for _, t := range st[i+1:] {
		if t.depth < d {
			return false
		}
		if t.depth == d && t.kind == tWord && t.text == w {
			return true
		}
	}
	return false
}

// whereAfter: a WHERE follows at the same depth, and it is not a
// tautology such as WHERE 1=1.
func whereAfter(st []sqlTok, i int) bool {
	d := st[i].depth
	for j := i + 1; j < len(st); j++ {
		t := st[j]
		if t.depth < d || t.kind == tPunct && t.text == ")" && t.depth == d {
			return false
		}
		if t.depth == d && t.kind == tWord && (t.text == "WHERE" || t.text == "CURRENT") {
			return !tautologyAt(st, j+1)
		}
	}
	return false
}

// tautologyAt: st[j:] starts with lit = same lit, or TRUE.
func tautologyAt(st []sqlTok, j int) bool {
	if j < len(st) && st[j].kind == tWord && st[j].text == "TRUE" {
		return j+1 == len(st) || st[j+1].kind == tPunct || st[j+1].text == "OR" || st[j+1].text == "AND"
	}
	if j+2 >= len(st) {
		return false
	}
	a, op, b := st[j], st[j+1], st[j+2]
	lit := func(t sqlTok) bool { return t.kind == tNum || t.kind == tStr || t.kind == tIdent }
	if !lit(a) || !lit(b) || a.kind != b.kind && (a.kind == tIdent || b.kind == tIdent) {
		return false
	}
	switch op.text {
	case "=", "LIKE", ">=", "<=":
		return a.text == b.text || op.text == "LIKE" && b.text == "%"
	case "<>", "!=":
		return a.text != b.text
	}
	return false
}

// injectionRules look for the shapes of injected SQL inside a value.
func injectionRules(st []sqlTok, add func(rule, msg string)) {
	for i, t := range st {
		if t.kind == tWord && t.text == "OR" || t.kind == tPunct && t.text == "||" {
			if tautologyAt(st, i+1) {
				add(RuleSQLTautology, "an always-true condition (OR 1=1) widens the query to every row")
			}
		}
		if t.kind == tWord && t.text == "UNION" {
			k := i + 1
			if k < len(st) && (st[k].text == "ALL" || st[k].text == "DISTINCT") {
				k++
			}
			if k < len(st) && st[k].text == "SELECT" {
				add(RuleSQLUnion, "UNION SELECT appended to a value reads other tables")
			}
		}
	}
}

// indexFold is strings.Index, ASCII case-insensitive, for a lower-case
// needle.
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
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if c != c0 && c != up {
			j := strings.IndexByte(s[i:], c0)
			k := -1
			if up != c0 {
				k = strings.IndexByte(s[i:], up)
			}
			switch {
			case j < 0 && k < 0:
				return -1
			case j < 0 || (k >= 0 && k < j):
				j = k
			}
			i += j
			if i+n > len(s) {
				return -1
			}
		}
		if equalFoldASCII(s[i:i+n], lower) {
			return i
		}
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
