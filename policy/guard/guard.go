// Package guard holds mcpgov's guardrails: the checks that run on a tool
// call's arguments before it goes upstream (pre), on its result before the
// client sees it (post), and on a tool's advertised definition (describe).
//
// Every check is literal-anchored: it finds a cheap anchor (a byte, a
// keyword, a token prefix) first and only then runs a small validator on a
// window around it, so the cost per call stays in microseconds (DESIGN §4).
// JSON payloads are decoded once into Leaves that every check shares.
//
// A Set is what guardrails.toml describes: named guardrails, each of one
// kind, with a mode, hooks and server/tool scopes. Set.Run applies the
// guardrails that are in scope and returns one Result per guardrail; the
// policy pipeline turns them into a decision.
package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Hooks.
const (
	HookPre      = "pre"
	HookPost     = "post"
	HookDescribe = "describe"
)

// Modes of a guardrail (DESIGN §4).
const (
	// ModeEnforce blocks on a violation and on an error.
	ModeEnforce = "enforce"
	// ModeEnforceIgnoreError blocks on a violation and passes on an error.
	ModeEnforceIgnoreError = "enforce_ignore_error"
	// ModeAudit never blocks; what it would have blocked is recorded.
	ModeAudit = "audit"
)

// Finding is one thing a check found. Message never carries the offending
// value (no secret or PII in records); Leaf, Start and End locate it for
// redaction.
type Finding struct {
	Rule    string
	Message string
	// Leaf is the index of the string in Payload.Leaves, -1 when the
	// finding is about the payload as a whole.
	Leaf int
	// Start and End are byte offsets into the leaf's value; End is 0 when
	// the finding has no span.
	Start, End int
	// Category names what was found for redaction (email, card, …).
	Category string
}

// Leaf is one string of a payload: a value, or an object key when IsKey
// is set. Path is a JSONPath-like location ("$.rows[2].email"); it names
// keys as they are, so it is for locating, not for showing (ShownPath).
type Leaf struct {
	Path  string
	Key   string // the object key this value belongs to ("" in arrays)
	Value string
	IsKey bool
	// Base64 is set when Value is the decoded text of a base64 string:
	// the blob of an embedded resource. Redaction encodes it back.
	Base64 bool

	up int // 1 + index of the key leaf of the enclosing member; 0 at the top
}

// Payload is a JSON value's string leaves; the decoded value itself is
// built only when asked for (Decoded).
type Payload struct {
	Raw    json.RawMessage
	Leaves []Leaf
	Bytes  int // size of Raw
	// IsJSON is false for a payload that is not JSON (one text leaf).
	IsJSON bool
	// Truncated is set when the payload was larger than the scan limit:
	// only its first limit bytes of strings were collected.
	Truncated bool

	decodeOnce sync.Once
	value      any

	hasBlob bool // a "blob" member was seen

	shownMu sync.Mutex
	shown   map[int]string // key leaf -> its masked form, "" when clean
}

// Decoded returns the decoded value (numbers as json.Number), or nil for a
// payload that is not JSON.
func (p *Payload) Decoded() any {
	p.decodeOnce.Do(func() {
		if !p.IsJSON {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(p.Raw))
		dec.UseNumber()
		_ = dec.Decode(&p.value)
	})
	return p.value
}

// maxDepth bounds the walk of hostile, deeply nested payloads.
const maxDepth = 128

// ErrTooDeep is returned for payloads nested deeper than maxDepth.
var ErrTooDeep = errors.New("payload nested too deeply to scan")

// Decode validates raw once and collects its strings in document order,
// up to limit bytes of string data (0: no limit). A payload that is not
// JSON is scanned as one text leaf.
func Decode(raw json.RawMessage, limit int) (*Payload, error) {
	p := &Payload{Raw: raw, Bytes: len(raw)}
	if len(bytes.TrimSpace(raw)) == 0 {
		return p, nil
	}
	if !json.Valid(raw) {
		s := string(raw)
		if limit > 0 && len(s) > limit {
			s, p.Truncated = s[:limit], true
		}
		p.Leaves = []Leaf{{Path: "$", Value: s}}
		return p, nil
	}
	p.IsJSON = true
	budget := limit
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	w := walker{p: p, budget: budget}
	if err := collectLeaves(raw, &w); err != nil {
		return nil, err
	}
	if p.hasBlob {
		p.decodeBlobs()
	}
	return p, nil
}

type walker struct {
	p      *Payload
	budget int
}

// add appends l and returns its index, or -1 when the budget is spent.
func (w *walker) add(l Leaf) int {
	if w.budget <= 0 {
		w.p.Truncated = true
		return -1
	}
	if len(l.Value) > w.budget {
		l.Value = l.Value[:w.budget]
		w.p.Truncated = true
	}
	w.budget -= len(l.Value)
	w.p.Leaves = append(w.p.Leaves, l)
	return len(w.p.Leaves) - 1
}

// Texts returns the leaf values (keys included).
func (p *Payload) Texts() []string {
	out := make([]string, len(p.Leaves))
	for i, l := range p.Leaves {
		out[i] = l.Value
	}
	return out
}

// ReplaceStrings returns the payload's JSON with the string values at the
// paths in repl replaced, everything else kept byte for byte.
func (p *Payload) ReplaceStrings(repl map[string]string) (json.RawMessage, error) {
	if len(repl) == 0 || !p.IsJSON {
		return p.Raw, nil
	}
	out, err := rewriteJSON(p.Raw, repl)
	if err != nil {
		return nil, fmt.Errorf("rewrite redacted payload: %w", err)
	}
	return out, nil
}
