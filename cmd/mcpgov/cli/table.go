package cli

import (
	"bytes"
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// tableWriter aligns tab-separated cells into columns like text/tabwriter,
// but measures each cell by what a terminal shows: ANSI colour sequences
// take no width, and wide characters take two columns. (text/tabwriter
// counts the bytes of colour codes, so coloured cells pushed the columns
// out of line.) Cells are padded to their column's width plus two spaces;
// the text after a line's last tab is not padded.
type tableWriter struct {
	w   io.Writer
	buf bytes.Buffer
}

func newTableWriter(w io.Writer) *tableWriter { return &tableWriter{w: w} }

// Write buffers p; nothing is written before Flush.
func (t *tableWriter) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes the buffered lines, aligned, and empties the buffer.
func (t *tableWriter) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	trailing := strings.HasSuffix(text, "\n")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	rows := make([][]string, len(lines))
	var widths []int
	for i, line := range lines {
		rows[i] = strings.Split(line, "\t")
		for c, cell := range rows[i][:len(rows[i])-1] {
			if c == len(widths) {
				widths = append(widths, 0)
			}
			widths[c] = max(widths[c], ansi.StringWidth(cell))
		}
	}
	var out strings.Builder
	for i, cells := range rows {
		for c, cell := range cells {
			out.WriteString(cell)
			if c < len(cells)-1 {
				out.WriteString(strings.Repeat(" ", widths[c]-ansi.StringWidth(cell)+2))
			}
		}
		if i < len(rows)-1 || trailing {
			out.WriteByte('\n')
		}
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}
