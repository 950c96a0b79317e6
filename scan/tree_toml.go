package scan

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// parseTOML reads TOML. The decoder keeps no positions, so lines of tables
// are recovered from the text's layout (tomldoc).
func parseTOML(text []byte) (*node, error) {
	if err := checkTOMLDepth(text); err != nil {
		return nil, err
	}
	var m map[string]any
	if _, err := toml.Decode(string(text), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ParseError{Line: pe.Position.Line, Column: pe.Position.Col, Msg: pe.Message}
		}
		return nil, &ParseError{Msg: err.Error()}
	}
	root := fromTOML(m, 1)
	setTOMLLines(root, nil, tomldoc.Parse(string(text)))
	return root, nil
}

func fromTOML(v any, line int) *node {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := &node{kind: kObject, line: line, members: make([]member, 0, len(keys))}
		for _, k := range keys {
			n.members = append(n.members, member{key: k, line: line, val: fromTOML(t[k], line)})
		}
		return n
	case []map[string]any:
		n := &node{kind: kArray, line: line}
		for _, it := range t {
			n.items = append(n.items, fromTOML(it, line))
		}
		return n
	case []any:
		n := &node{kind: kArray, line: line}
		for _, it := range t {
			n.items = append(n.items, fromTOML(it, line))
		}
		return n
	case string:
		return scalar(kString, line, t)
	case bool:
		return scalar(kBool, line, fmt.Sprint(t))
	case int64, float64:
		return scalar(kNumber, line, fmt.Sprint(t))
	case time.Time:
		return scalar(kString, line, t.Format(time.RFC3339Nano))
	}
	return scalar(kString, line, fmt.Sprint(v))
}

// setTOMLLines gives every table (and the key that opens it) the line of its
// header, so members sort back into file order and servers report the line
// of their [mcp_servers.NAME] header.
func setTOMLLines(n *node, prefix []string, doc *tomldoc.Doc) {
	if n.kind != kObject {
		return
	}
	for i := range n.members {
		m := &n.members[i]
		key := append(append([]string(nil), prefix...), m.key)
		if l, ok := doc.Find(key...); ok {
			m.line = l
			m.val.line = l
			setAllLines(m.val, l)
		} else if l, ok := doc.Find(prefix...); ok && len(prefix) > 0 {
			m.line = l
		}
		setTOMLLines(m.val, key, doc)
	}
	sort.SliceStable(n.members, func(a, b int) bool { return n.members[a].line < n.members[b].line })
}

func setAllLines(n *node, l int) {
	for i := range n.members {
		if n.members[i].line < l {
			n.members[i].line = l
		}
	}
}

// checkTOMLDepth rejects TOML nested deeper than maxDepth — arrays, inline
// tables and the parts of dotted keys and [table] headers together — before
// the decoder sees it. The decoder recurses on arrays and inline tables and
// its cost grows with the square of the nesting: a 10,000-level file took
// seconds and a million "[" (4 MB, under the file size limit) overflowed the
// stack, which kills the process.
//
// It errs on the side of counting: text it takes for a string or comment is
// text the decoder takes for one too.
func checkTOMLDepth(b []byte) error {
	type open struct {
		kind byte // '[' or '{'
		base int  // depth of the container: its key path, plus enclosing arrays
	}
	var (
		stack  []open
		header int // parts of the current [table] header
		base   int // depth of the value being read
		parts  int // parts of the key being read
		inKey  = true
		inHdr  bool
	)
	keyBase := func() int {
		if len(stack) > 0 {
			return stack[len(stack)-1].base
		}
		return header
	}
	tooDeep := func(i int) error {
		line, col := lineCol(b, i)
		return &ParseError{Line: line, Column: col, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	closeOne := func() {
		if len(stack) > 0 {
			stack = stack[:len(stack)-1]
		}
		base, inKey = keyBase(), false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"' || c == '\'':
			if (inKey || inHdr) && parts == 0 {
				parts = 1
			}
			i = skipTOMLString(b, i)
		case c == '#':
			for i+1 < len(b) && b[i+1] != '\n' {
				i++
			}
		case c == '\n':
			if len(stack) == 0 {
				inKey, inHdr, parts = true, false, 0
			}
		case c == ' ' || c == '\t' || c == '\r':
		case inHdr:
			switch c {
			case '.':
				parts++
			case ']':
				header, inHdr, inKey, parts = parts, false, false, 0
				if i+1 < len(b) && b[i+1] == ']' {
					i++
				}
			default:
				if parts == 0 {
					parts = 1
				}
			}
			if parts > maxDepth {
				return tooDeep(i)
			}
		case inKey && c == '[' && len(stack) == 0 && parts == 0:
			inHdr = true
			if i+1 < len(b) && b[i+1] == '[' {
				i++
			}
		case inKey && c == '}':
			closeOne() // {} or a trailing comma
		case inKey:
			switch c {
			case '.':
				parts++
			case '=':
				base, parts, inKey = keyBase()+parts, 0, false
			default:
				if parts == 0 {
					parts = 1
				}
			}
			if keyBase()+parts > maxDepth {
				return tooDeep(i)
			}
		case c == '[' || c == '{':
			// An array is a level of its own; so is a table inside one. A
			// table that is a key's value is the level its key counts.
			d := base
			if c == '[' || len(stack) > 0 && stack[len(stack)-1].kind == '[' {
				d++
			}
			if d > maxDepth {
				return tooDeep(i)
			}
			stack = append(stack, open{kind: c, base: d})
			base = d
			if c == '{' {
				inKey, parts = true, 0
			}
		case c == ']' || c == '}':
			closeOne()
		case c == ',' && len(stack) > 0 && stack[len(stack)-1].kind == '{':
			inKey, parts = true, 0
		}
	}
	return nil
}

// skipTOMLString returns the index of the last byte of the string that
// starts at b[i]: basic ("…", with escapes) or literal ('…'), single- or
// multi-line. A single-line string ends at the newline at the latest, which
// is left for the caller.
func skipTOMLString(b []byte, i int) int {
	q := b[i]
	if i+2 < len(b) && b[i+1] == q && b[i+2] == q {
		for j := i + 3; j < len(b); j++ {
			if q == '"' && b[j] == '\\' {
				j++
				continue
			}
			if b[j] == q && j+2 < len(b) && b[j+1] == q && b[j+2] == q {
				// Up to two more quotes belong to the content: """a"""" is a".
				for k := 0; k < 2 && j+3 < len(b) && b[j+3] == q; k++ {
					j++
				}
				return j + 2
			}
		}
		return len(b) - 1
	}
	for j := i + 1; j < len(b); j++ {
		switch {
		case b[j] == '\n':
			return j - 1
		case q == '"' && b[j] == '\\':
			if j+1 < len(b) && b[j+1] != '\n' {
				j++
			}
		case b[j] == q:
			return j
		}
	}
	return len(b) - 1
}
