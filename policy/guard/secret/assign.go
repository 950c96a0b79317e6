package secret

import (
	"strings"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// assignStems anchor a credential assigned in free text or code:
// password = …, db_pass := "…", apiKey: '…', "api_token", "…",
// if (secret === "…"). They are matched case-insensitively at the start
// of a key segment (after _, -, ., or a camelCase hump).
var assignStems = []string{"pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "accesskey", "access_key",
	"privatekey", "private_key", "credential", "auth", "contraseña", "contrasena"}

// notSecretKeySuffixes end key names that hold something about a
// credential, not the credential (token_url, secret_name, passwordHint).
var notSecretKeySuffixes = []string{"file", "name", "path", "url", "uri", "id", "ids", "type", "length", "size", "count",
	"source", "location", "endpoint", "expiry", "expires", "expiresat", "field", "hint", "policy", "prompt", "label",
	"header", "format", "mode", "enabled", "required", "min", "max", "limit", "ttl", "timeout", "kind", "version",
	"prefix", "regex", "pattern", "ref", "arn", "store", "manager", "provider", "strategy", "method",
	"user", "username", "login", "mechanism", "properties", "paths", "files", "names", "urls", "uris", "index",
	"issuer", "scope", "spec", "process", "proxy", "handle"}

// notSecretKeys contain a stem without naming a credential.
var notSecretKeys = []string{"passport", "compass", "bypass", "passthrough", "passenger", "passage", "tokeniz", "tokens",
	"author", "authentication-results", "oauth2", "authority", "authenticat", "authz"}

// authWord: notSecretKeys' words for authentication and authorization,
// which name a credential when a secret's stem follows them
// (AUTHENTICATION_TOKEN, authenticator_secret, AUTHZ_API_KEY).
func authWord(x string) bool { return x == "authenticat" || x == "authz" }

// namesSecret: a key's rest holds the stem of a secret.
func namesSecret(rest string) bool {
	for _, w := range []string{"token", "secret", "key", "pass", "pwd", "credential"} {
		if strings.Contains(rest, w) {
			return true
		}
	}
	return false
}

// assignTrie finds every stem in one pass over the lower-cased text.
// It is built on first use, like the gitleaks keyword index.
var assignTrie = sync.OnceValue(func() *ahocorasick.Trie {
	return ahocorasick.NewTrieBuilder().AddStrings(assignStems).Build()
})

func assignments(s string) []Finding {
	if len(s) < 10 {
		return nil
	}
	bp := lowerPool.Get().(*[]byte)
	low := appendLower((*bp)[:0], s)
	type hit struct{ at, n int }
	var hits []hit
	assignTrie().Walk(low, func(end, n, _ int64) bool {
		hits = append(hits, hit{int(end - n + 1), int(n)})
		return true
	})
	*bp = low
	lowerPool.Put(bp)
	var out []Finding
	var seen spanSet
	for _, h := range hits {
		if f, ok := assignmentAt(s, h.at, h.n); ok && !seen.overlaps(f.Start, f.End) {
			out = append(out, f)
			seen.add(f.Start, f.End)
		}
	}
	return out
}

func isKeyChar(c byte) bool { return isWordChar(c) || c == '.' || c == '-' }

// assignmentAt reads the assignment or comparison around a stem at s[at:]
// of length n.
func assignmentAt(s string, at, n int) (Finding, bool) {
	if at > 0 {
		p, c := s[at-1], s[at]
		camel := p >= 'a' && p <= 'z' && c >= 'A' && c <= 'Z'
		if isKeyChar(p) && p != '_' && p != '-' && p != '.' && !camel && !capsSuffix(s, at, n) {
			return Finding{}, false
		}
	}
	ks := at
	for ks > 0 && isKeyChar(s[ks-1]) && at-ks < 40 {
		ks--
	}
	ke := at + n
	for ke < len(s) && isKeyChar(s[ke]) && ke-at < 48 {
		ke++
	}
	key := strings.ToLower(s[ks:ke])
	for _, x := range notSecretKeys {
		if k := strings.Index(key, x); k >= 0 && !(x == "author" && strings.Contains(key, "authoriz")) &&
			!(authWord(x) && namesSecret(key[k+len(x):])) {
			return Finding{}, false
		}
	}
	bare := strings.Trim(strings.NewReplacer("_", "", "-", "", ".", "").Replace(key), "")
	if bare == "pwd" || bare == "oldpwd" {
		return Finding{}, false // the shell's working directory
	}
	for _, x := range notSecretKeySuffixes {
		if strings.HasSuffix(bare, x) && len(bare) > len(x)+2 {
			return Finding{}, false
		}
	}
	vs, ve, ok := valueAfter(s, ks, ke)
	if !ok {
		vs, ve, ok = valueBefore(s, ks)
	}
	if !ok {
		return Finding{}, false
	}
	v := s[vs:ve]
	if !secretLike(v) {
		return Finding{}, false
	}
	quoted := vs > 0 && isQuote(s[vs-1]) && ve < len(s) && s[ve] == s[vs-1]
	if !quoted && (vs == 0 || s[vs-1] != '>') && bareReference(v) {
		return Finding{}, false
	}
	ms, me := min(ks, vs), max(ke, ve)
	line := lineAround(s, ms, me)
	if gitleaksGlobalAllow.allows(v, s[ms:me], line) {
		return Finding{}, false
	}
	// gitleaks' stopwords ("find", "user", …) weed out identifiers; a
	// value full of symbols is no identifier, whatever words it holds.
	stop := symbolCount(v) < 3
	for i := range gitleaksGenericAllow {
		if gitleaksGenericAllow[i].allowsStop(v, s[ms:me], line, stop) {
			return Finding{}, false
		}
	}
	return Finding{RuleGeneric, strings.ToLower(s[at:at+n]) + " assignment", vs, ve}, true
}

// capsSuffix: the stem at s[at:at+n] ends an upper-case environment
// variable name that glues a program's name to it (PGPASSWORD, SMTPPASS,
// REDISCLI_AUTH has its underscore); the stem must end the name, so
// BYPASSES or PASSPORTS are not read as one. A name is at most
// maxEnvName bytes: a longer word is no variable's name, and the scans
// stop there, so a long word full of stems costs linear work.
func capsSuffix(s string, at, n int) bool {
	ks := at
	for ks > 0 && isWordChar(s[ks-1]) {
		if at-ks >= maxEnvName {
			return false
		}
		ks--
	}
	ke := at + n
	for ke < len(s) && isWordChar(s[ke]) {
		if ke-at-n > len("WORD") {
			return false
		}
		ke++
	}
	for i := ks; i < ke; i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			return false
		}
	}
	rest := s[at+n : ke]
	return at-ks >= 2 && (rest == "" || rest == "WORD")
}

