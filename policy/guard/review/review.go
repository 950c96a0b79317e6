// Package review reads what an MCP tool advertises of itself (name, title,
// description, annotations, schemas) for tool poisoning: hidden
// characters, prompt markup, claims over the model's instructions,
// concealment, consent bypass, shadowing of other tools, exfiltration.
//
// It is the engine of guard's describe hook (poisoning.go), which reviews
// each tools/list once per description hash, and of the catalog's vetting
// (catalog/vet), which reviews a server before approval. It imports only
// scan/finding, so both use it without importing each other.
package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// Review rule ids. They are stable: review evidence, reports and
// suppressions refer to them.
const (
	RuleHiddenUnicode       = "hidden-unicode"       // invisible characters, decoded where they spell text
	RuleImperativeMarkup    = "imperative-markup"    // <IMPORTANT>, [INST], "ignore previous instructions", "NOTE TO AI"
	RuleInstructionOverride = "instruction-override" // claims to override the system prompt or safety rules, persona hijack
	RuleSensitivePath       = "sensitive-path"       // SSH keys, cloud credentials, .env, MCP client configs
	RuleConcealment         = "concealment"          // do not tell the user, hide this from the user
	RuleConsentBypass       = "consent-bypass"       // without asking the user for confirmation
	RuleShadowing           = "shadowing"            // steers how other tools (of other servers) are used
	RuleExfiltration        = "exfiltration"         // sends conversation or secrets out, smuggles data in parameters
)

// Rules describes the review rules for reports and SARIF, in the shape
// the scan uses for its own.
var Rules = []finding.Rule{
	{ID: RuleHiddenUnicode, Severity: finding.SeverityCritical, Summary: "Tool text hides characters a reviewer cannot see",
		Help: "Reject the server or ask its maintainers to remove the invisible characters; the decoded text is what the model reads."},
	{ID: RuleImperativeMarkup, Severity: finding.SeverityHigh, Summary: "Tool text addresses the model with prompt markup",
		Help: "Tool descriptions should describe the tool; markup such as <IMPORTANT> or 'ignore previous instructions' is a prompt injection."},
	{ID: RuleInstructionOverride, Severity: finding.SeverityHigh, Summary: "Tool text claims authority over the model's instructions or safety rules",
		Help: "Reject: a tool cannot legitimately override the system prompt, user instructions or safety checks."},
	{ID: RuleSensitivePath, Severity: finding.SeverityHigh, Summary: "Tool text refers to credential files or MCP client configs",
		Help: "Check why the tool needs the file; an instruction to read it and pass it on is credential theft."},
	{ID: RuleConcealment, Severity: finding.SeverityHigh, Summary: "Tool text tells the model to keep something from the user",
		Help: "Reject: hiding behaviour from the user is the signature of a poisoned tool."},
	{ID: RuleConsentBypass, Severity: finding.SeverityHigh, Summary: "Tool text tells the model to act without the user's confirmation",
		Help: "Reject or pin a reviewed version; consent must stay with the client."},
	{ID: RuleShadowing, Severity: finding.SeverityMedium, Summary: "Tool text steers how other tools are used",
		Help: "A tool should not change the behaviour of tools from other servers; check each mention."},
	{ID: RuleExfiltration, Severity: finding.SeverityHigh, Summary: "Tool text sends conversation, secrets or files elsewhere",
		Help: "Reject unless the data flow is the tool's documented purpose and the destination is trusted."},
}

// Finding is one suspicious passage in a tool's advertised text.
type Finding struct {
	Rule     string           `json:"rule"`
	Severity finding.Severity `json:"severity"`
	Message  string           `json:"message"`
	// Field is where it was found: name, title, description,
	// annotations.title, inputSchema.properties.<p>.description, or
	// inputSchema.properties.<p> for the parameter name itself.
	Field string `json:"field"`
	// Evidence is a short excerpt with invisible characters spelled
	// <U+XXXX>; it never carries them raw.
	Evidence string `json:"evidence"`
}

