package guard

import (
	"strings"

	libinjection "github.com/corazawaf/libinjection-go"
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
	RuleSQLInjection     = "sql.injection-fingerprint"
	RuleSQLDynamic       = "sql.dynamic-sql"
	RuleSQLEncoded       = "sql.encoded-statement"
	RuleSQLErrorProbe    = "sql.error-probe"
	RuleSQLMergeDelete   = "sql.merge-delete"
	RuleSQLIncomplete    = "sql.incomplete-statement"
)

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
	"EXEC": true, "EXECUTE": true, "CALL": true, "PREPARE": true, "DO": true, "SHUTDOWN": true, "LOAD": true, "RENAME": true, "UPSERT": true,
}

// RuleFinding is one rule hit of a checker that reports no position: the
// rule and a short why, never the value.
type RuleFinding struct {
	Rule    string
	Message string
}

// SQLFinding is one SQL rule hit.
type SQLFinding = RuleFinding

// CheckSQL returns the SQL findings in s: s may be a query (an argument
// that is SQL) or a value that ends up inside one (it is also read as if it
// were spliced into a quoted literal, the classic injection).
func CheckSQL(s string) []SQLFinding {
	if len(s) < 2 {
		return nil
	}
	if !sqlCandidate(s) {
		// Not a query and none of the lexer rules' words: only an
		// injection fragment ("1 and 1 = 1", "' + '") is left to find.
		if fp, ok := sqliFingerprint(s); ok {
			return []SQLFinding{{RuleSQLInjection, fingerprintMsg(fp)}}
		}
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
	if !isQuery && len(out) == 0 {
		if fp, ok := sqliFingerprint(s); ok {
			add(RuleSQLInjection, fingerprintMsg(fp))
		}
	}
	if isQuery {
		queryShapeRules(lx, add)
	}
	if strings.Contains(s, "0x") || strings.Contains(s, "0X") {
		encodedRules(s, add)
	}
	if lx.execComment {
		add(RuleSQLComment, "MySQL executable comment /*! … */ hides code")
	}
	return out
}

// sqliFingerprint asks libinjection (OWASP Coraza's Go port) whether s
// reads as a SQL injection fragment, less the shapes it flags in ordinary
// values: one plain function call ("TRUNCATE(price, 0)", a spreadsheet
// formula), a word followed by an opening comment ("x/*"), and words in
// double quotes with no other SQL punctuation.
func sqliFingerprint(s string) (string, bool) {
	ok, fp := libinjection.IsSQLi(s)
	if !ok {
		return "", false
	}
	switch {
	case fp == "nc":
		return "", false
	case strings.HasPrefix(fp, "f(") && plainCall(s):
		return "", false
	case strings.Count(s, `"`)%2 == 0 && !strings.ContainsAny(s, "'`=()<>;|&*/#-+@\\"):
		// Prose that quotes words ("NOT" STUFFER): balanced double
		// quotes and nothing else that SQL needs to do harm.
		return "", false
	}
	return fp, true
}

// plainCall: s is NAME(arguments) with literal or bare-word arguments:
// no nested call, quote, operator or comment.
func plainCall(s string) bool {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return false
	}
	for i := 0; i < open; i++ {
		if !isWordChar(s[i]) {
			return false
		}
	}
	return !strings.ContainsAny(s[open+1:len(s)-1], "()'\"`;#=<>|&@-/*+")
}

