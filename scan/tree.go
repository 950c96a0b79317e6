package scan

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the type of a node in a parsed config file.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

// node is a config value with the line it starts on, whatever format it was
// read from. Objects keep their members in file order.
type node struct {
	kind    kind
	line    int
	str     string // string value; literal text of numbers and bools
	boolean bool
	members []member
	items   []*node
}

type member struct {
	key  string
	line int
	val  *node
}

// get returns the member named key, or nil. When a key repeats, the last one
// wins, as in the clients' own JSON parsers.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

// path follows nested object keys.
func (n *node) path(keys ...string) *node {
	for _, k := range keys {
		n = n.get(k)
	}
	return n
}

// text returns a scalar as a string ("" for objects, arrays and null).
func (n *node) text() string {
	if n == nil {
		return ""
	}
	switch n.kind {
	case kString, kNumber, kBool:
		return n.str
	}
	return ""
}

// isTrue reports whether n is the boolean true (or the string "true").
func (n *node) isTrue() bool {
	return n != nil && (n.kind == kBool && n.boolean || n.kind == kString && strings.EqualFold(n.str, "true"))
}

// isFalse reports whether n is the boolean false (or the string "false").
func (n *node) isFalse() bool {
	return n != nil && (n.kind == kBool && !n.boolean || n.kind == kString && strings.EqualFold(n.str, "false"))
}

// strings returns an array's scalar items as text.
func (n *node) strings() []string {
	if n == nil || n.kind != kArray {
		return nil
	}
	out := make([]string, 0, len(n.items))
	for _, it := range n.items {
		out = append(out, it.text())
	}
	return out
}

// ParseError is a syntax error at a position in a file.
type ParseError struct {
	Line, Column int
	Msg          string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

var errEmpty = errors.New("file is empty")

// format is the syntax of a config file.
type format int

const (
	formatJSON format = iota // JSON, JSONC and JSON5-ish (comments, trailing commas)
	formatTOML
	formatYAML
	formatDockerfile // instruction lines
)

// decodeText normalises raw file bytes to UTF-8 text: it drops a UTF-8 byte
// order mark and decodes UTF-16 files (Notepad's "Unicode") by their BOM.
func decodeText(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		little := b[0] == 0xFF
		b = b[2:]
		if len(b)%2 != 0 {
			return nil, &ParseError{Msg: "UTF-16 file has an odd number of bytes"}
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if little {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		b = []byte(string(utf16.Decode(u)))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errEmpty
	}
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, size := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		line, col := lineCol(b, off)
		return nil, &ParseError{Line: line, Column: col, Msg: "invalid UTF-8"}
	}
	return b, nil
}

// parse reads text in the given format into a tree whose root is an object.
func parse(text []byte, f format) (*node, error) {
	var (
		root *node
		err  error
	)
	switch f {
	case formatTOML:
		root, err = parseTOML(text)
	case formatYAML:
		root, err = parseYAML(text)
	case formatDockerfile:
		root = parseDockerfile(text)
	default:
		root, err = parseJSON(text)
	}
	if err != nil {
		return nil, err
	}
	if root == nil || root.kind != kObject {
		return nil, &ParseError{Line: lineOf(root), Column: 1, Msg: fmt.Sprintf("top-level value is %s, expected an object", kindName(root))}
	}
	return root, nil
}

func lineOf(n *node) int {
	if n == nil {
		return 0
	}
	return n.line
}

func kindName(n *node) string {
	if n == nil {
		return "empty"
	}
	switch n.kind {
	case kNull:
		return "null"
	case kBool:
		return "a boolean"
	case kNumber:
		return "a number"
	case kString:
		return "a string"
	case kArray:
		return "an array"
	}
	return "an object"
}

// lineIndex maps byte offsets to 1-based lines.
type lineIndex []int

func newLineIndex(b []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range b {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (li lineIndex) line(off int) int {
	return sort.Search(len(li), func(i int) bool { return li[i] > off })
}

func lineCol(b []byte, off int) (int, int) {
	if off > len(b) {
		off = len(b)
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

func scalar(k kind, line int, s string) *node {
	n := &node{kind: k, line: line, str: s}
	if k == kBool {
		n.boolean, _ = strconv.ParseBool(s)
	}
	return n
}
