package guard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// Set is a loaded guardrails configuration, ready to run. It is safe for
// concurrent use.
type Set struct {
	cfg   *Config
	specs []*Spec // sorted by name
	key   []byte  // HMAC key for hash and token redaction
	// vaults holds each session's reference tokens. The shim has one
	// session per process; a long-lived relay with many sessions is
	// bounded by maxSessions (the oldest are forgotten, by clearing).
	vaultMu sync.Mutex
	vaults  map[string]*vault
	ext     map[string]*external
}

// Options configure a Set.
type Options struct {
	// Getenv reads the HMAC key variables named by hash_key_env; nil
	// means no environment (a random per-process key is used).
	Getenv func(string) string
}

// NewSet prepares cfg. A nil cfg is an empty set.
func NewSet(cfg *Config, opts Options) (*Set, error) {
	if cfg == nil {
		cfg = &Config{Defaults: Defaults{Mode: ModeAudit, MaxScanBytes: DefaultMaxScanBytes}}
	}
	s := &Set{cfg: cfg, ext: map[string]*external{}}
	for _, sp := range cfg.Guardrails {
		s.specs = append(s.specs, sp)
		if sp.HashKeyEnv != "" && opts.Getenv != nil && s.key == nil {
			if k := opts.Getenv(sp.HashKeyEnv); k != "" {
				s.key = []byte(k)
			}
		}
		if sp.Kind == KindExternal {
			s.ext[sp.Name] = newExternal(sp, opts.Getenv)
		}
	}
	sort.Slice(s.specs, func(i, j int) bool { return s.specs[i].Name < s.specs[j].Name })
	kinds := map[string]bool{}
	for _, sp := range s.specs {
		kinds[sp.Kind] = true
	}
	if len(kinds) > 0 {
		warmWG.Add(1)
		go warm(kinds)
	}
	if s.key == nil {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			return nil, fmt.Errorf("guardrails: redaction key: %w", err)
		}
	}
	return s, nil
}

// Remote reports whether a guardrail calls out of the process (an
// external detector or a provider's API), so a check may wait on the
// network.
func (s *Set) Remote() bool { return len(s.ext) > 0 }

// Specs returns the guardrails in name order.
func (s *Set) Specs() []*Spec { return s.specs }

// MaxScanBytes is the scan limit per payload.
func (s *Set) MaxScanBytes() int { return s.cfg.Defaults.MaxScanBytes }

// Request is one payload to check.
type Request struct {
	Hook    string
	Server  string // catalog id, "" when not catalogued
	Tool    string
	Session string
	// Payload is the decoded arguments (pre) or result (post).
	Payload *Payload
	// Source says where a post payload comes from (SourceTool when
	// empty): a tool result, a resource, a prompt, or a server's request.
	Source string
	// ToolDef is the definition under review (describe).
	ToolDef *catalog.ToolDef
}

// Result is one guardrail's outcome on one request.
type Result struct {
	Name     string
	Kind     string
	Hook     string
	Mode     string
	Verdict  string // pass | fail | error
	Findings []Finding
	Err      error
	Duration time.Duration
	// Redacts is set when the guardrail's action on findings is to redact
	// (not block): a failing verdict then changes the payload instead.
	Redacts bool
	Mutated bool
	spans   []span
}

// Blocks reports whether the result denies the call under its mode.
func (r *Result) Blocks() bool {
	switch {
	case r.Mode == ModeAudit:
		return false
	case r.Verdict == "error":
		return r.Mode == ModeEnforce
	case r.Verdict == "fail":
		return !r.Redacts
	}
	return false
}

type span struct {
	leaf       int
	start, end int
	category   string
	method     string
}

// ErrTooLarge is the error verdict of a payload over the scan limit.
var ErrTooLarge = errors.New("payload larger than the scan limit")

// Run applies every guardrail in scope, in name order.
func (s *Set) Run(ctx context.Context, req *Request) []Result {
	var out []Result
	for _, sp := range s.specs {
		if !sp.Applies(req.Hook, req.Server, req.Tool) || !sp.Covers(req.Hook, req.Source) {
			continue
		}
		start := time.Now()
		r := Result{Name: sp.Name, Kind: sp.Kind, Hook: req.Hook, Mode: sp.Mode, Verdict: "pass"}
		var err error
		if req.Payload != nil && req.Payload.Truncated {
			err = fmt.Errorf("%w (%d bytes; max_scan_bytes is %d)", ErrTooLarge, req.Payload.Bytes, s.cfg.Defaults.MaxScanBytes)
		} else {
			err = s.runOne(ctx, sp, req, &r)
		}
		r.Duration = time.Since(start)
		switch {
		case err != nil:
			r.Verdict, r.Err = "error", err
		case len(r.Findings) > 0:
			r.Verdict = "fail"
		}
		out = append(out, r)
	}
	return out
}