// ToolDef is what a tool advertises of itself, the fields of
// catalog.ToolDef (which converts to it: review.ToolDef(t)). The reviewer
// has its own type so that the catalog, whose vetting uses it, need not be
// imported by it.
type ToolDef struct {
	Name         string
	Title        string
	Description  string
	InputSchema  json.RawMessage
	OutputSchema json.RawMessage
	Annotations  json.RawMessage
}

// Tool reviews everything a tool advertises that ends up in the model's
// context: its name, title and description, annotations, and every string in
// its input and output schemas (parameter names, descriptions, defaults,
// enums…). otherTools names tools of other servers; mentioning one is
// reported as shadowing. Findings are sorted, most severe first.
//
// Severity low is a hint for the reviewer; medium and above should block
// approval until a person has looked.
func Tool(t ToolDef, otherTools []string) []Finding {
	return New(otherTools).Tool(t)
}

// Text reviews one piece of text that reaches the model, such as a
// server's initialize instructions or a prompt description, under the given
// field name.
func Text(field, text string, otherTools []string) []Finding {
	return New(otherTools).Text(field, text)
}

// Reviewer reviews tools against one set of other servers' tool names. Build
// it once per catalog and reuse it: matching the names is then one pass per
// text however many there are. It is safe for concurrent use.
type Reviewer struct {
	others []otherTool
	ac     *acMatcher // over the lower-cased names in others
}

// New prepares a Reviewer; otherTools may be nil.
func New(otherTools []string) *Reviewer {
	rv := &Reviewer{others: prepareOthers(otherTools)}
	if len(rv.others) > 0 {
		lits := make([]string, len(rv.others))
		for i, o := range rv.others {
			lits[i] = o.lower
		}
		rv.ac = newACMatcher(lits)
	}
	return rv
}

// Tool is ReviewTool with the Reviewer's other tools.
func (rv *Reviewer) Tool(t ToolDef) []Finding {
	r := newReviewer(t.Name, rv)
	r.text("name", t.Name, true)
	r.text("title", t.Title, false)
	r.text("description", t.Description, false)
	r.jsonField("annotations", t.Annotations)
	r.jsonField("inputSchema", t.InputSchema)
	r.jsonField("outputSchema", t.OutputSchema)
	return r.result()
}

// Text is ReviewText with the Reviewer's other tools.
func (rv *Reviewer) Text(field, text string) []Finding {
	r := newReviewer("", rv)
	r.text(field, text, false)
	return r.result()
}

// MaxSeverity returns the highest severity among findings, or "" for none.
func MaxSeverity(findings []Finding) finding.Severity {
	var top finding.Severity
	for _, f := range findings {
		if f.Severity.Rank() > top.Rank() {
			top = f.Severity
		}
	}
	return top
}

// Limits that keep a hostile tools/list from making review slow.
const (
	reviewMaxDepth     = 64
	reviewMaxTextBytes = 1 << 20 // per tool, across all fields
	reviewMaxPerRule   = 8       // findings per rule and field
	reviewMaxFindings  = 100     // per tool
)

type reviewer struct {
	self     string
	rv       *Reviewer
	findings []Finding
	seen     map[string]int // rule+field+message → index in findings
	perRule  map[string]int // rule+field → count
	budget   int
	hits     []litHit // scratch for phrases
}

func newReviewer(self string, rv *Reviewer) *reviewer {
	return &reviewer{
		self:    self,
		rv:      rv,
		seen:    map[string]int{},
		perRule: map[string]int{},
		budget:  reviewMaxTextBytes,
	}
}

