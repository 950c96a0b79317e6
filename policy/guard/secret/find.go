package secret

import (
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Secret rule ids.
const (
	RuleAWS        = "secrets.aws-access-key"
	RuleGitHub     = "secrets.github-token"
	RuleGitLab     = "secrets.gitlab-token"
	RuleSlack      = "secrets.slack-token"
	RuleStripe     = "secrets.stripe-key"
	RuleOpenAI     = "secrets.openai-key"
	RuleAnthropic  = "secrets.anthropic-key"
	RuleGoogle     = "secrets.google-api-key"
	RuleJWT        = "secrets.jwt"
	RulePrivateKey = "secrets.private-key"
	RuleConnString = "secrets.connection-string"
	RuleNPM        = "secrets.npm-token"
	RuleHF         = "secrets.huggingface-token"
	RuleAzure      = "secrets.azure-storage-key"
	RuleSendGrid   = "secrets.sendgrid-key"
	RuleGeneric    = "secrets.generic-assignment"
	RuleAuthHeader = "secrets.authorization-header"
	RuleLinear     = "secrets.linear-api-key"
)

// secretRule is an anchored rule of mcpgov's own, for what gitleaks'
// default ruleset (gitleaks_rules.go) does not cover: the anchor
// is found with strings.Index, then re (which must match at the anchor)
// runs on a bounded window.
type secretRule struct {
	rule    string
	what    string
	anchors []string
	re      *regexp.Regexp // anchored with ^ on the window starting at the anchor
	window  int
	// minEntropy over the matched token, when > 0.
	minEntropy float64
	// boundary: the byte before the anchor must not be alphanumeric.
	boundary bool
}

// secretRules are Find's own rules followed by formatSecretRules,
// compiled on first use, once.
var secretRules = sync.OnceValue(func() []secretRule {
	return append(ownRules(), formatSecretRules()...)
})

func ownRules() []secretRule {
	return []secretRule{
		// A JWT's signature may be empty (alg none), so two parts are enough.
		{RuleJWT, "JSON Web Token", []string{"eyJ"}, regexp.MustCompile(`^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]{8,})?`), 4096, 0, true},
		// A key cut short (the header and its first line) is still a key;
		// gitleaks' rule wants the whole block.
		{RulePrivateKey, "private key", []string{"-----BEGIN"}, regexp.MustCompile(`^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\[nr]|\s){1,4}[A-Za-z0-9+/=]{16,}`), 128, 0, false},
		// OpenAI's project, service account and admin keys carry "T3BlbkFJ"
		// (base64 of "OpenAI") between two random halves; gitleaks' rule wants
		// each half's exact length, which has changed with every key format.
		{RuleOpenAI, "OpenAI API key", []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"}, regexp.MustCompile(`^sk-[A-Za-z]+-[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}`), 400, 3.5, true},
		{RuleAzure, "Azure storage account key", []string{"AccountKey="}, regexp.MustCompile(`^AccountKey=[A-Za-z0-9+/]{80,}={0,2}`), 100, 3.5, false},
		// GitLab's newer token forms: a pipeline trigger token of any token
		// character, a CI job token with or without its routing part.
		{RuleGitLab, "GitLab token", []string{"glptt-", "glcbt-"}, regexp.MustCompile(`^gl(?:ptt-[0-9A-Za-z_-]{40}|cbt-(?:[0-9A-Za-z]{1,5}_)?[0-9A-Za-z_-]{20})(?:[^0-9A-Za-z_-]|$)`), 80, 3.0, true},
		// Slack's legacy tokens (xoxa-, xoxp-, xoxo-, xoxs-, xoxr-): numeric
		// parts of any length and a last part, the shape Slack issued before
		// its current fixed lengths.
		{RuleSlack, "Slack token", []string{"xoxa-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxb-"}, regexp.MustCompile(`^xox[abposr]-(?:[0-9]{4,}-){1,4}[A-Za-z0-9]{8,}`), 200, 2.5, true},
		// An .npmrc registry credential: whatever follows :_authToken= or
		// :_password= is the secret (old npm tokens are UUIDs), unless it is a
		// ${VAR} reference.
		{RuleNPM, "npm registry credential", []string{":_authToken=", ":_password=", ":_auth="}, regexp.MustCompile(`^:_(?:authToken|password|auth)=(?:[^\s$"'{}]{16,})`), 300, 3.0, false},
		{RuleAuthHeader, "credential in an Authorization header", []string{"uthorization:", "UTHORIZATION:"}, regexp.MustCompile(`^(?i:uthorization):[ \t]{0,5}(?i:Bearer|Basic|Token|Bot|Digest|ApiKey)[ \t]{1,5}([A-Za-z0-9._~+/=-]{16,})`), 4200, 3.0, false},
	}
}

// secretWhat says what each of mcpgov's rule ids finds.
var secretWhat = map[string]string{
	RuleAWS: "AWS access key id", RuleGitHub: "GitHub token", RuleGitLab: "GitLab token",
	RuleSlack: "Slack token", RuleStripe: "Stripe key", RuleOpenAI: "OpenAI API key",
	RuleAnthropic: "Anthropic API key", RuleGoogle: "Google API key", RulePrivateKey: "private key",
	RuleNPM: "npm token", RuleHF: "Hugging Face token", RuleSendGrid: "SendGrid API key",
}

// gitleaksRuleIDs names gitleaks rules by the rule ids mcpgov used before
// it took gitleaks' ruleset, so that policies and audit queries keep
// working; other gitleaks rules are "secrets.gitleaks.ID".
var gitleaksRuleIDs = map[string]string{
	"aws-access-token": RuleAWS, "github-app-token": RuleGitHub, "github-fine-grained-pat": RuleGitHub,
	"github-oauth": RuleGitHub, "github-pat": RuleGitHub, "github-refresh-token": RuleGitHub,
	"gitlab-pat": RuleGitLab, "gitlab-deploy-token": RuleGitLab, "gitlab-runner-authentication-token": RuleGitLab,
	"slack-bot-token": RuleSlack, "slack-user-token": RuleSlack, "slack-app-token": RuleSlack,
	"slack-legacy-token": RuleSlack, "slack-legacy-bot-token": RuleSlack, "slack-legacy-workspace-token": RuleSlack,
	"slack-webhook-url": RuleSlack, "slack-config-access-token": RuleSlack, "slack-config-refresh-token": RuleSlack,
	"stripe-access-token": RuleStripe, "openai-api-key": RuleOpenAI, "anthropic-api-key": RuleAnthropic,
	"anthropic-admin-api-key": RuleAnthropic, "gcp-api-key": RuleGoogle, "private-key": RulePrivateKey,
	"npm-access-token": RuleNPM, "huggingface-access-token": RuleHF, "huggingface-organization-api-token": RuleHF,
	"sendgrid-api-token": RuleSendGrid,
}

// Finding is one secret: its rule, what it is, and where.
type Finding struct {
	Rule       string
	What       string
	Start, End int
}

// Find returns the secrets in s. key is the JSON object key s is
// the value of ("" when none): a high-entropy value under a key named like
// a password or token is a secret even without a known prefix.
func Find(key, s string) []Finding {
	out := find(key, s)
	if j, at := joinLiterals(s); len(at) > 0 {
		// A token split into joined literals ("ghp_" + "R7t…")
		// is found in the joined text; what it finds across a joint is
		// reported over the literals in s.
		seen, sums := newSpanSet(out), jointSums(at)
		for _, f := range find(key, j) {
			start, end, ok := unjoin(f.Start, f.End, at, sums)
			if ok && !seen.overlaps(start, end) {
				f.Start, f.End = start, end
				out = append(out, f)
				seen.add(start, end)
			}
		}
		sort.Slice(out, func(i, k int) bool { return out[i].Start < out[k].Start })
	}
	return out
}

// joint is one place where joinLiterals removed what joins two string
// literals: pos in the joined text, n bytes removed.
type joint struct{ pos, n int }

// maxJoinSpace bounds the blanks (line breaks and indentation
// included) joinLiterals reads on either side of an operator.
const maxJoinSpace = 64

// joinLiterals removes, between two string literals, the closing quote,
// what joins them and the opening quote: "ghp_" + "R7t…" becomes
// "ghp_R7t…". A join is + (JavaScript, Java, Python, C#), " . " (PHP,
// with blanks), .. (Lua) or blanks alone (adjacent literals, which
// Python and C concatenate); the blanks may hold line breaks, where long
// literals are usually split, and the quotes may differ. It returns
// nothing when s has no such joint. Each quote is looked at once, with
// at most 2*maxJoinSpace+2 bytes after it, so the work is linear.
func joinLiterals(s string) (string, []joint) {
	var b strings.Builder
	var at []joint
	last := 0
	for off := 0; off < len(s); {
		j := strings.IndexAny(s[off:], "\"'`")
		if j < 0 {
			break
		}
		q := off + j // a closing quote, if a joint follows
		off = q + 1
		if q < last {
			continue
		}
		i, sp := q+1, 0
		for i < len(s) && isBlank(s[i]) && sp < maxJoinSpace {
			i, sp = i+1, sp+1
		}
		op := ""
		switch {
		case strings.HasPrefix(s[i:], ".."):
			op = ".."
		case i < len(s) && (s[i] == '+' || s[i] == '.'):
			op = s[i : i+1]
		}
		r, sp2 := i+len(op), 0
		for r < len(s) && isBlank(s[r]) && sp2 < maxJoinSpace {
			r, sp2 = r+1, sp2+1
		}
		switch {
		case r >= len(s) || !isQuote(s[r]):
			continue
		case op == "" && sp == 0:
			continue // "" is an empty literal or an escaped quote, no joint
		case op == "." && (sp == 0 || sp2 == 0):
			continue // "a.b" is no joint; "…" . "…" (PHP) has blanks
		}
		b.WriteString(s[last:q])
		at = append(at, joint{b.Len(), r + 1 - q})
		last = r + 1
		off = last
	}
	if len(at) == 0 {
		return "", nil
	}
	b.WriteString(s[last:])
	return b.String(), at
}

func find(key, s string) []Finding {
	var out []Finding
	// Each anchor is found through its rarest byte (its pivot): one
	// IndexByte pass per pivot byte instead of one Index per anchor, which
	// matters on text full of the anchors' first letters.
	rules := secretRules()
	for _, pg := range pivotGroups() {
		for off := 0; off < len(s); {
			j := strings.IndexByte(s[off:], pg.b)
			if j < 0 {
				break
			}
			p := off + j
			off = p + 1
			for _, pa := range pg.anchors {
				at := p - pa.k
				if at < 0 || at+len(pa.lit) > len(s) || s[at:at+len(pa.lit)] != pa.lit {
					continue
				}
				r := &rules[pa.rule]
				if r.boundary && at > 0 && isWordChar(s[at-1]) && s[at-1] != '_' {
					continue
				}
				end := min(at+r.window, len(s))
				loc := r.re.FindStringIndex(s[at:end])
				if loc == nil {
					continue
				}
				if r.rule == RuleGitLab && !isWordChar(s[at+loc[1]-1]) && s[at+loc[1]-1] != '-' {
					loc[1]-- // the boundary the pattern reads past the token
				}
				tok := s[at : at+loc[1]]
				if r.rule == RuleNPM && !npmrcScope(s, at) {
					continue
				}
				val := tok
				if r.rule == RuleNPM {
					val = tok[strings.IndexByte(tok, '=')+1:] // the key is no placeholder
				}
				// After :_authToken= even a time-based UUID is a credential
				// (npm's legacy tokens are UUIDs).
				ph := placeholder(val) && !(r.rule == RuleNPM && nonRandomUUID(val) && !repeatedGroups(val))
				if r.minEntropy > 0 && entropy(val) < r.minEntropy || ph {
					continue
				}
				if len(out) > 0 && out[len(out)-1].Start == at {
					continue // two anchors of one rule at one place
				}
				out = append(out, Finding{r.rule, r.what, at, at + loc[1]})
			}
		}
	}
	// The table's tokens come first, with the rules above: its patterns
	// take a token whole where gitleaks' fixed lengths take a prefix of a
	// longer one.
	seen := newSpanSet(out)
	for _, g := range shapeFindings(s) {
		if !seen.overlaps(g.Start, g.End) {
			out = append(out, g)
			seen.add(g.Start, g.End)
		}
	}
	for _, g := range gitleaksFindings(s) {
		if !seen.overlaps(g.Start, g.End) {
			out = append(out, g)
			seen.add(g.Start, g.End)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	conns := connStrings(s)
	out = append(out, conns...)
	if strings.Contains(s, " -p") || strings.Contains(s, "\t-p") {
		for _, f := range conns {
			seen.add(f.Start, f.End)
		}
		for _, f := range cliPasswords(s) {
			if !seen.overlaps(f.Start, f.End) {
				out = append(out, f)
				seen.add(f.Start, f.End)
			}
		}
	}
	if key != "" && secretKey(key) {
		v := strings.TrimSpace(s)
		if len(v) >= 8 && len(v) <= 512 && !placeholder(v) && !strings.ContainsAny(v, " \n") && entropy(v) >= 3.0 && len(out) == 0 && !notCredential(v) {
			out = append(out, Finding{RuleGeneric, "value of " + key, 0, len(s)})
		}
	} else {
		out = append(out, assignments(s)...)
	}
	return out
}

// formatRules names the kinds of format.go's table by rule id. The table
// is what scan's findings and every mask (launch lines, records) know;
// Find reports its tokens too, so that a value scan calls a GitHub token
// is one to the guardrail as well, whatever gitleaks' fixed length says.
// Kinds left out have a rule with more context: private keys (a header
// alone is prose), JWTs and URL credentials (connStrings) of Find's own;
// Google, Slack, OpenAI, Anthropic and Hugging Face tokens of gitleaks, whose
// entropy floors and allowlists of published example keys the table
// lacks (with them the external eval's precision fell from 0.93 to 0.80).
var formatRules = map[string]string{
	"AWS access key": RuleAWS, "GitHub token": RuleGitHub, "GitLab token": RuleGitLab,
	"Stripe key": RuleStripe, "npm token": RuleNPM,
	"Linear API key": RuleLinear, "SendGrid key": RuleSendGrid,
}

// formatSecretRules turns the kinds formatRules adopts into anchored
// rules, found in the same pass over the text as Find's own: each
// pattern's literal anchors, its expression anchored at them (a leading
// \b becomes the boundary check), a window wide enough for any token.
func formatSecretRules() []secretRule {
	var out []secretRule
	for _, p := range secretPatterns() {
		rule, ok := formatRules[p.kind]
		if !ok {
			continue
		}
		expr, boundary := strings.CutPrefix(p.expr, `\b`)
		out = append(out, secretRule{rule: rule, what: p.kind, anchors: strings.Split(p.prefix, "|"),
			re: regexp.MustCompile(`^` + expr), window: 512, boundary: boundary})
	}
	return out
}

type pivotAnchor struct {
	lit  string
	k    int // offset of the pivot byte in lit
	rule int // index into secretRules
}

type pivotGroup struct {
	b       byte
	anchors []pivotAnchor
}

// pivotGroups groups every rule anchor by its rarest byte; built on
// first use.
var pivotGroups = sync.OnceValue(func() []pivotGroup {
	rank := func(c byte) int {
		switch {
		case c >= 'a' && c <= 'z':
			return 10
		case c == ' ':
			return 20
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return 4
		case c == '-' || c == '.' || c == '/':
			return 3
		}
		return 1 // _ = : and friends
	}
	idx := map[byte]int{}
	var groups []pivotGroup
	for ri, r := range secretRules() {
		for _, a := range r.anchors {
			k := 0
			for i := 1; i < len(a); i++ {
				if rank(a[i]) < rank(a[k]) {
					k = i
				}
			}
			g, ok := idx[a[k]]
			if !ok {
				g = len(groups)
				idx[a[k]] = g
				groups = append(groups, pivotGroup{b: a[k]})
			}
			groups[g].anchors = append(groups[g].anchors, pivotAnchor{a, k, ri})
		}
	}
	return groups
})

// secretKey reports whether a JSON key names a credential.
func secretKey(k string) bool {
	l := strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(l, w) {
			for _, x := range notSecretKeyWords {
				if strings.Contains(l, x) {
					return false
				}
			}
			return true
		}
	}
	return false
}

var (
	secretKeyWords    = []string{"password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "accesskey", "private_key", "privatekey", "credential", "auth_key", "client_key", "passphrase"}
	notSecretKeyWords = []string{"_url", "_uri", "_path", "_file", "_name", "_type", "_id", "expires", "count", "length", "max_token", "tokens", "_prompt", "hint", "field", "policy"}
)

// connStrings finds scheme://user:password@host with a real password.
func connStrings(s string) []Finding {
	var out []Finding
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "://")
		if j < 0 {
			break
		}
		at := off + j + 3
		off = at
		// user:pass@ within the authority.
		end := at
		for end < len(s) && end-at < 300 && !strings.ContainsRune("/?# \n\"'<>", rune(s[end])) {
			end++
		}
		auth := s[at:end]
		atSign := strings.LastIndexByte(auth, '@')
		if atSign < 0 {
			continue
		}
		colon := strings.IndexByte(auth[:atSign], ':')
		if colon < 0 {
			continue
		}
		pw := auth[colon+1 : atSign]
		if len(pw) < 4 || placeholder(pw) || standInPassword(auth[:colon], pw) || sameName(auth[:colon], pw) {
			continue
		}
		out = append(out, Finding{RuleConnString, "password in a connection string", at + colon + 1, at + atSign})
	}
	return out
}

// cliPasswords finds a password given on a command line the way two
// clients take one: mysql's attached -pSECRET (mysql, mysqldump, mariadb,
// … as MaskArgs knows them) and sshpass -p SECRET or -pSECRET. The value
// must look like a secret (secretLike), so -p$MYSQL_PWD or -pchangeme is
// not one. The client is the last client word before the -p on its line;
// the words are read once, as the scan goes from one -p to the next, so
// the work is linear in s however many -p one line holds.
func cliPasswords(s string) []Finding {
	var out []Finding
	client, read := "", 0 // the client of the line so far, read up to s[read:]
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "-p")
		if j < 0 {
			break
		}
		p := off + j
		at := p + 2
		off = at
		if p == 0 || s[p-1] != ' ' && s[p-1] != '\t' {
			continue
		}
		// The words of s[read:p] (p follows a blank, so no word straddles
		// it): a newline starts a line with no client.
		for i := read; i < p; {
			if s[i] == '\n' {
				client = ""
			}
			if isBlank(s[i]) {
				i++
				continue
			}
			e := i
			for e < p && !isBlank(s[e]) {
				e++
			}
			if b := base(strings.Trim(s[i:e], `"'`)); mysqlClients[b] || b == "sshpass" {
				client = b
			}
			i = e
		}
		read = p
		vs := at
		switch {
		case client == "":
			continue
		case client == "sshpass" && at < len(s) && s[at] == ' ':
			vs = at + 1
		case at >= len(s) || isBlank(s[at]) || s[at] == '=':
			continue // mysql's -p alone prompts; -port is no password
		}
		ve := vs
		for ve < len(s) && !isBlank(s[ve]) {
			ve++
		}
		if ve-vs >= 2 && isQuote(s[vs]) && s[ve-1] == s[vs] {
			vs, ve = vs+1, ve-1
		}
		if secretLike(s[vs:ve]) {
			out = append(out, Finding{RuleGeneric, client + " password on the command line", vs, ve})
		}
	}
	return out
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// placeholder recognises documentation values that are not secrets.
func placeholder(v string) bool {
	l := strings.ToLower(v)
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return true
		}
	}
	n := len(v)
	switch {
	case v[0] == '$' && (n < 2 || v[1] != '{' || v[n-1] == '}' && isIdentifier(v[2:n-1])) && (v[1:] == strings.ToUpper(v[1:]) || v[1] == '{'):
		return true // $VAR, ${VAR}
	case v[0] == '%' && v[n-1] == '%', v[0] == '<' && v[n-1] == '>', strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}"):
		return true // %VAR%, <your key>, {{ secret }}
	}
	return allSame(v) || dummyValue(v)
}