func fingerprintMsg(fp string) string {
	return "the value's tokens (" + fp + ") match a SQL injection fingerprint of libinjection"
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
	"merge": true, "prepare": true, "do": true, "extractvalue": true, "updatexml": true, "into": true, "where": true,
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
		injectionRules(st, add, breakout || !isQuery)
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
		// TRUNCATE [TABLE|DATABASE] t[, u …]; MySQL's TRUNCATE(x, n) is
		// a function.
		if next(1) == "TABLE" || next(1) == "DATABASE" || next(1) == "ONLY" {
			return true
		}
		if i+1 >= len(st) || st[i+1].kind != tWord && st[i+1].kind != tIdent {
			return false
		}
		k := i + 2
		for k+1 < len(st) && (st[k].text == "." || st[k].text == ",") && (st[k+1].kind == tWord || st[k+1].kind == tIdent) {
			k += 2
		}
		return k == len(st) || st[k].kind == tWord && (st[k].text == "CASCADE" || st[k].text == "RESTRICT" || st[k].text == "RESTART" || st[k].text == "CONTINUE" || st[k].text == "ON" || st[k].text == "PARTITION")
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
		return len(st) > i+1 && (st[i+1].kind == tWord && (strings.HasPrefix(st[i+1].text, "XP_") || strings.HasPrefix(st[i+1].text, "SP_") || st[i+1].text == "IMMEDIATE") || st[i+1].text == "(" || st[i+1].text == "@" || st[i+1].kind == tStr)
	case "MERGE":
		return next(1) == "INTO" || hasWord(st[i:], "USING")
	case "PREPARE":
		return hasWord(st[i:], "FROM") || hasWord(st[i:], "AS")
	case "DO":
		return i+1 < len(st) && st[i+1].kind == tStr
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
			if verb && prev != "KEY" && prev != "FOR" && prev != "DO" && prev != "ON" && prev != "THEN" && hasAfter(st, i, "SET") && !whereAfter(st, i) {
				add(RuleSQLUpdateNoWhere, "UPDATE without a WHERE clause changes every row")
			}
		case "THEN":
			if i+1 < len(st) && st[i+1].text == "DELETE" && hasWord(st, "MERGE") {
				add(RuleSQLMergeDelete, "MERGE … THEN DELETE removes the matched rows")
			}
		case "EXEC", "EXECUTE", "SP_EXECUTESQL", "PREPARE":
			if i+1 < len(st) && (st[i+1].text == "(" || st[i+1].text == "@" || st[i+1].kind == tStr || st[i+1].text == "IMMEDIATE" || st[i+1].text == "SP_EXECUTESQL" || t.text == "SP_EXECUTESQL") ||
				t.text == "PREPARE" && hasAfter(st, i, "FROM") {
				add(RuleSQLDynamic, "dynamic SQL ("+t.text+") runs a statement built at run time")
			}
		case "DO":
			if i == firstWord(st) && i+1 < len(st) && st[i+1].kind == tStr {
				add(RuleSQLDynamic, "DO runs an anonymous code block")
			}
		case "EXTRACTVALUE", "UPDATEXML":
			if i+1 < len(st) && st[i+1].text == "(" {
				add(RuleSQLErrorProbe, strings.ToLower(t.text)+"() is used to leak data through error messages")
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

// tautologyAt: st[j:] starts with an always-true condition: lit = same
// lit (1=1, 'a'='a', id = id), TRUE, or a bare non-zero number (WHERE 1,
// OR 1), inside any number of parentheses.
func tautologyAt(st []sqlTok, j int) bool {
	for j < len(st) && st[j].kind == tPunct && st[j].text == "(" {
		j++
	}
	ends := func(k int) bool {
		if k >= len(st) {
			return true
		}
		t := st[k]
		switch t.text {
		case ")", ";", "OR", "AND", "ORDER", "GROUP", "LIMIT", "HAVING", "UNION", "--", "RETURNING":
			return true
		}
		return false
	}
	if j < len(st) && (st[j].kind == tWord && st[j].text == "TRUE" || st[j].kind == tNum && nonZero(st[j].text)) && ends(j+1) {
		return true
	}
	if j+2 >= len(st) {
		return false
	}
	a, op, b := st[j], st[j+1], st[j+2]
	lit := func(t sqlTok) bool { return t.kind == tNum || t.kind == tStr || t.kind == tIdent }
	same := a.kind == tWord && b.kind == tWord && a.text == b.text && !sqlKeywordOperand[a.text] && ends(j+3)
	if !same && (!lit(a) || !lit(b) || a.kind != b.kind && (a.kind == tIdent || b.kind == tIdent)) {
		return false
	}
	switch op.text {
	case "=", "LIKE", ">=", "<=":
		return a.text == b.text || op.text == "LIKE" && b.text == "%"
	case "<>", "!=":
		return !same && a.text != b.text
	}
	return false
}

// sqlKeywordOperand: words that are not columns (NULL = NULL is not true).
var sqlKeywordOperand = map[string]bool{"NULL": true, "SELECT": true, "NOT": true, "CASE": true}

func nonZero(n string) bool {
	for i := 0; i < len(n); i++ {
		if n[i] >= '1' && n[i] <= '9' {
			return true
		}
	}
	return false
}

// injectionRules look for the shapes of injected SQL: an always-true OR
// anywhere, and, inside a value (not a query of its own), UNION SELECT.
func injectionRules(st []sqlTok, add func(rule, msg string), inValue bool) {
	for i, t := range st {
		if t.kind == tWord && t.text == "OR" || t.kind == tPunct && t.text == "||" {
			if tautologyAt(st, i+1) {
				add(RuleSQLTautology, "an always-true condition (OR 1=1) widens the query to every row")
			}
		}
		if inValue && t.kind == tWord && t.text == "UNION" {
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
