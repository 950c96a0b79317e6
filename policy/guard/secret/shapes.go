package secret

import "strings"

// Token shapes whose fixed literal is not at their start, from the
// detectors of Yelp's detect-secrets (Apache-2.0): a Discord bot token
// (three base64url parts, the middle one of six characters), a Telegram
// bot token (a numeric bot id, ':', 35 characters) and a Mailchimp API key
// (32 hex digits, "-us" and a data centre number). Each is found from its
// inner literal ('.', ":AA", "-us") and checked in both directions, with
// word boundaries at both ends; gitleaks' rules for these services want
// the service's name next to the token.
const (
	RuleDiscord   = "secrets.discord-bot-token"
	RuleTelegram  = "secrets.telegram-bot-token"
	RuleMailchimp = "secrets.mailchimp-api-key"
)

func shapeFindings(s string) []Finding {
	var out []Finding
	add := func(rule, what string, start, end int) {
		tok := s[start:end]
		if placeholder(tok) || entropy(tok) < 3.5 {
			return
		}
		out = append(out, Finding{rule, what, start, end})
	}
	// Discord: [MNO] and 23-25 characters, '.', 6, '.', 27 or more.
	for off := 0; off < len(s); {
		j := strings.IndexByte(s[off:], '.')
		if j < 0 {
			break
		}
		p := off + j
		off = p + 1
		if p+7 >= len(s) || s[p+7] != '.' || runOf(s[p+1:p+7], isB64URL) != 6 {
			continue
		}
		lo := p - backRun(s[:p], isB64URL)
		n := runOf(s[p+8:], isB64URL)
		if first := p - lo; first < 24 || first > 26 || n < 27 || (s[lo] != 'M' && s[lo] != 'N' && s[lo] != 'O') {
			continue
		}
		add(RuleDiscord, "Discord bot token", lo, p+8+n)
		off = p + 8 + n
	}
	// Telegram: 8-10 digits, ":AA", 33 more; the id's first digit is not 0.
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], ":AA")
		if j < 0 {
			break
		}
		p := off + j
		off = p + 3
		d := backRun(s[:p], isDigit)
		n := runOf(s[p+1:], isB64URL)
		if d < 8 || d > 10 || s[p-d] == '0' || n != 35 || p-d > 0 && isWordChar(s[p-d-1]) {
			continue
		}
		add(RuleTelegram, "Telegram bot token", p-d, p+1+n)
	}
	// Mailchimp: 32 lower-case hex digits, "-us", one or two digits.
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "-us")
		if j < 0 {
			break
		}
		p := off + j
		off = p + 3
		h := backRun(s[:p], isLowerHex)
		d := runOf(s[p+3:], isDigit)
		end := p + 3 + d
		if h != 32 || d < 1 || d > 2 || p-h > 0 && isWordChar(s[p-h-1]) || end < len(s) && isWordChar(s[end]) {
			continue
		}
		add(RuleMailchimp, "Mailchimp API key", p-h, end)
	}
	// An Azure storage account key outside a connection string
	// (AZURE_STORAGE_KEY=…, storage_key: "…"): 64 random bytes in base64,
	// 86 characters and "==", assigned to a name that says key. A bare run
	// of that shape is as likely a SHA-512 digest (npm's integrity
	// fields), so the name is required, and digests' names are not keys.
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "==")
		if j < 0 {
			break
		}
		p := off + j
		off = p + 2
		if p+2 < len(s) && (isB64Std(s[p+2]) || s[p+2] == '=') || backRun(s[:p], isB64Std) != 86 {
			continue
		}
		lo := p - 86
		if azureKeyName(s[:lo]) {
			add(RuleAzure, "Azure storage account key", lo, p+2)
		}
	}
	return out
}

func isB64Std(c byte) bool { return isWordChar(c) && c != '_' || c == '+' || c == '/' }

// azureKeyName: the text before a value ends in an assignment to a name
// that holds "key" (storage_key: ", AZURE_STORAGE_KEY=, accountKey = ').
func azureKeyName(before string) bool {
	i := len(before)
	for i > 0 && len(before)-i < 4 && (before[i-1] == '"' || before[i-1] == '\'' || before[i-1] == ' ') {
		i--
	}
	if i == 0 || before[i-1] != '=' && before[i-1] != ':' {
		return false
	}
	i--
	for i > 0 && before[i-1] == ' ' {
		i--
	}
	for i > 0 && (before[i-1] == '"' || before[i-1] == '\'') {
		i--
	}
	e := i
	for i > 0 && e-i < 64 && (isWordChar(before[i-1]) || before[i-1] == '-' || before[i-1] == '.') {
		i--
	}
	name := strings.ToLower(before[i:e])
	if !strings.Contains(name, "key") || !containsAny(name, "storage", "account", "azure", "access", "shared", "primary", "secondary", "secret") {
		return false // "key" alone is as often a public key
	}
	for _, x := range []string{"sha", "hash", "digest", "integrity", "public", "pub_", "cert", "fingerprint", "checksum"} {
		if strings.Contains(name, x) {
			return false
		}
	}
	return true
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func isB64URL(c byte) bool { return isWordChar(c) || c == '-' }
func isLowerHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}

// runOf counts the bytes at the start of s that ok accepts.
func runOf(s string, ok func(byte) bool) int {
	n := 0
	for n < len(s) && ok(s[n]) {
		n++
	}
	return n
}

// backRun counts the bytes at the end of s that ok accepts.
func backRun(s string, ok func(byte) bool) int {
	n := 0
	for n < len(s) && ok(s[len(s)-1-n]) {
		n++
	}
	return n
}