// add records a finding; the same rule, field and message is reported once,
// at its highest severity.
func (r *reviewer) add(f Finding) {
	key := f.Rule + "\x00" + f.Field + "\x00" + f.Message
	if i, ok := r.seen[key]; ok {
		if f.Severity.Rank() > r.findings[i].Severity.Rank() {
			r.findings[i] = f
		}
		return
	}
	rk := f.Rule + "\x00" + f.Field
	if r.perRule[rk] >= reviewMaxPerRule || len(r.findings) >= reviewMaxFindings {
		return
	}
	r.perRule[rk]++
	r.seen[key] = len(r.findings)
	r.findings = append(r.findings, f)
}

func (r *reviewer) result() []Finding {
	slices.SortStableFunc(r.findings, func(a, b Finding) int {
		if c := b.Severity.Rank() - a.Severity.Rank(); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		if c := strings.Compare(a.Message, b.Message); c != 0 {
			return c
		}
		return strings.Compare(a.Evidence, b.Evidence)
	})
	return r.findings
}

// text reviews one string. Names (the tool's, a parameter's) are identifiers:
// their separators are read as spaces so "ignore_previous_instructions"
// still reads as a phrase.
func (r *reviewer) text(field, s string, isName bool) {
	if s == "" || r.budget <= 0 {
		return
	}
	if len(s) > r.budget {
		s = s[:r.budget]
	}
	r.budget -= len(s)
	field = Visible(field)

	var hidden []string
	if needsUnicodeScan(s) {
		hidden = r.hiddenUnicode(field, s)
	}
	sc := normalize(s, isName)
	r.phrases(field, sc, "")
	for _, h := range hidden {
		r.phrases(field, normalize(h, false), "in the hidden text: ")
	}
}

// needsUnicodeScan is the cheap prefilter for hidden-unicode: pure printable
// ASCII has nothing to hide.
func needsUnicodeScan(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x7F || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return true
		}
	}
	return false
}

// jsonField walks a JSON-valued field (schema, annotations) and reviews every
// string in it, and parameter names as names.
func (r *reviewer) jsonField(field string, raw json.RawMessage) {
	if isJSONNull(raw) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// The whole value is still text the model may read.
		r.text(field, string(raw), false)
		return
	}
	r.walk(field, v, "", 0)
}

// schemaKeywordsNotProse hold identifiers and regular expressions, not text
// addressed to the model: only hidden characters are looked for there.
var schemaKeywordsNotProse = map[string]bool{
	"type": true, "format": true, "pattern": true, "$schema": true, "$id": true, "$ref": true,
	"$anchor": true, "$dynamicRef": true, "contentEncoding": true, "contentMediaType": true,
}

func (r *reviewer) walk(path string, v any, key string, depth int) {
	if depth > reviewMaxDepth || r.budget <= 0 {
		return
	}
	switch v := v.(type) {
	case string:
		if schemaKeywordsNotProse[key] {
			if needsUnicodeScan(v) {
				r.hiddenUnicode(Visible(path), v)
			}
			return
		}
		r.text(path, v, false)
	case []any:
		for i, e := range v {
			r.walk(path+"["+strconv.Itoa(i)+"]", e, key, depth+1)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			child := path + "." + k
			switch {
			case key == "properties" || key == "patternProperties":
				r.text(child, k, true) // a parameter name
			case needsUnicodeScan(k):
				r.hiddenUnicode(Visible(child), k)
			}
			r.walk(child, v[k], k, depth+1)
		}
	}
}

// scanned is a text prepared for the phrase rules: ASCII lower-cased,
// invisible characters dropped, typographic quotes, dashes and spaces folded
// to ASCII. idx maps each byte of norm back to the original for evidence; it
// is nil when the two are byte-aligned (the common, all-ASCII case).
type scanned struct {
	orig string
	norm string
	idx  []int
}

