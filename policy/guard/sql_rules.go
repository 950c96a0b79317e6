package guard

import (
	"encoding/hex"
	"strings"
)

// queryShapeRules look at a value that reads as a query for the shapes of
// a fragment built to be spliced into another one: it ends in an empty
// comment that would cut off the rest, it is unfinished (open
// parentheses, a dangling WHERE), or it is one parenthesized subquery.
func queryShapeRules(lx sqlLex, add func(rule, msg string)) {
	toks := lx.toks
	if len(toks) == 0 {
		return
	}
	if lx.trailingAt >= 0 && len(strings.Trim(lx.trailing, "-#/* \t\r\n")) <= 2 {
		add(RuleSQLComment, "the statement ends in an empty comment that cuts off whatever follows it")
	}
	last := toks[len(toks)-1]
	if lx.depth > 0 || last.kind == tWord && (last.text == "WHERE" || last.text == "AND" || last.text == "OR") {
		add(RuleSQLIncomplete, "an unfinished statement (open parenthesis or dangling "+last.text+"): the shape of an injected fragment")
	}
	if toks[0].text == "(" && last.text == ")" && last.depth == 1 && len(toks) > 2 && toks[1].text == "SELECT" {
		for _, t := range toks[1 : len(toks)-1] {
			if t.depth == 0 || t.depth == 1 && t.text == ")" {
				return
			}
		}
		add(RuleSQLIncomplete, "a parenthesized subquery as a whole value: the shape of an injected fragment")
	}
}

// encodedRules decode hex literals (0x6578…) and flag those that spell a
// statement: the way injected code hides EXEC or DROP from filters.
func encodedRules(s string, add func(rule, msg string)) {
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "0x")
		if j < 0 {
			j = strings.Index(s[off:], "0X")
			if j < 0 {
				return
			}
		}
		at := off + j + 2
		e := at
		for e < len(s) && isHex(s[e]) {
			e++
		}
		off = e
		if e-at < 10 || (e-at)%2 == 1 || at > 2 && isWordChar(s[at-3]) {
			continue
		}
		b, err := hex.DecodeString(s[at:e])
		if err != nil {
			continue
		}
		for _, it := range lexSQL(string(b)).toks {
			if it.kind == tWord && encodedVerbs[it.text] {
				add(RuleSQLEncoded, "a hex literal spells a "+it.text+" statement")
				return
			}
		}
	}
}

var encodedVerbs = map[string]bool{
	"EXEC": true, "EXECUTE": true, "DROP": true, "DELETE": true, "TRUNCATE": true, "INSERT": true, "UPDATE": true,
	"SELECT": true, "XP_CMDSHELL": true, "SHUTDOWN": true, "DECLARE": true, "ALTER": true, "CREATE": true, "GRANT": true,
}
