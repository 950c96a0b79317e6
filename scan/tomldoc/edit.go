package tomldoc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Set returns the text with the key at path set to the TOML literal value.
// An existing value is replaced in place (its line, comments and layout
// kept); a new key is added after the last key of its table; a missing table
// is added after its parent's block. The result is re-indexed by the caller
// as needed.
func (d *Doc) Set(value string, path ...string) string {
	if k := d.Key(path...); k != nil {
		return d.Text[:k.ValueStart] + value + d.Text[k.ValueEnd:]
	}
	table, key := path[:len(path)-1], path[len(path)-1]
	line := FormatKey(key) + " = " + value + d.newline()
	if t := d.Table(table...); t != nil {
		at := d.lastKeyEnd(t)
		return d.Text[:at] + line + d.Text[at:]
	}
	// New table, placed after everything its parent owns.
	at := len(d.Text)
	for n := len(table) - 1; n > 0; n-- {
		if _, end, ok := d.Extent(table[:n]...); ok {
			at = end
			break
		}
	}
	header := "[" + FormatPath(table) + "]" + d.newline()
	prefix := ""
	if at > 0 && !strings.HasSuffix(d.Text[:at], "\n") {
		prefix = d.newline()
	}
	// Keep a blank line between blocks when the file uses them.
	if at > 0 && !strings.HasSuffix(d.Text[:at], "\n\n") && !strings.HasSuffix(d.Text[:at], "\r\n\r\n") {
		prefix += d.newline()
	}
	suffix := ""
	if at < len(d.Text) {
		suffix = d.newline()
	}
	return d.Text[:at] + prefix + header + line + suffix + d.Text[at:]
}

// lastKeyEnd is the offset just past the last key line of table t, or past
// its header when it has none, so new keys join the table's own lines rather
// than the comments and blank lines that introduce the next block.
func (d *Doc) lastKeyEnd(t *Table) int {
	end := -1
	for _, k := range d.keys {
		if k.Start >= t.Start && k.Start < t.End && k.LineEnd > end {
			end = k.LineEnd
		}
	}
	if end >= 0 {
		return end
	}
	if nl := strings.IndexByte(d.Text[t.Start:], '\n'); nl >= 0 {
		return t.Start + nl + 1
	}
	return len(d.Text)
}

// newline is the document's line ending.
func (d *Doc) newline() string {
	if strings.Contains(d.Text, "\r\n") {
		return "\r\n"
	}
	return "\n"
}

// String formats a TOML basic string.
func String(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u` + strconv.FormatInt(int64(r)+0x10000, 16)[1:])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Date formats a TOML local date.
func Date(t time.Time) string { return t.Format("2006-01-02") }

// Strings formats an array of strings on one line.
func Strings(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = String(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// FormatKey writes a key bare when it can be, quoted otherwise.
func FormatKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return String(k)
		}
	}
	return k
}

// FormatPath writes a dotted key path.
func FormatPath(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = FormatKey(p)
	}
	return strings.Join(parts, ".")
}

// Int formats an integer.
func Int(n int64) string { return fmt.Sprint(n) }

// Delete returns the text without the key line at path (and the lines of a
// multi-line value); a missing key leaves the text unchanged.
func (d *Doc) Delete(path ...string) string {
	k := d.Key(path...)
	if k == nil {
		return d.Text
	}
	return d.Text[:k.Start] + d.Text[k.LineEnd:]
}