// maxEnvName bounds the program name capsSuffix reads before a stem.
const maxEnvName = 64

// assignOps are the assignment and comparison operators, longest first.
var assignOps = []string{"===", "!==", ":=", "=>", "==", "!=", "?=", "||", "=", ":"}

// valueAfter reads KEY["']?[[]]? OP ["'`@]?VALUE from s[ke:].
func valueAfter(s string, ks, ke int) (int, int, bool) {
	i := ke
	quotedKey := false
	if i < len(s) && (s[i] == '"' || s[i] == '\'') && ks > 0 && s[ks-1] == s[i] {
		quotedKey = true
		i++
	}
	if strings.HasPrefix(s[i:], "[]") {
		i += 2
	}
	if i < len(s) && s[i] == '>' && ks > 0 && s[ks-1] == '<' {
		return xmlValue(s, ks, ke, i+1) // <password>VALUE</password>
	}
	i = skipSpaces(s, i, 3)
	op := ""
	for _, o := range assignOps {
		if strings.HasPrefix(s[i:], o) {
			op = o
			break
		}
	}
	if op == "" && quotedKey && i < len(s) && s[i] == ',' {
		op = ","
	}
	if op == "" && i > ke && i < len(s) && flagName(s[ks:ke]) {
		// A command line's --password VALUE: the flag names the
		// credential (not --secret-add, --password-file) and the value is
		// one plain word (not a usage line's "yes|no]" or "k=v,k=v").
		// Base64's '=' padding may end the value; a ',' or a '(' may be
		// in it, where no usage line has one without a '|' or a bracket.
		// A shell word is no code expression, so a '(' is the value's
		// (a call would need quotes, which readValue reads).
		vs, ve, ok := readValue(s, i)
		if !ok && i < len(s) && !isQuote(s[i]) {
			vs, ve = i, i
			for ve < len(s) && ve-i < 200 && !isBlank(s[ve]) {
				ve++
			}
			ok = ve > vs
		}
		if !ok || strings.ContainsAny(strings.TrimSuffix(strings.TrimSuffix(s[vs:ve], "="), "="), "[]|{}<>=") || s[vs] == '-' {
			return 0, 0, false
		}
		return vs, ve, true
	}
	if op == "" {
		return 0, 0, false
	}
	i = skipSpaces(s, i+len(op), 3)
	if op == "," && (i >= len(s) || !isQuote(s[i])) {
		// "api_token", "…" is a pair of literals; "Api-Key", cfg.APIKey
		// or "PWD", dir is a call with a name and a variable.
		return 0, 0, false
	}
	if i < len(s) && s[i] == '@' {
		i++
	}
	if op == "=" && ks > 0 && (s[ks-1] == '?' || s[ks-1] == '&' || s[ks-1] == ';' || s[ks-1] == '\\') {
		if badgeURL(s, ks) {
			return 0, 0, false
		}
		return queryValue(s, i)
	}
	if quotedKey && (op == ":" || op == "=") && i < len(s) && !isQuote(s[i]) {
		// JSON's "key":value: a bare value ends at the member's end.
		e := i
		for e < len(s) && e-i < 200 && strings.IndexByte(",}] \t\r\n", s[e]) < 0 {
			e++
		}
		if e == i || bareExpression(s[i:e]) || s[i] == '[' || s[i] == '{' {
			return 0, 0, false
		}
		return i, e, true
	}
	return readValue(s, i)
}

