package tui

import "strings"

// window is the scrolling list both views share: the items the filter
// keeps, the selected one, and the first one on screen. A view embeds it
// and draws each row itself.
type window struct {
	shown  []int // indexes into the view's items after filtering
	cursor int   // index into shown
	offset int   // first shown row on screen
}

// move moves the selection by d rows and scrolls so that it stays within
// a list of height rows.
func (w *window) move(d, height int) {
	if len(w.shown) == 0 {
		return
	}
	w.cursor = max(0, min(len(w.shown)-1, w.cursor+d))
	if w.cursor < w.offset {
		w.offset = w.cursor
	}
	if w.cursor >= w.offset+height {
		w.offset = w.cursor - height + 1
	}
}

// refill replaces the shown items and selects the first.
func (w *window) refill(shown []int) {
	w.shown, w.cursor, w.offset = shown, 0, 0
}

// render writes height rows: row(item, selected) for each item on screen,
// blank lines below the last, or a note when the filter kept nothing.
func (w *window) render(b *strings.Builder, height int, row func(item int, selected bool) string) {
	if len(w.shown) == 0 {
		b.WriteString(dim + "  no server matches" + reset + "\n")
		for range height - 1 {
			b.WriteString("\n")
		}
		return
	}
	for r := w.offset; r < w.offset+height; r++ {
		if r >= len(w.shown) {
			b.WriteString("\n")
			continue
		}
		b.WriteString(row(w.shown[r], r == w.cursor))
		b.WriteString("\n")
	}
}
