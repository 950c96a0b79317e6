package secret

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// secretPattern recognises a credential format by its literal prefix first
// (cheap) and a regular expression second.
type secretPattern struct {
	kind   string
	prefix string // literal anchors, "|"-separated, one of which must occur; "" means always try
	expr   string
	keep   int // characters of the match that are a public prefix and may be shown
	// re is expr compiled, on its first use: every governed start masks
	// its command line, whose words seldom hold an anchor, and compiling
	// all the patterns for that allocated ~110 KB the start did not need.
	re func() *regexp.Regexp
}

// secretPatterns are at most 32: anchorSet has a bit for each. The table
// is built on first use, once; each pattern is compiled on its own first
// use (Warm compiles them all).
var secretPatterns = sync.OnceValue(func() []secretPattern {
	srcs := []struct {
		kind, prefix, expr string
		keep               int
	}{
		{"private key", "-----BEGIN", `-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`, 0},
		{"AWS access key", "AKIA|ASIA", `\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`, 4},
		{"GitHub token", "ghp_|gho_|ghu_|ghs_|ghr_", `\bgh[pousr]_[A-Za-z0-9]{30,}`, 4},
		{"GitHub token", "github_pat_", `\bgithub_pat_[A-Za-z0-9_]{22,}`, 11},
		{"GitLab token", "glpat-", `\bglpat-[A-Za-z0-9_\-]{20,}`, 6},
		{"Slack token", "xox", `\bxox[abposr]-[A-Za-z0-9-]{10,}`, 5},
		{"Anthropic API key", "sk-ant-", `\bsk-ant-[A-Za-z0-9_\-]{20,}`, 7},
		{"OpenAI API key", "sk-", `\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}`, 3},
		{"Stripe key", "sk_live_|rk_live_", `\b[rs]k_live_[A-Za-z0-9]{16,}`, 8},
		{"Stripe key", "sk_test_|rk_test_", `\b[rs]k_test_[A-Za-z0-9]{16,}`, 8},
		{"Google API key", "AIza", `\bAIza[0-9A-Za-z_\-]{35}`, 4},
		{"npm token", "npm_", `\bnpm_[A-Za-z0-9]{36}`, 4},
		{"Hugging Face token", "hf_", `\bhf_[A-Za-z0-9]{30,}`, 3},
		{"Linear API key", "lin_api_", `\blin_api_[A-Za-z0-9]{30,}`, 8},
		{"SendGrid key", "SG.", `\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}`, 3},
		{"JSON Web Token", "eyJ", `\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`, 0},
		{"credentials in URL", "://", `[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@`, 0},
	}
	ps := make([]secretPattern, len(srcs))
	for i, src := range srcs {
		ps[i] = secretPattern{kind: src.kind, prefix: src.prefix, expr: src.expr, keep: src.keep,
			re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src.expr) })}
	}
	return ps
})

// lazyRegexp compiles expr on its first use, once, safe for concurrent
// first use: a start of mcpgov that never looks for a secret does not
// compile the package's patterns.
func lazyRegexp(expr string) func() *regexp.Regexp {
	f := sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
	lazyPatterns = append(lazyPatterns, f)
	return f
}

// lazyPatterns are the patterns of lazyRegexp, for Warm.
var lazyPatterns []func() *regexp.Regexp

// Warm builds now the rule tables and patterns that package init built
// before they were made lazy, so a process that will check text can pay
// for them on a goroutine of its own rather than in its first call. The
// gitleaks keyword index and the assignment trie stay built on first use,
// as before. Safe for concurrent use: each table is built once.
func Warm() {
	secretRules()
	pivotGroups()
	for _, p := range secretPatterns() {
		p.re()
	}
	formatPivots()
	for _, f := range lazyPatterns {
		f()
	}
}

// mayMatch reports whether s holds one of the pattern's literal anchors,
// the cheap test before the regular expression. Anchors are specific
// ("AKIA", not "A"): every string mcpgov records goes through MaskValue.
func (p secretPattern) mayMatch(s string) bool {
	if p.prefix == "" {
		return true
	}
	for rest := p.prefix; ; {
		lit, more, ok := strings.Cut(rest, "|")
		if strings.Contains(s, lit) {
			return true
		}
		if !ok {
			return false
		}
		rest = more
	}
}

// sensitiveName matches names of variables, headers and flags that carry
// credentials.
var sensitiveName = lazyRegexp(`(?i)(token|secret|passw(or)?d|passwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth|bearer|session|cookie|signature|client[_-]?secret|pat$)`)

// Match is a credential Detect found in a value.
type Match struct {
	Kind   string // what it is: "GitHub token", "credential"
	Strong bool   // a known credential format, not just a sensitive name
}