func normalize(s string, isName bool) scanned {
	if !needsUnicodeScan(s) {
		n := asciiLower(s)
		if isName {
			n = strings.Map(nameSeparatorToSpace, n)
		}
		return scanned{orig: s, norm: n}
	}
	var b strings.Builder
	idx := make([]int, 0, len(s))
	for i, c := range s {
		if IsInvisible(c) {
			continue
		}
		switch c {
		case '\u2018', '\u2019', '\u201B', '\u2032', '\u02BC':
			c = '\''
		case '\u201C', '\u201D', '\u201F', '\u2033':
			c = '"'
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
			c = '-'
		case '\u00A0', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006',
			'\u2007', '\u2008', '\u2009', '\u200A', '\u202F', '\u205F', '\u3000', '\u2028', '\u2029':
			c = ' '
		}
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if isName {
				c = nameSeparatorToSpace(c)
			}
		}
		start := b.Len()
		b.WriteRune(c)
		for range b.Len() - start {
			idx = append(idx, i)
		}
	}
	return scanned{orig: s, norm: b.String(), idx: idx}
}

func nameSeparatorToSpace(c rune) rune {
	if c == '_' || c == '-' || c == '.' {
		return ' '
	}
	return c
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// span maps a byte range of norm to the original text.
func (sc scanned) span(start, end int) (int, int) {
	if sc.idx == nil {
		return start, end
	}
	ostart := len(sc.orig)
	if start < len(sc.idx) {
		ostart = sc.idx[start]
	}
	oend := len(sc.orig)
	if end < len(sc.idx) {
		oend = sc.idx[end]
	}
	if oend < ostart {
		oend = ostart
	}
	return ostart, oend
}

func (sc scanned) evidence(start, end int) string {
	ostart, oend := sc.span(start, end)
	return evidence(sc.orig, ostart, oend)
}

// otherTool is a tool name of another server, prepared for matching.
type otherTool struct {
	name        string
	lower       string
	distinctive bool // unlikely to occur as an ordinary word
}

func prepareOthers(names []string) []otherTool {
	var out []otherTool
	seen := map[string]bool{}
	for _, n := range names {
		l := asciiLower(n)
		if len(n) < 3 || seen[l] {
			continue
		}
		seen[l] = true
		distinctive := len(n) >= 12 || strings.ContainsAny(n, "_-.:/0123456789")
		for i := 1; i < len(n) && !distinctive; i++ {
			distinctive = 'A' <= n[i] && n[i] <= 'Z' && 'a' <= n[i-1] && n[i-1] <= 'z' // camelCase
		}
		out = append(out, otherTool{name: n, lower: l, distinctive: distinctive})
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

// mentions reports where another server's tool is named in the text. A
// distinctive name counts anywhere as a whole word; an ordinary word
// ("search", "fetch") counts only when quoted or followed by "tool". The
// tool's own name is not a mention.
func (r *reviewer) mentions(field string, sc scanned, prefix string) {
	rv := r.rv
	if rv == nil || rv.ac == nil {
		return
	}
	reported := map[int32]bool{}
	rv.ac.scan(sc.norm, func(id int32, end int) {
		o := rv.others[id]
		start := end - len(o.lower)
		if reported[id] || strings.EqualFold(o.name, r.self) {
			return
		}
		if (start > 0 && isIdentByte(sc.norm[start-1])) || (end < len(sc.norm) && isIdentByte(sc.norm[end])) {
			return
		}
		if !o.distinctive {
			quoted := start > 0 && end < len(sc.norm) && strings.IndexByte("'\"`", sc.norm[start-1]) >= 0 &&
				sc.norm[end] == sc.norm[start-1]
			if !quoted && !strings.HasPrefix(sc.norm[end:], " tool") {
				return
			}
		}
		reported[id] = true
		r.add(Finding{
			Rule:     RuleShadowing,
			Severity: finding.SeverityMedium,
			Message:  fmt.Sprintf("%snames %q, a tool of another server", prefix, o.name),
			Field:    field,
			Evidence: sc.evidence(start, end),
		})
	})
}

// isJSONNull reports whether raw is absent or the JSON null.
func isJSONNull(raw []byte) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}
