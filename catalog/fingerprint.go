package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ToolDef is one tool as a server advertises it in a tools/list result. The
// JSON-valued fields are kept as the server sent them, so a fingerprint taken
// here matches one the shim takes on the raw wire message, including
// annotation keys and schema keywords this program does not know.
type ToolDef struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

// ParseToolDef reads one tool object from a tools/list result. Fields other
// than the six that are fingerprinted (_meta, icons, execution, …) are
// ignored.
func ParseToolDef(raw json.RawMessage) (ToolDef, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return ToolDef{}, fmt.Errorf("tool is not a JSON object: %w", err)
	}
	if fields == nil {
		return ToolDef{}, errors.New("tool is null")
	}
	var t ToolDef
	for key, dst := range map[string]*string{"name": &t.Name, "title": &t.Title, "description": &t.Description} {
		v, ok := fields[key]
		if !ok || isJSONNull(v) {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return ToolDef{}, fmt.Errorf("tool field %q is not a string", key)
		}
	}
	if t.Name == "" {
		return ToolDef{}, errors.New("tool has no name")
	}
	for key, dst := range map[string]*json.RawMessage{"inputSchema": &t.InputSchema, "outputSchema": &t.OutputSchema, "annotations": &t.Annotations} {
		if v, ok := fields[key]; ok && !isJSONNull(v) {
			*dst = slices.Clone(v)
		}
	}
	return t, nil
}

// ParseToolDefs reads the "tools" array of a tools/list result.
func ParseToolDefs(tools json.RawMessage) ([]ToolDef, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(tools, &raws); err != nil {
		return nil, fmt.Errorf("tools is not a JSON array: %w", err)
	}
	defs := make([]ToolDef, 0, len(raws))
	for i, raw := range raws {
		t, err := ParseToolDef(raw)
		if err != nil {
			return nil, fmt.Errorf("tool %d: %w", i, err)
		}
		defs = append(defs, t)
	}
	return defs, nil
}

// FingerprintPrefix starts every fingerprint and names its hash.
const FingerprintPrefix = "sha256:"

// Fingerprint returns "sha256:" and the hex SHA-256 of the canonical JSON of
// exactly the tool's name, title, description, inputSchema, outputSchema and
// annotations. All six keys are always present: an absent or null JSON field
// is null, an absent string is "". Canonical JSON follows RFC 8785 (JCS):
// keys sorted by UTF-16 code units, no insignificant whitespace, numbers as
// ECMAScript prints IEEE doubles, strings with only the mandatory escapes. So
// key order, whitespace, escape style and number spelling in the server's JSON
// never change the fingerprint; any change of meaning does.
//
// Two deviations keep the function total: a duplicate object key keeps the
// last value (as JavaScript's JSON.parse does), a number too large for a
// double keeps its literal text, and a field that is not valid JSON is hashed
// as the string "invalid JSON: " followed by its bytes. Fields taken from a
// decoded tools/list message are always valid JSON.
func Fingerprint(t ToolDef) string {
	sum := sha256.Sum256(canonicalToolJSON(t))
	return FingerprintPrefix + hex.EncodeToString(sum[:])
}

// canonicalToolJSON is the exact byte string Fingerprint hashes; keys are
// written in JCS order.
func canonicalToolJSON(t ToolDef) []byte {
	var b bytes.Buffer
	b.WriteString(`{"annotations":`)
	writeCanonicalRaw(&b, t.Annotations)
	b.WriteString(`,"description":`)
	writeCanonicalString(&b, t.Description)
	b.WriteString(`,"inputSchema":`)
	writeCanonicalRaw(&b, t.InputSchema)
	b.WriteString(`,"name":`)
	writeCanonicalString(&b, t.Name)
	b.WriteString(`,"outputSchema":`)
	writeCanonicalRaw(&b, t.OutputSchema)
	b.WriteString(`,"title":`)
	writeCanonicalString(&b, t.Title)
	b.WriteByte('}')
	return b.Bytes()
}

// CanonicalJSON returns the RFC 8785 canonical form of a JSON document.
func CanonicalJSON(raw []byte) ([]byte, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeCanonicalRaw writes a JSON field value: absent and null are null;
// invalid JSON falls back to a string of its bytes so the result still
// depends on every byte.
func writeCanonicalRaw(b *bytes.Buffer, raw json.RawMessage) {
	if isJSONNull(raw) {
		b.WriteString("null")
		return
	}
	v, err := decodeJSON(raw)
	if err == nil {
		mark := b.Len()
		if err = writeCanonical(b, v); err == nil {
			return
		}
		b.Truncate(mark)
	}
	writeCanonicalString(b, "invalid JSON: "+string(raw))
}

func isJSONNull(raw []byte) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// decodeJSON parses one JSON value keeping numbers as their literal text.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func writeCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeCanonicalString(b, v)
	case json.Number:
		b.WriteString(canonicalNumber(string(v)))
	case float64:
		b.WriteString(formatES6(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalString(b, k)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("canonical JSON: unexpected %T", v)
	}
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785 §3.2.3
// requires (it differs from byte order only above U+FFFF).
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Units(ra), utf16Units(rb)
			if c := slices.Compare(ua, ub); c != 0 {
				return c
			}
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func utf16Units(r rune) []uint16 {
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		return []uint16{uint16(r1), uint16(r2)}
	}
	return []uint16{uint16(r)}
}

// writeCanonicalString writes s as RFC 8785 §3.2.2.2 requires: only '"',
// '\\' and control characters are escaped, with the short forms where JSON
// has them; everything else is literal UTF-8. Invalid UTF-8 becomes U+FFFD.
func writeCanonicalString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// canonicalNumber formats a JSON number literal the way RFC 8785 does: parsed
// as an IEEE double and printed as ECMAScript's Number.prototype.toString.
// A literal outside the double range keeps its text.
func canonicalNumber(lit string) string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return lit
	}
	return formatES6(f)
}

