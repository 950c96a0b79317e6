package guard

import (
	"math"
	"regexp"
	"sort"
	"strings"
)

// Secret rule ids.
const (
	RuleSecretAWS        = "secrets.aws-access-key"
	RuleSecretGitHub     = "secrets.github-token"
	RuleSecretGitLab     = "secrets.gitlab-token"
	RuleSecretSlack      = "secrets.slack-token"
	RuleSecretStripe     = "secrets.stripe-key"
	RuleSecretOpenAI     = "secrets.openai-key"
	RuleSecretAnthropic  = "secrets.anthropic-key"
	RuleSecretGoogle     = "secrets.google-api-key"
	RuleSecretJWT        = "secrets.jwt"
	RuleSecretPrivateKey = "secrets.private-key"
	RuleSecretConnString = "secrets.connection-string"
	RuleSecretNPM        = "secrets.npm-token"
	RuleSecretHF         = "secrets.huggingface-token"
	RuleSecretAzure      = "secrets.azure-storage-key"
	RuleSecretSendGrid   = "secrets.sendgrid-key"
	RuleSecretGeneric    = "secrets.generic-assignment"
)

// secretRule is an anchored rule, adapted from the shapes in gitleaks'
// default ruleset (MIT): the anchor is found with strings.Index, then re
// (which must match at the anchor) runs on a bounded window.
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

