// Package tomldoc indexes the layout of a TOML document — where each table
// and key sits, by line and byte offset — and makes minimal edits to it.
//
// The decoder (BurntSushi/toml) gives values but no positions. Strict
// loading needs the line of every key to report problems, and rewriting a
// hand-kept file must change only the bytes of the keys it touches, keeping
// comments, order and layout. tomldoc reads the text directly; it trusts a
// document the decoder already accepted and only understands layout.
//
// It sits under scan, whose readers (tree_toml.go) own the client config
// formats, because that is the lowest of its users: scan reads Codex's
// config with it, shim/wrap edits client configs, the catalog and guard
// load and edit their own TOML files, and the CLI edits mcpgov's config.
// None of them is its owner and it imports nothing of mcpgov, so each of
// them uses it without importing another's domain.
package tomldoc

import (
	"slices"
	"strings"
)

// Doc is an indexed TOML document.
type Doc struct {
	Text   string
	Tables []Table         // every [table] and [[array]] header, in order
	keys   map[string]*Key // by full dotted path, NUL-joined
}

// Table is one table header and the block of lines it owns.
type Table struct {
	Path  []string
	Array bool
	Line  int // 1-based line of the header
	Start int // byte offset of the header line
	End   int // byte offset just past the block (the next header or EOF)
}

// Key is one key = value line.
type Key struct {
	Path       []string // full path: table path + dotted key
	Line       int
	Start      int // byte offset of the line
	ValueStart int // byte offset of the value
	ValueEnd   int // byte offset just past the value (multi-line arrays included)
	LineEnd    int // byte offset just past the line's newline (or EOF)
}

// Parse indexes text.
func Parse(text string) *Doc {
	d := &Doc{Text: text, keys: map[string]*Key{}}
	var current []string
	lineNo := 0
	// commentRun is where the comment lines directly above the current line
	// begin (-1 when there are none): a comment introducing a table belongs
	// to that table's block, not to the block before it.
	commentRun := -1
	for off := 0; off < len(text); {
		lineNo++
		end := strings.IndexByte(text[off:], '\n')
		next := len(text)
		if end >= 0 {
			next = off + end + 1
		}
		line := text[off:next]
		trimmed := strings.TrimSpace(stripComment(line))
		blockEnd := off
		if commentRun >= 0 {
			blockEnd = commentRun
		}
		if trimmed == "" && strings.HasPrefix(strings.TrimSpace(line), "#") {
			if commentRun < 0 {
				commentRun = off
			}
		} else {
			commentRun = -1
		}
		switch {
		case trimmed == "":
		case strings.HasPrefix(trimmed, "[["):
			path := SplitKey(strings.TrimSuffix(strings.TrimPrefix(trimmed, "[["), "]]"))
			d.closeTable(blockEnd)
			d.Tables = append(d.Tables, Table{Path: path, Array: true, Line: lineNo, Start: off, End: len(text)})
			current = path
		case strings.HasPrefix(trimmed, "["):
			path := SplitKey(strings.TrimSuffix(strings.TrimPrefix(trimmed, "["), "]"))
			d.closeTable(blockEnd)
			d.Tables = append(d.Tables, Table{Path: path, Line: lineNo, Start: off, End: len(text)})
			current = path
		default:
			eq := keyEnd(line)
			if eq < 0 {
				break
			}
			rel := SplitKey(line[:eq])
			full := append(append([]string{}, current...), rel...)
			vs := off + eq + 1
			for vs < len(text) && (text[vs] == ' ' || text[vs] == '\t') {
				vs++
			}
			ve := valueEnd(text, vs)
			k := &Key{Path: full, Line: lineNo, Start: off, ValueStart: vs, ValueEnd: ve}
			// A multi-line value owns the lines up to its end.
			if ve > next {
				if nl := strings.IndexByte(text[ve:], '\n'); nl >= 0 {
					next = ve + nl + 1
				} else {
					next = len(text)
				}
				span := strings.Count(text[off:next], "\n")
				if !strings.HasSuffix(text[off:next], "\n") {
					span++
				}
				lineNo += span - 1
			}
			k.LineEnd = next
			id := join(full)
			if _, seen := d.keys[id]; !seen {
				d.keys[id] = k
			}
		}
		off = next
	}
	return d
}

func (d *Doc) closeTable(off int) {
	if n := len(d.Tables); n > 0 {
		d.Tables[n-1].End = off
	}
}

func join(path []string) string { return strings.Join(path, "\x00") }

// Key returns the key at the full path, or nil.
func (d *Doc) Key(path ...string) *Key { return d.keys[join(path)] }

// Table returns the first table with exactly this path, or nil.
func (d *Doc) Table(path ...string) *Table {
	for i := range d.Tables {
		if slices.Equal(d.Tables[i].Path, path) {
			return &d.Tables[i]
		}
	}
	return nil
}

