package scan

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// parseTOML reads TOML. The decoder keeps no positions, so lines of tables
// are recovered from their headers (tomlLines).
func parseTOML(text []byte) (*node, error) {
	var m map[string]any
	if _, err := toml.Decode(string(text), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ParseError{Line: pe.Position.Line, Column: pe.Position.Col, Msg: pe.Message}
		}
		return nil, &ParseError{Msg: err.Error()}
	}
	root := fromTOML(m, 1)
	lines := tomlLines(text)
	setTOMLLines(root, nil, lines)
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
func setTOMLLines(n *node, prefix []string, lines map[string]int) {
	if n.kind != kObject {
		return
	}
	for i := range n.members {
		m := &n.members[i]
		key := append(append([]string(nil), prefix...), m.key)
		if l, ok := lines[strings.Join(key, "\x00")]; ok {
			m.line = l
			m.val.line = l
			setAllLines(m.val, l)
		} else if l, ok := lines[strings.Join(prefix, "\x00")]; ok && len(prefix) > 0 {
			m.line = l
		}
		setTOMLLines(m.val, key, lines)
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

var tomlHeader = regexp.MustCompile(`^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$`)
var tomlKeyLine = regexp.MustCompile(`^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]`)

// tomlLines maps dotted table paths (joined with NUL) to the line of their
// header, and keys directly under a header (inline tables, dotted keys) to
// their own line.
func tomlLines(text []byte) map[string]int {
	out := map[string]int{}
	var current []string
	for i, raw := range strings.Split(string(text), "\n") {
		line := i + 1
		if m := tomlHeader.FindStringSubmatch(raw); m != nil {
			current = splitTOMLKey(m[1])
			k := strings.Join(current, "\x00")
			if _, seen := out[k]; !seen {
				out[k] = line
			}
			continue
		}
		if m := tomlKeyLine.FindStringSubmatch(raw); m != nil {
			k := strings.Join(append(append([]string(nil), current...), unquoteTOMLKey(m[1])), "\x00")
			if _, seen := out[k]; !seen {
				out[k] = line
			}
		}
	}
	return out
}

// splitTOMLKey splits a dotted key, honouring quoted parts.
func splitTOMLKey(s string) []string {
	var parts []string
	for len(s) > 0 {
		s = strings.TrimSpace(s)
		var part string
		switch {
		case strings.HasPrefix(s, `"`):
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				end = len(s) - 1
			}
			part, s = unquoteTOMLKey(s[:end+1]), s[end+1:]
		case strings.HasPrefix(s, `'`):
			end := strings.IndexByte(s[1:], '\'') + 1
			if end <= 0 {
				end = len(s) - 1
			}
			part, s = s[1:end], s[end+1:]
		default:
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			part, s = strings.TrimSpace(s[:end]), s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(s, ".")
	}
	return parts
}

func unquoteTOMLKey(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		inner := s[1 : len(s)-1]
		if s[0] == '"' {
			inner = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(inner)
		}
		return inner
	}
	return s
}
