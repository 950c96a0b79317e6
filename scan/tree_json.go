package scan

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tailscale/hujson"
)

// maxDepth bounds nesting so a hostile file cannot exhaust the stack.
const maxDepth = 256

// parseJSON reads JSON with the extensions clients accept in practice:
// comments and trailing commas (JSONC).
func parseJSON(text []byte) (*node, error) {
	if err := checkDepth(text); err != nil {
		return nil, err
	}
	v, err := hujson.Parse(text)
	if err != nil {
		return nil, hujsonError(err)
	}
	idx := newLineIndex(text)
	return fromHuJSON(&v, idx), nil
}

// hujsonError turns hujson's "hujson: line L, column C: msg" into a
// structured ParseError.
func hujsonError(err error) error {
	var line, col int
	msg := err.Error()
	if _, scanErr := fmt.Sscanf(msg, "hujson: line %d, column %d:", &line, &col); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[i+2+j+2:]
			}
		}
		return &ParseError{Line: line, Column: col, Msg: msg}
	}
	return &ParseError{Msg: strings.TrimPrefix(msg, "hujson: ")}
}

func fromHuJSON(v *hujson.Value, idx lineIndex) *node {
	line := idx.line(v.StartOffset)
	switch t := v.Value.(type) {
	case *hujson.Object:
		n := &node{kind: kObject, line: line, members: make([]member, 0, len(t.Members))}
		for i := range t.Members {
			m := &t.Members[i]
			key := ""
			if lit, ok := m.Name.Value.(hujson.Literal); ok {
				key = literalString(lit)
			}
			n.members = append(n.members, member{key: key, line: idx.line(m.Name.StartOffset), val: fromHuJSON(&m.Value, idx)})
		}
		return n
	case *hujson.Array:
		n := &node{kind: kArray, line: line, items: make([]*node, 0, len(t.Elements))}
		for i := range t.Elements {
			n.items = append(n.items, fromHuJSON(&t.Elements[i], idx))
		}
		return n
	case hujson.Literal:
		switch t.Kind() {
		case '"':
			return scalar(kString, line, literalString(t))
		case 't', 'f':
			return scalar(kBool, line, string(t))
		case '0':
			return scalar(kNumber, line, string(t))
		}
		return &node{kind: kNull, line: line}
	}
	return &node{kind: kNull, line: line}
}

// literalString unquotes a JSON string, skipping the reflection-based decoder
// for the common case of a string without escapes.
func literalString(lit hujson.Literal) string {
	if len(lit) >= 2 && lit[0] == '"' && bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1])
	}
	return lit.String()
}

// checkDepth rejects nesting deeper than maxDepth, skipping strings and
// comments, before the recursive parser sees the text.
func checkDepth(b []byte) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '/':
			if i+1 < len(b) && b[i+1] == '/' {
				for i < len(b) && b[i] != '\n' {
					i++
				}
			} else if i+1 < len(b) && b[i+1] == '*' {
				end := bytes.Index(b[i+2:], []byte("*/"))
				if end < 0 {
					return nil // the parser reports the unterminated comment
				}
				i += 2 + end + 1
			}
		case '{', '[':
			depth++
			if depth > maxDepth {
				line, col := lineCol(b, i)
				return &ParseError{Line: line, Column: col, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
