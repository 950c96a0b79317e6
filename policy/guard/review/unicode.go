package review

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// Invisible and control characters that hide text from a person reading a
// tool description while the model still reads it.
func isTagChar(r rune) bool { return r >= 0xE0000 && r <= 0xE007F }

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

func isZeroWidth(r rune) bool {
	return (r >= 0x200B && r <= 0x200D) || r == 0x2060 || r == 0xFEFF
}

func isVariationSelector(r rune) bool {
	return (r >= 0xFE00 && r <= 0xFE0F) || (r >= 0xE0100 && r <= 0xE01EF)
}

// IsInvisible reports runes that print as nothing (or that a terminal
// interprets) and so are dropped from the text the phrase rules read and
// rendered as <U+XXXX> in evidence.
func IsInvisible(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || (r >= 0x7F && r <= 0x9F):
		return true
	case isTagChar(r), isVariationSelector(r), isZeroWidth(r), isBidiControl(r):
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// Visible renders s with every invisible, control, private-use or unusual
// space character spelled <U+XXXX>, invalid UTF-8 as <0xXX>, and line
// breaks and tabs escaped, so evidence never carries the hidden payload raw.
func Visible(s string) string {
	if printableASCII(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "<0x%02X>", s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case IsInvisible(r), unicode.Is(unicode.Co, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r),
			r != ' ' && unicode.Is(unicode.Zs, r), r == utf8.RuneError:
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// hiddenUnicode reports invisible characters in one text field. Tag
// characters and variation-selector runs can carry a whole ASCII message;
// it is decoded, shown in the message, and returned for the phrase rules.
func (r *reviewer) hiddenUnicode(field, s string) (hidden []string) {
	type class struct {
		sev   finding.Severity
		msg   string
		count int
		first int
		size  int
	}
	var (
		tags, bidi, zw, ctrl, ansi, otherCf, mild, vsRun class
		tagText                                          strings.Builder
		vsBytes                                          []byte
		runLen                                           int
		prev                                             rune
	)
	note := func(c *class, at int) {
		if c.count == 0 {
			c.first = at
			_, c.size = utf8.DecodeRuneInString(s[at:])
		}
		c.count++
	}
	flushVS := func() {
		if runLen >= 2 && len(vsBytes) > 0 {
			hidden = append(hidden, string(vsBytes))
		}
		runLen, vsBytes = 0, nil
	}
	for i, c := range s {
		if isVariationSelector(c) {
			// One selector after an emoji or ideograph is ordinary; a run of
			// them encodes bytes (U+FE00+b for b<16, U+E0100+b-16 otherwise).
			runLen++
			if c >= 0xE0100 {
				vsBytes = append(vsBytes, byte(c-0xE0100+16))
			} else {
				vsBytes = append(vsBytes, byte(c-0xFE00))
			}
			if runLen == 2 {
				note(&vsRun, i)
			}
			if runLen > 2 {
				vsRun.count++
			}
			continue
		}
		flushVS()
		switch {
		case isTagChar(c):
			note(&tags, i)
			if c >= 0xE0020 && c <= 0xE007E {
				tagText.WriteRune(c - 0xE0000)
			}
		case isBidiControl(c):
			note(&bidi, i)
		case c == 0x200D || c == 0x200C:
			// Joiners are part of emoji sequences and of Arabic and Indic
			// words; only joiners between ASCII characters hide anything.
			if prev < 0x80 {
				note(&zw, i)
			}
		case c == 0xFEFF && i == 0:
			note(&mild, i) // a byte-order mark at the start is sloppy, not hostile
		case isZeroWidth(c):
			note(&zw, i)
		case c == 0x1B:
			note(&ansi, i)
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c >= 0x7F && c <= 0x9F:
			note(&ctrl, i)
		case c == 0x00AD || c == 0x200E || c == 0x200F || c == 0x061C:
			note(&mild, i) // soft hyphen and direction marks occur in real text
		case unicode.Is(unicode.Cf, c):
			note(&otherCf, i)
		}
		prev = c
	}
	flushVS()

	if tags.count > 0 {
		decoded := tagText.String()
		tags.sev = finding.SeverityCritical
		tags.msg = fmt.Sprintf("%d invisible Unicode tag characters (U+E0000–U+E007F)", tags.count)
		if decoded != "" {
			tags.msg += fmt.Sprintf(" spell the hidden text %q", clip(decoded, 300))
			hidden = append(hidden, decoded)
		}
	}
	if vsRun.count > 0 {
		vsRun.sev = finding.SeverityHigh
		vsRun.msg = fmt.Sprintf("%d invisible variation selectors in a row can smuggle bytes", vsRun.count+1)
		for _, h := range hidden {
			if printableASCII(h) {
				vsRun.msg += fmt.Sprintf("; they decode to %q", clip(h, 300))
				break
			}
		}
	}
	bidi.sev, bidi.msg = finding.SeverityHigh, "bidirectional control characters reorder how the text is displayed"
	zw.sev, zw.msg = finding.SeverityMedium, "zero-width characters hide inside the text"
	ansi.sev, ansi.msg = finding.SeverityHigh, "terminal escape sequences can hide or overwrite text when displayed"
	ctrl.sev, ctrl.msg = finding.SeverityMedium, "control characters in the text"
	otherCf.sev, otherCf.msg = finding.SeverityMedium, "invisible format characters (Unicode Cf) in the text"
	mild.sev, mild.msg = finding.SeverityLow, "soft hyphens, direction marks or a byte-order mark in the text"
	for _, c := range []*class{&tags, &vsRun, &bidi, &ansi, &zw, &ctrl, &otherCf, &mild} {
		if c.count == 0 {
			continue
		}
		msg := c.msg
		if c != &tags && c != &vsRun {
			msg = fmt.Sprintf("%s (%d)", msg, c.count)
		}
		r.add(Finding{
			Rule:     RuleHiddenUnicode,
			Severity: c.sev,
			Message:  msg,
			Field:    field,
			Evidence: evidence(s, c.first, c.first+c.size),
		})
	}
	return hidden
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return s != ""
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// evidence is a short excerpt of s around s[start:end], rendered visible.
// Invisible characters render as nine-byte <U+XXXXX> tokens, so the window is
// counted in runes of the original, and the result is bounded either way.
func evidence(s string, start, end int) string {
	const before, after, maxMatch = 40, 40, 120
	if end-start > maxMatch {
		end = start + maxMatch
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
	}
	lo := start
	for n := 0; lo > 0 && n < before; n++ {
		_, size := utf8.DecodeLastRuneInString(s[:lo])
		lo -= size
	}
	hi := end
	for n := 0; hi < len(s) && n < after; n++ {
		_, size := utf8.DecodeRuneInString(s[hi:])
		hi += size
	}
	out := Visible(s[lo:hi])
	const maxOut = 320
	if len(out) > maxOut {
		out = clip(out, maxOut)
		out = strings.TrimSuffix(out, "…")
		out += "…"
	} else if hi < len(s) {
		out += "…"
	}
	if lo > 0 {
		out = "…" + out
	}
	return out
}