// sameName: the password is the user name, give or take what is not a
// letter or a digit ("postgres:postgres%23", "guest:guest").
func sameName(user, pw string) bool {
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	if p, err := url.PathUnescape(pw); err == nil {
		pw = p
	}
	core := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
				b.WriteByte(c)
			} else if isDigit(s[i]) {
				b.WriteByte(s[i])
			}
		}
		return b.String()
	}
	u := core(user)
	return u != "" && u == core(pw)
}

// npmrcScope: the credential at s[at:] belongs to a registry scope as
// .npmrc writes one, "//host/path/:_authToken=…"; npm reads no other form.
func npmrcScope(s string, at int) bool {
	ls := at
	for ls > 0 && s[ls-1] != ' ' && s[ls-1] != '\n' && s[ls-1] != '\t' && s[ls-1] != '"' && s[ls-1] != '\'' && at-ls < 300 {
		ls--
	}
	return strings.HasPrefix(s[ls:at], "//")
}

func isIdentifier(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordChar(s[i]) && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

var placeholders = []string{"password", "secret", "token", "xxxx", "****", "...", "example", "your_", "your-", "yourpass", "changeme", "change-me", "change_me", "placeholder", "redacted", "dummy", "sample", "env.", "process.env", "os.environ", "getenv", "0000000", "1234567", "abcdefg", "<your", "insert"}

func allSame(v string) bool {
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return true
}

// mixedClasses: a secret mixes letters with digits or symbols, which
// English words and identifiers mostly do not.
func mixedClasses(v string) bool {
	var lower, upper, digit, other bool
	symbols := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			other = true
			if c != '_' && c != '-' && c != '.' {
				symbols++
			}
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			n++
		}
	}
	return n >= 3 || n == 2 && (digit || symbols >= 3)
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