// badgeURL: the query parameter at s[ks:] belongs to a status badge's
// image URL (codecov's, shields.io's), whose token is public: a README
// shows it to everyone.
func badgeURL(s string, ks int) bool {
	us := ks
	for us > 0 && ks-us < 300 && !isBlank(s[us-1]) && !isQuote(s[us-1]) && s[us-1] != '(' {
		us--
	}
	u := strings.ToLower(s[us:ks])
	return strings.Contains(u, "shields.io/") || strings.Contains(u, "/badge.svg") || strings.Contains(u, "/graph/badge")
}

// queryValue reads a URL query parameter's value (?token=…&…): up to
// the next parameter, the fragment, a quote, a bracket or a backslash
// (JSON text escapes & as \u0026).
func queryValue(s string, i int) (int, int, bool) {
	e := i
	for e < len(s) && e-i < 200 && strings.IndexByte("&#\"'`<>()[]\\ \t\r\n", s[e]) < 0 {
		e++
	}
	return i, e, e > i
}

// flagName: a long option that names a credential: --password,
// --db-password, --api-key, --token; the stem ends the name.
func flagName(k string) bool {
	k, ok := strings.CutPrefix(strings.ToLower(k), "--")
	if !ok {
		return false
	}
	for _, st := range []string{"password", "passwd", "pass", "pwd", "secret", "token", "apikey", "api-key", "api_key", "access-key", "secret-key", "credential", "credentials"} {
		if strings.HasSuffix(k, st) && (len(k) == len(st) || k[len(k)-len(st)-1] == '-' || k[len(k)-len(st)-1] == '_') {
			return true
		}
	}
	return false
}

// xmlValue reads the text of an XML element <KEY>VALUE</KEY> (Maven's
// settings.xml, .NET and Java configs): one run of non-space characters,
// closed by the element's own end tag.
func xmlValue(s string, ks, ke, i int) (int, int, bool) {
	end := strings.IndexByte(s[i:min(len(s), i+202)], '<')
	if end <= 0 {
		return 0, 0, false
	}
	if !strings.HasPrefix(s[i+end:], "</"+s[ks:ke]+">") {
		return 0, 0, false
	}
	v := s[i : i+end]
	if t := strings.TrimSpace(v); t != "" && t != v {
		i += strings.Index(v, t) // <password> SECRET </password>
		end, v = len(t), t
	}
	// Element text is more often an id or a word than an assignment's
	// value is: the bar is the own rules' 3.5 bits a character.
	if strings.ContainsAny(v, " \t\n") || entropy(v) < 3.5 {
		return 0, 0, false
	}
	return i, i + end, true
}