func (s *Set) runOne(ctx context.Context, sp *Spec, req *Request, r *Result) error {
	if req.Hook == HookDescribe {
		switch sp.Kind {
		case KindPoisoning:
			if req.ToolDef != nil {
				for _, f := range CheckPoisoning(*req.ToolDef, nil) {
					r.Findings = append(r.Findings, Finding{Rule: f.Rule, Message: f.Message, Leaf: -1})
				}
			}
		case KindExternal:
			if req.ToolDef != nil {
				text := req.ToolDef.Name + "\n" + req.ToolDef.Description + "\n" + string(req.ToolDef.InputSchema)
				return s.ext[sp.Name].check(ctx, req, text, r)
			}
		}
		return nil
	}
	p := req.Payload
	if p == nil {
		return nil
	}
	switch sp.Kind {
	case KindSQL, KindCode:
		// Values only: keys are names the server chose, not content.
		check := CheckSQL
		if sp.Kind == KindCode {
			check = CheckCode
		}
		for i, l := range p.Leaves {
			if l.IsKey {
				continue
			}
			for _, f := range check(l.Value) {
				r.Findings = append(r.Findings, Finding{Rule: f.Rule, Message: p.ShownPath(i) + ": " + f.Message, Leaf: i})
			}
		}
	case KindSecrets, KindPII, KindRegex:
		detect(sp, p, r)
		r.Redacts = req.Hook == HookPost && redactMethod(sp) != RedactNone
	case KindInjection:
		for i, l := range p.Leaves {
			for _, f := range CheckInjection(l.Path, l.Value) {
				r.Findings = append(r.Findings, Finding{Rule: f.Rule, Message: p.ShownPath(i) + ": " + f.Message, Leaf: i})
			}
		}
	case KindExternal:
		var b strings.Builder
		for _, l := range p.Leaves {
			b.WriteString(l.Value)
			b.WriteByte('\n')
		}
		return s.ext[sp.Name].check(ctx, req, b.String(), r)
	}
	return nil
}

// redactMethod is a guardrail's default redaction on the post hook.
func redactMethod(sp *Spec) string {
	switch {
	case sp.Redact != "":
		return sp.Redact
	case sp.Kind == KindPII:
		return RedactMask
	case sp.Kind == KindSecrets:
		return RedactMask
	}
	return RedactNone
}

// detect runs a secrets, pii or regex guardrail over every leaf, object
// keys included: a secret or an email used as a key is as much in the
// payload as one in a value. (Regex patterns, written for values, see
// values only.)
func detect(sp *Spec, p *Payload, r *Result) {
	redact := redactMethod(sp)
	var types map[string]bool
	if sp.Kind == KindPII && len(sp.Types) > 0 {
		types = map[string]bool{}
		for _, t := range sp.Types {
			types[t] = true
		}
	}
	add := func(i int, rule, msg string, start, end int, category string) {
		r.Findings = append(r.Findings, Finding{Rule: rule, Message: p.ShownPath(i) + ": " + msg, Leaf: i, Start: start, End: end, Category: category})
		method := RedactMask
		if sp.Kind != KindSecrets {
			method = methodFor(sp, redact, category)
		}
		r.spans = append(r.spans, span{i, start, end, category, method})
	}
	for i, l := range p.Leaves {
		if l.IsKey && !keySuspect(l.Value) {
			continue
		}
		switch sp.Kind {
		case KindSecrets:
			name := l.Key
			if l.IsKey {
				name = ""
			}
			for _, f := range secret.Find(name, l.Value) {
				what := f.What
				// "value of KEY" names the key: shown masked should it
				// hold a secret itself.
				if f.Rule == secret.RuleGeneric && l.up > 0 && name != "" && p.Leaves[l.up-1].Key == name {
					what = "value of " + p.shownKeyOr(l.up-1)
				}
				add(i, f.Rule, what, f.Start, f.End, "secret")
			}
		case KindPII:
			for _, f := range CheckPII(l.Value, types) {
				add(i, "pii."+f.Category, f.Category, f.Start, f.End, f.Category)
			}
			if !l.IsKey {
				for _, f := range matchPatterns(sp.res, l.Value) {
					add(i, "pii."+f.Category, f.Category, f.Start, f.End, f.Category)
				}
			}
		case KindRegex:
			if l.IsKey {
				continue
			}
			for _, f := range matchPatterns(sp.res, l.Value) {
				add(i, sp.Name+"."+f.Category, f.Category, f.Start, f.End, f.Category)
			}
		}
	}
}