// formatES6 prints f as ECMAScript's Number::toString (ECMA-262 §6.1.6.1.20)
// with the shortest round-tripping digits.
func formatES6(f float64) string {
	if f == 0 {
		return "0" // also -0
	}
	var sign string
	if f < 0 {
		sign, f = "-", -f
	}
	// "d.ddde±XX": digits and the decimal exponent of the first digit.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expText, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expText)
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		expSign := "+"
		if n-1 < 0 {
			expSign = "-"
		}
		exp := strconv.Itoa(abs(n - 1))
		if k == 1 {
			out = digits + "e" + expSign + exp
		} else {
			out = digits[:1] + "." + digits[1:] + "e" + expSign + exp
		}
	}
	return sign + out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// PinChangeKind says how a tool differs from its pin.
type PinChangeKind string

// The kinds of PinChange.
const (
	PinNew     PinChangeKind = "new"     // advertised but not pinned
	PinRemoved PinChangeKind = "removed" // pinned but no longer advertised
	PinDrift   PinChangeKind = "drift"   // same name, different definition
	PinRenamed PinChangeKind = "renamed" // pinned definition now under another name
)

// PinChange is one difference between the pinned fingerprints and the tools
// a server advertises now.
type PinChange struct {
	Kind PinChangeKind `json:"kind"`
	// Tool is the tool's current name; for removed, its pinned name.
	Tool string `json:"tool"`
	// From is the pinned name of a renamed tool.
	From string `json:"from,omitempty"`
	// Pinned is the pinned fingerprint (drift, removed, renamed).
	Pinned string `json:"pinned,omitempty"`
	// Current is the fingerprint the tool has now (new, drift, renamed).
	Current string `json:"current,omitempty"`
}

func (c PinChange) String() string {
	switch c.Kind {
	case PinRenamed:
		return fmt.Sprintf("renamed %s -> %s", c.From, c.Tool)
	default:
		return fmt.Sprintf("%s %s", c.Kind, c.Tool)
	}
}

// ComparePins compares pinned fingerprints (tool name → fingerprint) with the
// tools a server advertises now. A pinned tool that reappears under another
// name with an otherwise identical definition is reported once as renamed,
// never as new plus removed; since the name is part of the fingerprint, that
// is checked by fingerprinting the new tool under the old name. The result is
// sorted by tool name, then kind. If a server lists a name twice, the first
// definition counts.
func ComparePins(pins map[string]string, tools []ToolDef) []PinChange {
	var changes []PinChange
	current := make(map[string]ToolDef, len(tools))
	var unpinned []ToolDef
	for _, t := range tools {
		if _, dup := current[t.Name]; dup {
			continue
		}
		current[t.Name] = t
		pinned, ok := pins[t.Name]
		fp := Fingerprint(t)
		switch {
		case !ok:
			unpinned = append(unpinned, t)
		case !sameFingerprint(pinned, fp):
			changes = append(changes, PinChange{Kind: PinDrift, Tool: t.Name, Pinned: pinned, Current: fp})
		}
	}
	var gone []string
	for name := range pins {
		if _, ok := current[name]; !ok {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	slices.SortFunc(unpinned, func(a, b ToolDef) int { return strings.Compare(a.Name, b.Name) })

	matched := make(map[string]bool, len(gone))
	for _, t := range unpinned {
		kind, from := PinNew, ""
		for _, old := range gone {
			if matched[old] {
				continue
			}
			renamed := t
			renamed.Name = old
			if sameFingerprint(pins[old], Fingerprint(renamed)) {
				kind, from = PinRenamed, old
				matched[old] = true
				break
			}
		}
		c := PinChange{Kind: kind, Tool: t.Name, From: from, Current: Fingerprint(t)}
		if kind == PinRenamed {
			c.Pinned = pins[from]
		}
		changes = append(changes, c)
	}
	for _, name := range gone {
		if !matched[name] {
			changes = append(changes, PinChange{Kind: PinRemoved, Tool: name, Pinned: pins[name]})
		}
	}
	slices.SortFunc(changes, func(a, b PinChange) int {
		if c := strings.Compare(a.Tool, b.Tool); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return changes
}

// sameFingerprint compares fingerprints ignoring the case of the hex digits,
// so a pin written by hand in upper case still matches.
func sameFingerprint(a, b string) bool { return strings.EqualFold(a, b) }