var secretRules = []secretRule{
	{RuleSecretAWS, "AWS access key id", []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"}, regexp.MustCompile(`^(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b`), 24, 3.0, true},
	{RuleSecretGitHub, "GitHub token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, regexp.MustCompile(`^gh[pousr]_[A-Za-z0-9]{36,255}`), 260, 3.0, true},
	{RuleSecretGitHub, "GitHub fine-grained token", []string{"github_pat_"}, regexp.MustCompile(`^github_pat_[A-Za-z0-9_]{60,255}`), 270, 3.0, true},
	{RuleSecretGitLab, "GitLab token", []string{"glpat-", "gldt-", "glrt-"}, regexp.MustCompile(`^gl(?:pat|dt|rt)-[A-Za-z0-9_-]{20,}`), 80, 3.0, true},
	{RuleSecretSlack, "Slack token", []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"}, regexp.MustCompile(`^xox[bparse](?:\.[a-z0-9-]+)?-[0-9A-Za-z-]{10,}`), 260, 3.0, true},
	{RuleSecretSlack, "Slack webhook", []string{"hooks.slack.com/"}, regexp.MustCompile(`^hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{20,}`), 160, 0, false},
	{RuleSecretStripe, "Stripe key", []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_"}, regexp.MustCompile(`^[sr]k_(?:live|test)_[A-Za-z0-9]{20,}`), 140, 3.0, true},
	{RuleSecretAnthropic, "Anthropic API key", []string{"sk-ant-"}, regexp.MustCompile(`^sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{32,}`), 140, 3.0, true},
	{RuleSecretOpenAI, "OpenAI API key", []string{"sk-proj-", "sk-svcacct-", "sk-admin-"}, regexp.MustCompile(`^sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}`), 240, 3.5, true},
	{RuleSecretOpenAI, "OpenAI API key", []string{"T3BlbkFJ"}, regexp.MustCompile(`^T3BlbkFJ[A-Za-z0-9_-]{16,}`), 80, 3.0, false},
	{RuleSecretGoogle, "Google API key", []string{"AIza"}, regexp.MustCompile(`^AIza[0-9A-Za-z_-]{35}`), 40, 3.0, true},
	{RuleSecretJWT, "JSON Web Token", []string{"eyJ"}, regexp.MustCompile(`^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), 4096, 0, true},
	{RuleSecretPrivateKey, "private key", []string{"-----BEGIN"}, regexp.MustCompile(`^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`), 64, 0, false},
	{RuleSecretNPM, "npm token", []string{"npm_"}, regexp.MustCompile(`^npm_[A-Za-z0-9]{36}\b`), 40, 3.0, true},
	{RuleSecretHF, "Hugging Face token", []string{"hf_"}, regexp.MustCompile(`^hf_[A-Za-z]{34}\b`), 40, 3.0, true},
	{RuleSecretAzure, "Azure storage account key", []string{"AccountKey="}, regexp.MustCompile(`^AccountKey=[A-Za-z0-9+/]{80,}={0,2}`), 100, 3.5, false},
	{RuleSecretSendGrid, "SendGrid API key", []string{"SG."}, regexp.MustCompile(`^SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`), 70, 3.0, true},
}

// SecretFinding is one secret: its rule, what it is, and where.
type SecretFinding struct {
	Rule       string
	What       string
	Start, End int
}

// CheckSecrets returns the secrets in s. key is the JSON object key s is
// the value of ("" when none): a high-entropy value under a key named like
// a password or token is a secret even without a known prefix.
func CheckSecrets(key, s string) []SecretFinding {
	var out []SecretFinding
	// Each anchor is found through its rarest byte (its pivot): one
	// IndexByte pass per pivot byte instead of one Index per anchor, which
	// matters on text full of the anchors' first letters.
	for _, pg := range pivotGroups {
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
				r := &secretRules[pa.rule]
				if r.boundary && at > 0 && isWordChar(s[at-1]) && s[at-1] != '_' {
					continue
				}
				end := min(at+r.window, len(s))
				loc := r.re.FindStringIndex(s[at:end])
				if loc == nil {
					continue
				}
				tok := s[at : at+loc[1]]
				if r.minEntropy > 0 && entropy(tok) < r.minEntropy || placeholder(tok) {
					continue
				}
				if len(out) > 0 && out[len(out)-1].Start == at {
					continue // two anchors of one rule at one place
				}
				out = append(out, SecretFinding{r.rule, r.what, at, at + loc[1]})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	out = append(out, connStrings(s)...)
	if key != "" && secretKey(key) {
		v := strings.TrimSpace(s)
		if len(v) >= 8 && len(v) <= 512 && !placeholder(v) && !strings.ContainsAny(v, " \n") && entropy(v) >= 3.0 && len(out) == 0 {
			out = append(out, SecretFinding{RuleSecretGeneric, "value of " + key, 0, len(s)})
		}
	} else {
		out = append(out, assignments(s)...)
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

// pivotGroups groups every rule anchor by its rarest byte.
var pivotGroups = func() []pivotGroup {
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
	for ri, r := range secretRules {
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
}()

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

// assignKeywords anchor "password = value" and friends in free text.
var assignKeywords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "client_secret", "auth"}

// assignValue matches the value after a keyword: optional key tail,
// optional quote, then [:=] and the value.
var assignValue = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,30}["']?\s{0,3}(?::|=|:=|=>)\s{0,3}["']?([^\s"',;}{)(<>]{8,200})`)

func assignments(s string) []SecretFinding {
	if len(s) < 12 {
		return nil
	}
	var out []SecretFinding
	for _, kw := range assignKeywords {
		for off := 0; off < len(s); {
			j := indexFold(s[off:], kw)
			if j < 0 {
				break
			}
			at := off + j
			off = at + len(kw)
			if at > 0 && isWordChar(s[at-1]) && s[at-1] != '_' && s[at-1] != '-' {
				continue
			}
			end := min(off+240, len(s))
			m := assignValue.FindStringSubmatchIndex(s[off:end])
			if m == nil {
				continue
			}
			vs, ve := off+m[2], off+m[3]
			v := s[vs:ve]
			if placeholder(v) || entropy(v) < 3.0 || !mixedClasses(v) {
				continue
			}
			out = append(out, SecretFinding{RuleSecretGeneric, kw + " assignment", vs, ve})
			off = ve
		}
	}
	return out
}

// connStrings finds scheme://user:password@host with a real password.
func connStrings(s string) []SecretFinding {
	var out []SecretFinding
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
		if len(pw) < 4 || placeholder(pw) {
			continue
		}
		out = append(out, SecretFinding{RuleSecretConnString, "password in a connection string", at + colon + 1, at + atSign})
	}
	return out
}

// placeholder recognises documentation values that are not secrets.
func placeholder(v string) bool {
	l := strings.ToLower(v)
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return true
		}
	}
	if strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") {
		return true // $VAR, ${VAR}, %VAR%
	}
	return allSame(v)
}

var placeholders = []string{"${", "{{", "<", ">", "xxxx", "****", "...", "example", "your_", "your-", "yourpass", "changeme", "placeholder", "redacted", "dummy", "sample", "password", "secret", "token", "env.", "process.env", "os.environ", "getenv", "0000000", "1234567", "abcdefg", "here"}

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
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			n++
		}
	}
	return n >= 3 || n == 2 && digit
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