// isPlaceholder reports whether v is (or only contains) a reference that the
// client expands at launch: ${VAR}, ${env:VAR}, ${input:id}, $VAR, %VAR%,
// {env:VAR}, ${{ secrets.X }}.
func isPlaceholder(v string) bool {
	return strings.Contains(v, "${") || strings.Contains(v, "{env:") || strings.Contains(v, "$(") ||
		placeholderVar().MatchString(v) || secretRef().MatchString(v)
}

// secretRef matches mcpgov's secret references (env:NAME, file:PATH,
// keyring:SERVICE/ACCOUNT, vault:NAME), which name a secret held
// elsewhere: `mcpgov wrap --move-secrets` writes them into shim flags.
var secretRef = lazyRegexp(`^(?:env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\s]+|keyring:[^\s/]+/[^\s]+|vault:[A-Za-z0-9._@/-]+)$`)

var placeholderVar = lazyRegexp(`^(?:Bearer\s+|token\s+)?(?:\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%)$`)

// Detect classifies a literal value. name is the variable, header or
// flag the value belongs to ("" when unknown); a sensitive name makes a
// long-enough opaque literal a secret even without a known format.
func Detect(name, value string) (Match, bool) {
	return detectIn(name, value, anchorsIn(value))
}

// anchorSet has a bit per secretPatterns entry whose anchor occurs in a
// string: found once, used by detection and masking alike.
type anchorSet uint32

// anchorsIn returns the patterns whose anchor occurs in s.
//
// It reads s once: each anchor is looked for only where its rarest byte
// (its pivot: "_" of "ghp_", "J" of "eyJ") occurs, which in prose and SQL
// is seldom. One strings.Contains per anchor found every "e" of a text
// for "eyJ" and cost more than the rest of the masking.
func anchorsIn(s string) anchorSet {
	pivots, a := formatPivots()
	for i := 0; i < len(s); i++ {
		for _, pa := range pivots[s[i]] {
			at := i - pa.k
			if at >= 0 && at+len(pa.lit) <= len(s) && s[at:at+len(pa.lit)] == pa.lit {
				a |= 1 << pa.pattern
			}
		}
	}
	return a
}

type formatAnchor struct {
	lit     string
	k       int // offset of the pivot byte in lit
	pattern int // index into secretPatterns
}

// formatPivots lists, per byte, the anchors whose pivot it is, and the
// bits of patterns without an anchor; built on first use.
var formatPivots = sync.OnceValues(func() (*[256][]formatAnchor, anchorSet) {
	var t [256][]formatAnchor
	var none anchorSet
	rank := func(c byte) int {
		switch {
		case c >= 'a' && c <= 'z':
			return 10
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return 4
		case c == '-' || c == '.' || c == '/':
			return 3
		}
		return 1 // _ : and friends
	}
	for pi, p := range secretPatterns() {
		if p.prefix == "" {
			none |= 1 << pi
			continue
		}
		for _, lit := range strings.Split(p.prefix, "|") {
			k := 0
			for i := 1; i < len(lit); i++ {
				if rank(lit[i]) < rank(lit[k]) {
					k = i
				}
			}
			t[lit[k]] = append(t[lit[k]], formatAnchor{lit, k, pi})
		}
	}
	return &t, none
})

func (a anchorSet) has(i int) bool { return a&(1<<i) != 0 }

// detectIn is Detect with value's anchors already found.
func detectIn(name, value string, anchors anchorSet) (Match, bool) {
	if len(value) < 8 {
		return Match{}, false
	}
	for i, p := range secretPatterns() {
		if !anchors.has(i) {
			continue
		}
		if loc := p.re().FindStringIndex(value); loc != nil {
			if p.kind == "credentials in URL" && urlPasswordIsPlaceholder(value[loc[0]:]) {
				continue
			}
			return Match{Kind: p.kind, Strong: true}, true
		}
	}
	if isPlaceholder(value) {
		return Match{}, false
	}
	// looksOpaque first: it is cheap, and the name's expression is not.
	if name != "" && looksOpaque(value) && sensitiveName().MatchString(name) {
		return Match{Kind: "credential", Strong: false}, true
	}
	return Match{}, false
}

// urlPasswordIsPlaceholder reports whether a URL's password is an env reference.
//
// It reads the password from the text: net/url rejects "{" and "}" in
// userinfo, so parsing made https://u:${PASS}@host a false positive.
func urlPasswordIsPlaceholder(v string) bool {
	start, end, ok := urlPassword(v)
	if !ok {
		return false
	}
	p := v[start:end]
	return isPlaceholder(p) || p == ""
}