// valueBefore reads "VALUE" OP KEY, a comparison written the other way.
func valueBefore(s string, ks int) (int, int, bool) {
	i := ks
	for i > 0 && s[i-1] == ' ' {
		i--
	}
	found := false
	for _, o := range []string{"===", "!==", "==", "!="} {
		if strings.HasSuffix(s[:i], o) {
			i -= len(o)
			found = true
			break
		}
	}
	if !found {
		return 0, 0, false
	}
	for i > 0 && s[i-1] == ' ' {
		i--
	}
	if i == 0 || !isQuote(s[i-1]) {
		return 0, 0, false
	}
	q := s[i-1]
	st := strings.LastIndexByte(s[max(0, i-201):i-1], q)
	if st < 0 {
		return 0, 0, false
	}
	st += max(0, i-201) + 1
	if strings.ContainsRune(s[st:i-1], '\n') {
		return 0, 0, false
	}
	return st, i - 1, true
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func skipSpaces(s string, i, n int) int {
	for k := 0; k < n && i < len(s) && (s[i] == ' ' || s[i] == '\t'); k++ {
		i++
	}
	return i
}

// readValue reads a quoted value to its closing quote, or a bare one to
// the next space, less trailing punctuation.
func readValue(s string, i int) (int, int, bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if isQuote(s[i]) {
		q := s[i]
		e := strings.IndexByte(s[i+1:min(len(s), i+202)], q)
		if e < 0 {
			return 0, 0, false
		}
		v := s[i+1 : i+1+e]
		if strings.ContainsAny(v, "\n ") {
			return 0, 0, false // a sentence, not a credential
		}
		return i + 1, i + 1 + e, true
	}
	e := i
	for e < len(s) && e-i < 200 && s[e] != ' ' && s[e] != '\t' && s[e] != '\n' && s[e] != '\r' {
		e++
	}
	for e > i && strings.IndexByte(",;\"'`", s[e-1]) >= 0 {
		e--
	}
	if t := trimClosers(s[i:e]); len(t) < e-i {
		// The value closes brackets it did not open: it sits in code
		// ({PrivateKey: ecTestKey256}, Insert(x, middleware.After)), so
		// a name in it is a variable's.
		e = i + len(t)
		for e > i && strings.IndexByte(",;\"'`", s[e-1]) >= 0 {
			e--
		}
		if identOrPath(s[i:e]) {
			return 0, 0, false
		}
	}
	if e > i && (s[i] == '[' || s[i] == '{') && closes(s[i:e]) {
		return 0, 0, false // a structure: a JSON object or array, a list
	}
	if bareExpression(s[i:e]) {
		return 0, 0, false
	}
	return i, e, e > i
}

// trimClosers drops the closing brackets (and the punctuation between
// them) that end v without an opening one in it.
func trimClosers(v string) string {
	for len(v) > 0 {
		c := v[len(v)-1]
		var open byte
		switch c {
		case ')':
			open = '('
		case ']':
			open = '['
		case '}':
			open = '{'
		case ',', ';', '.':
			if t := strings.TrimRight(v, ",;."); t != v && len(t) > 0 && strings.IndexByte(")]}", t[len(t)-1]) >= 0 {
				v = t
				continue
			}
			return v
		default:
			return v
		}
		if unquotedCount(v, c) <= unquotedCount(v, open) {
			return v
		}
		v = v[:len(v)-1]
	}
	return v
}

// unquotedCount counts c in v outside quoted literals ('{' in
// Delim('{') is text, not a bracket).
func unquotedCount(v string, c byte) int {
	n := 0
	var quote byte
	for i := 0; i < len(v); i++ {
		switch {
		case quote != 0:
			if v[i] == quote {
				quote = 0
			}
		case v[i] == '"' || v[i] == '\'' || v[i] == '`':
			quote = v[i]
		case v[i] == c:
			n++
		}
	}
	return n
}

// closes: the bracket v opens with is closed in v.
func closes(v string) bool {
	open, shut := v[0], byte(']')
	if open == '{' {
		shut = '}'
	}
	depth := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case open:
			depth++
		case shut:
			depth--
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// identOrPath: a name or a dotted path of names, dereferenced or not
// (ecTestKey256, tpm2.TPMRHOwner, *p.keyMarker, !sessionKey).
func identOrPath(v string) bool {
	v = strings.TrimLeft(v, "*&!")
	if v == "" || isDigit(v[0]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isWordChar(v[i]) && v[i] != '.' {
			return false
		}
	}
	return !strings.HasSuffix(v, ".") && !strings.Contains(v, "..")
}

// bareReference: an unquoted value that names a variable rather than
// holding a credential: a dereference or an address (*privateKey2,
// &cfg), a name built of a credential word (ed25519PrivateKey,
// jwtTestEC256PrivateKey), a package's member (tpm2.TPMRHOwner: digits
// in the package's name alone), a PowerShell or lower-case shell
// variable ($env:DEVOPS_PAT, $credential).
func bareReference(v string) bool {
	switch {
	case v[0] == '*' || v[0] == '&' || v[0] == '!':
		return identOrPath(v)
	case strings.HasPrefix(strings.ToLower(v), "$env:"):
		return true
	case v[0] == '$':
		e := 1
		for e < len(v) && isWordChar(v[e]) {
			e++
		}
		return len(v) > 1 && v[1] >= 'a' && v[1] <= 'z' && (e == len(v) || strings.IndexByte(",;)&+", v[e]) >= 0) ||
			len(v) > 2 && v[1] == '{' && strings.HasSuffix(v, "}") && identOrPath(v[2:len(v)-1])
	case !identOrPath(v):
		return false
	}
	if k := strings.IndexByte(v, '.'); k > 0 {
		for i := k; i < len(v); i++ {
			if isDigit(v[i]) {
				return false
			}
		}
		return true
	}
	for _, w := range []string{"Key", "Token", "Secret", "Credential", "Password"} {
		for off := 0; ; {
			j := strings.Index(v[off:], w)
			if j < 0 {
				break
			}
			at := off + j
			off = at + 1
			if at > 0 && (v[at-1] >= 'a' && v[at-1] <= 'z' || isDigit(v[at-1])) {
				return true // a hump: privateKey, ed25519PrivateKey
			}
		}
	}
	return false
}

// bareExpression: an unquoted value that is code rather than a literal
// (Go's "var _ Credential = (*cli)(nil)", "token := header[len(p):]",
// "secret = make([]byte, n)", "pass = ${lines[2]}", "re = /^[a-z]+$/"):
// it opens with an operator or a bracket, or with a name and a bracket
// (a call, an index, a composite literal), and its brackets nest as code's
// do, each closed by its own kind (a value cut at a space may leave some
// open). A credential in a config file or an environment assignment is
// one bare run of characters; a random one that holds brackets does not
// nest them.
func bareExpression(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '/' && len(v) > 2 && strings.HasSuffix(strings.TrimRight(v, "dgimsuvy"), "/") {
		return true // a regular expression literal, /…/flags
	}
	i := 0
	switch v[0] {
	case '*', '&', '/', '<', '!', '$':
		i = 1
	}
	for i < len(v) && (isWordChar(v[i]) || v[i] == '.') {
		i++
	}
	if i == len(v) || strings.IndexByte("([{/", v[i]) < 0 {
		return false
	}
	var stack []byte
	var quote byte
	for j := 0; j < len(v); j++ {
		if quote != 0 {
			if v[j] == quote {
				quote = 0
			}
			continue
		}
		switch c := v[j]; c {
		case '"', '\'', '`':
			quote = c
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return true
}

// secretLike: long enough, not a placeholder or a code reference, and
// random-looking (entropy and a mix of character classes).
func secretLike(v string) bool {
	if len(v) < 8 || len(v) > 200 || placeholder(v) || codeReference(v) {
		return false
	}
	return entropy(v) >= 3.0 && mixedClasses(v) && !notCredential(v)
}

// codeReference: an identifier, a dotted path or a call (os.environ,
// self.password, get_secret("x")), or a literal keyword.
func codeReference(v string) bool {
	switch strings.ToLower(v) {
	case "null", "none", "nil", "true", "false", "undefined":
		return true
	}
	i := 0
	for i < len(v) {
		c := v[i]
		if !(isWordChar(c) || c == '.' || c == '$') || i == 0 && isDigit(c) {
			break
		}
		i++
	}
	return i == len(v) && !hasDigitAndLetter(v) || i > 0 && i < len(v) && v[i] == '(' && strings.HasSuffix(v, ")") && strings.IndexByte(v[:i], '.') > 0
}

func symbolCount(v string) int {
	n := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isWordChar(c) && c != '-' && c != '.' {
			n++
		}
	}
	return n
}

func hasDigitAndLetter(v string) bool {
	var d, l bool
	for i := 0; i < len(v); i++ {
		d = d || isDigit(v[i])
		l = l || v[i]|0x20 >= 'a' && v[i]|0x20 <= 'z'
	}
	return d && l
}
