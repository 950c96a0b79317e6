package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Output formats shared by commands that print reports.
const (
	formatTable = "table"
	formatPlain = "plain"
	formatTSV   = "tsv" // plain, with a header line naming the columns
	formatJSON  = "json"
	formatSARIF = "sarif"
)

// resolveFormat picks the output format once: an explicit --format wins,
// --json means json, otherwise a table for people and plain lines for pipes.
func resolveFormat(io *IOStreams, explicit string, jsonFlag bool, allowed ...string) (string, error) {
	if jsonFlag {
		if explicit != "" && explicit != formatJSON {
			return "", flagErrorf("--json and --format %s disagree; use one of them", explicit)
		}
		return formatJSON, nil
	}
	if explicit == "" {
		if io.IsStdoutTTY() {
			return formatTable, nil
		}
		return formatPlain, nil
	}
	for _, a := range allowed {
		if explicit == a {
			return explicit, nil
		}
	}
	return "", flagErrorf("invalid --format %q: want one of %s", explicit, strings.Join(allowed, ", "))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTabWriter aligns tab-separated cells for people; see tableWriter.
func newTabWriter(w io.Writer) *tableWriter { return newTableWriter(w) }

// palette colours text when the terminal allows it.
type palette struct{ on bool }

func (p palette) wrap(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) bold(s string) string { return p.wrap("1", s) }
func (p palette) dim(s string) string  { return p.wrap("2", s) }

func (p palette) severity(sev, s string) string {
	switch sev {
	case "critical":
		return p.wrap("1;31", s)
	case "high":
		return p.wrap("31", s)
	case "medium":
		return p.wrap("33", s)
	case "low":
		return p.wrap("36", s)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