func methodFor(sp *Spec, def, category string) string {
	if m, ok := sp.RedactTypes[category]; ok {
		return m
	}
	return def
}

func matchPatterns(res []namedRE, s string) []PIIFinding {
	var out []PIIFinding
	for _, nr := range res {
		if nr.lit != "" && !strings.Contains(s, nr.lit) {
			continue
		}
		for _, m := range nr.re.FindAllStringIndex(s, 64) {
			if m[1] > m[0] {
				out = append(out, PIIFinding{nr.name, m[0], m[1]})
			}
		}
	}
	return out
}

// Redact applies the redactions of results whose mode lets them act
// (enforce and enforce_ignore_error; audit only reports) and returns the
// new payload JSON and the number of values replaced, or nil when nothing
// changed. It marks the results that mutated.
func (s *Set) Redact(req *Request, results []Result) ([]byte, int, error) {
	var spans []span
	for i := range results {
		r := &results[i]
		if r.Mode == ModeAudit || !r.Redacts || r.Verdict != "fail" {
			continue
		}
		for _, sp := range r.spans {
			if sp.method != RedactNone {
				spans = append(spans, sp)
				r.Mutated = true
			}
		}
	}
	if len(spans) == 0 {
		return nil, 0, nil
	}
	repl, n := s.apply(req.Session, req.Payload, spans)
	out, err := req.Payload.ReplaceStrings(repl)
	return out, n, err
}

func (s *Set) apply(session string, p *Payload, spans []span) (map[string]string, int) {
	texts, n := s.maskLeaves(session, p, spans)
	return p.replacements(texts), n
}

// maskLeaves returns the new text of every leaf the spans touch and the
// number of spans replaced.
func (s *Set) maskLeaves(session string, p *Payload, spans []span) (map[int]string, int) {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].leaf != spans[j].leaf {
			return spans[i].leaf < spans[j].leaf
		}
		return spans[i].start < spans[j].start
	})
	texts := map[int]string{}
	n := 0
	for i := 0; i < len(spans); {
		leaf := spans[i].leaf
		v := p.Leaves[leaf].Value
		var b strings.Builder
		last := 0
		for ; i < len(spans) && spans[i].leaf == leaf; i++ {
			sp := spans[i]
			if sp.start < last || sp.end > len(v) {
				continue // overlaps one already replaced
			}
			b.WriteString(v[last:sp.start])
			b.WriteString(s.replacement(session, sp.category, sp.method, v[sp.start:sp.end]))
			last = sp.end
			n++
		}
		b.WriteString(v[last:])
		texts[leaf] = b.String()
	}
	return texts, n
}

func (s *Set) replacement(session, category, method, value string) string {
	switch method {
	case RedactHash:
		m := hmac.New(sha256.New, s.key)
		m.Write([]byte(value))
		return "[" + category + ":" + hex.EncodeToString(m.Sum(nil)[:6]) + "]"
	case RedactToken:
		return s.vault(session).token(category, value)
	case redactRecord:
		if category == "secret" {
			return secret.Mask(value)
		}
	}
	return "[REDACTED:" + category + "]"
}

// Bounds on the token vaults' memory.
const (
	maxSessions     = 4096
	maxVaultEntries = 1 << 16
)

func (s *Set) vault(session string) *vault {
	s.vaultMu.Lock()
	defer s.vaultMu.Unlock()
	v, ok := s.vaults[session]
	if !ok {
		if s.vaults == nil || len(s.vaults) >= maxSessions {
			s.vaults = map[string]*vault{}
		}
		v = &vault{ids: map[string]string{}, next: map[string]int{}}
		s.vaults[session] = v
	}
	return v
}

// vault maps values to reference tokens within one session. It lives in
// the shim's memory for the session only and is never written anywhere.
type vault struct {
	mu   sync.Mutex
	ids  map[string]string // category + value -> token
	next map[string]int
}

func (v *vault) token(category, value string) string {
	h := category + "\x00" + value
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.ids[h]; ok {
		return t
	}
	if len(v.ids) >= maxVaultEntries {
		// A session this large gets fresh numbering rather than unbounded
		// memory; tokens stay distinct because the counters keep going.
		clear(v.ids)
	}
	v.next[category]++
	t := fmt.Sprintf("[%s_%d]", strings.ToUpper(category), v.next[category])
	v.ids[h] = t
	return t
}

// RedactMethod is how the guardrail rewrites what it finds on the post
// hook: none, mask, hash or token.
func (s *Spec) RedactMethod() string { return redactMethod(s) }