// urlPassword locates the password of the first scheme://user:password@host
// in s, as byte offsets. The host starts after the last "@" of the
// authority, as in net/url.
func urlPassword(s string) (start, end int, ok bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return 0, 0, false
	}
	auth := i + 3
	rest := s[auth:]
	if e := strings.IndexAny(rest, "/?#"); e >= 0 {
		rest = rest[:e]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	return auth + colon + 1, auth + at, true
}

// looksOpaque tells a credential-like literal from configuration words,
// numbers, booleans, paths and URLs.
func looksOpaque(v string) bool {
	v = strings.TrimSpace(v)
	// HTTP auth schemes are case-insensitive: "bearer X" is as secret as
	// "Bearer X".
	if scheme, rest, ok := strings.Cut(v, " "); ok {
		switch strings.ToLower(scheme) {
		case "bearer", "basic", "token":
			v = strings.TrimSpace(rest)
		}
	}
	if len(v) < 8 || strings.ContainsAny(v, " \t") {
		return false
	}
	switch strings.ToLower(v) {
	case "true", "false", "enabled", "disabled", "required", "optional", "none", "changeme":
		return false
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~") || strings.HasPrefix(v, "./") ||
		strings.Contains(v, "://") || (len(v) > 2 && v[1] == ':' && (v[2] == '\\' || v[2] == '/')) {
		return false
	}
	digits, letters := 0, 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letters++
		}
	}
	// Pure words ("production") and pure numbers ("30000") are settings.
	return digits > 0 && letters > 0 || len(v) >= 24
}

// Mask hides a secret, keeping only a public prefix of a known format
// ("ghp_****") so a reader can tell what kind of credential leaked.
func Mask(value string) string {
	for _, p := range secretPatterns() {
		if p.keep == 0 || !p.mayMatch(value) {
			continue
		}
		if loc := p.re().FindStringIndex(value); loc != nil && loc[0] == 0 {
			return value[:p.keep] + "****"
		}
	}
	return "****"
}

// MaskURL removes a password, sensitive query values and tokens of a known
// format from a URL.
//
// It works on the text rather than on a net/url parse: a URL that net/url
// rejects (a password with "{", a query value with a bad escape) used to be
// returned unchanged, secret included; the parts that are not secret keep
// their original spelling.
func MaskURL(raw string) string {
	out := raw
	if start, end, ok := urlPassword(out); ok {
		if p := out[start:end]; p != "" && !isPlaceholder(p) {
			out = out[:start] + "****" + out[end:]
		}
	}
	if q := strings.IndexByte(out, '?'); q >= 0 {
		end := len(out)
		if h := strings.IndexByte(out[q:], '#'); h >= 0 {
			end = q + h
		}
		pairs := strings.Split(out[q+1:end], "&")
		changed := false
		for i, pair := range pairs {
			k, v, ok := strings.Cut(pair, "=")
			if !ok {
				continue
			}
			name, val := k, v
			if u, err := url.QueryUnescape(k); err == nil {
				name = u
			}
			if u, err := url.QueryUnescape(v); err == nil {
				val = u
			}
			_, secret := Detect(name, val)
			if !secret {
				_, secret = Detect(name, v)
			}
			if secret {
				pairs[i], changed = k+"=****", true
			}
		}
		if changed {
			out = out[:q+1] + strings.Join(pairs, "&") + out[end:]
		}
	}
	// Tokens of a known format anywhere else: in the path of personal
	// server URLs (…/mcp/sk-…/sse) or the fragment.
	return MaskKnownTokens(out)
}

// MaskKnownTokens replaces every credential of a known format in s by its
// masked form. Credentials in URLs are left to MaskURL, which keeps the
// user name.
func MaskKnownTokens(s string) string {
	return maskKnownTokensIn(s, anchorsIn(s))
}

// maskKnownTokensIn is MaskKnownTokens with anchors found in s or in a
// string s was masked from: masking writes "****", which is in no anchor,
// so it never adds one.
func maskKnownTokensIn(s string, anchors anchorSet) string {
	for i, p := range secretPatterns() {
		if p.kind == "credentials in URL" || !anchors.has(i) {
			continue
		}
		s = p.re().ReplaceAllStringFunc(s, Mask)
	}
	return s
}

// MaskValue hides the secrets in one value named name (a JSON key, a flag,
// a variable): the whole value when the name and shape say it is a
// credential, else every token of a known format and URL password inside
// it. It is what mcpgov applies to text it stores, such as tool-call
// arguments in audit records.
func MaskValue(name, value string) string {
	anchors := anchorsIn(value)
	if m, ok := detectIn(name, value, anchors); ok && (!m.Strong || !strings.Contains(value, " ")) {
		if strings.Contains(value, "://") {
			return MaskURL(value)
		}
		return Mask(value)
	}
	if strings.Contains(value, "://") {
		value = MaskURL(value)
	}
	return maskKnownTokensIn(value, anchors)
}