// Line is the line of a key or table at path, else of its nearest ancestor
// that has one, else 0.
func (d *Doc) Line(path ...string) int {
	for n := len(path); n > 0; n-- {
		if k := d.Key(path[:n]...); k != nil {
			return k.Line
		}
		if t := d.Table(path[:n]...); t != nil {
			return t.Line
		}
	}
	return 0
}

// Extent is the byte range of everything under path: its own table block and
// the blocks of its sub-tables that directly follow it.
func (d *Doc) Extent(path ...string) (start, end int, ok bool) {
	for i, t := range d.Tables {
		if !slices.Equal(t.Path, path) {
			continue
		}
		start, end = t.Start, t.End
		for _, u := range d.Tables[i+1:] {
			if !hasPrefix(u.Path, path) {
				break
			}
			end = u.End
		}
		return start, end, true
	}
	return 0, 0, false
}

func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// firstUnquoted returns the index of the first byte of line, outside TOML
// strings, that is in set, or -1.
func firstUnquoted(line, set string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case strings.IndexByte(set, c) >= 0:
			return i
		}
	}
	return -1
}

// stripComment removes a trailing # comment that is not inside a string.
func stripComment(line string) string {
	if i := firstUnquoted(line, "#"); i >= 0 {
		return line[:i]
	}
	return line
}

// keyEnd returns the index of the = that ends a key, outside quotes, or -1
// (also when a comment comes first).
func keyEnd(line string) int {
	if i := firstUnquoted(line, "=#"); i >= 0 && line[i] == '=' {
		return i
	}
	return -1
}

// valueEnd finds the end of the value starting at i: a string (basic,
// literal or multi-line), an array or inline table (bracket-balanced across
// lines), or a bare scalar up to a comment or newline.
func valueEnd(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch {
	case strings.HasPrefix(s[i:], `"""`), strings.HasPrefix(s[i:], `'''`):
		delim := s[i : i+3]
		if e := strings.Index(s[i+3:], delim); e >= 0 {
			end := i + 3 + e + 3
			for end < len(s) && s[end] == delim[0] { // """a"""" edge
				end++
			}
			return end
		}
		return len(s)
	case s[i] == '"' || s[i] == '\'':
		q := s[i]
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' && q == '"' {
				j++
				continue
			}
			if s[j] == q || s[j] == '\n' {
				return j + 1
			}
		}
		return len(s)
	case s[i] == '[' || s[i] == '{':
		depth := 0
		var quote byte
		for j := i; j < len(s); j++ {
			c := s[j]
			switch {
			case quote != 0:
				if c == '\\' && quote == '"' {
					j++
				} else if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#':
				for j < len(s) && s[j] != '\n' {
					j++
				}
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && s[j] != '\n' && s[j] != '#' && s[j] != '\r' {
		j++
	}
	return i + len(strings.TrimRight(s[i:j], " \t"))
}

// SplitKey splits a dotted TOML key, honouring quoted parts.
func SplitKey(s string) []string {
	var parts []string
	s = strings.TrimSpace(s)
	for s != "" {
		var part string
		switch s[0] {
		case '"':
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
			part, s = unquote(s[:end+1]), s[end+1:]
		case '\'':
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
		s = strings.TrimSpace(s)
	}
	return parts
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(s[1 : len(s)-1])
	}
	return s
}

// KeysIn lists the keys defined directly in table t (dotted keys by their
// first part), in file order.
func (d *Doc) KeysIn(t *Table) []string {
	type kl struct {
		name string
		line int
	}
	var found []kl
	seen := map[string]bool{}
	for _, k := range d.keys {
		if k.Start < t.Start || k.Start >= t.End || len(k.Path) <= len(t.Path) || !hasPrefix(k.Path, t.Path) {
			continue
		}
		name := k.Path[len(t.Path)]
		if !seen[name] {
			seen[name] = true
			found = append(found, kl{name, k.Line})
		}
	}
	for i := 1; i < len(found); i++ {
		for j := i; j > 0 && found[j].line < found[j-1].line; j-- {
			found[j], found[j-1] = found[j-1], found[j]
		}
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.name
	}
	return out
}

// Find returns the line where path is defined: its key, its table header,
// or else the first key or table below it (a dotted key such as
// `docs.command = …` defines "docs" where it first appears).
func (d *Doc) Find(path ...string) (int, bool) {
	if k := d.Key(path...); k != nil {
		return k.Line, true
	}
	if t := d.Table(path...); t != nil {
		return t.Line, true
	}
	line := 0
	for _, k := range d.keys {
		if len(k.Path) > len(path) && hasPrefix(k.Path, path) && (line == 0 || k.Line < line) {
			line = k.Line
		}
	}
	for _, t := range d.Tables {
		if len(t.Path) > len(path) && hasPrefix(t.Path, path) && (line == 0 || t.Line < line) {
			line = t.Line
		}
	}
	return line, line > 0
}
