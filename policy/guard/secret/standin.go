package secret

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// What an assignment to a credential-named key holds when it is not a
// credential. Reading the flagged files of 40,000 real ones (the npm
// packages and the Go module cache, `make eval-overfire`) sorted the
// generic rule's false positives into a few classes, each told by how the
// value is made rather than by a list of values:
//
//   - public values: a URL or a URN (an issuer, an endpoint, a lock
//     token), a file or module path, an AWS credential scope (the key id
//     and a date, which signing puts in every request);
//   - text that is not a value: a format string ("%s", "\n"), a regular
//     expression, a template ("{header}.{payload}"), a list of options
//     ("source=foo,target=bar") or of fields ("Uid:Gid:Shell");
//   - stand-ins a person typed: a common password in any spelling
//     ("passw0rd", "appP4$$w0rd", "s3cr3t-t0k3n"), the user name again
//     ("guest:guest"), metasyntactic words ("foo:bar"), words alone
//     ("admin-token"), a known token
//     prefix with a body no issuer makes ("ghp_test123"), and base64 of
//     any of these or of a sentence ("dGhpcyBpcyBub3QgYSByZWFsIHZhbHVl" is
//     "this is not a real value").
//
// Test fixtures that hold a key of a real format (a PEM private key, a
// JWT, a token of gitleaks' test suite) stay findings: nothing in the
// value tells them from a leaked one.

// notCredential reports whether v, the value of an assignment to a
// credential-named key, is one of the classes above.
func notCredential(v string) bool {
	return publicValue(v) || notAValue(v) || standIn(v) || shellDefault(v)
}

// shellDefault: ${NAME:-default} (or :=, -, =) is judged by its default,
// the literal part.
func shellDefault(v string) bool {
	if !strings.HasPrefix(v, "${") || !strings.HasSuffix(v, "}") {
		return false
	}
	body := v[2 : len(v)-1]
	k := strings.IndexAny(body, ":-=")
	if k <= 0 || !isIdentifier(body[:k]) {
		return false
	}
	def := strings.TrimLeft(body[k:], ":-=")
	return !secretLike(def)
}

// publicValue: a URL, a URN, a path, an AWS credential scope. A URL with
// a random key in its path or query (a webhook's, a signed link's) is a
// capability, not a public address.
func publicValue(v string) bool {
	l := strings.ToLower(v)
	if strings.HasPrefix(l, "urn:") || schemeURL(l) && !capabilityURL(v) {
		return true
	}
	if strings.HasSuffix(l, "/aws4_request") {
		return true // Credential=AKID/20210101/us-east-1/s3/aws4_request
	}
	return pathLike(v)
}

// schemeURL: scheme://… (the password a URL may carry is connStrings').
func schemeURL(l string) bool {
	i := strings.Index(l, "://")
	if i <= 0 || i > 20 {
		return false
	}
	for j := 0; j < i; j++ {
		c := l[j]
		if !(c >= 'a' && c <= 'z' || j > 0 && (isDigit(c) || c == '+' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

// capabilityURL reports whether the URL v (schemeURL) carries a random
// key after its scheme: a path segment or query value of 16 characters
// or more, with upper- and lower-case letters and digits, that is
// secretLike ("hooks.example.test/catch/123456/Kx7mQ9vL2pR8sT4wAb3").
// Lower-case names, numbers and UUIDs are parts of public addresses.
func capabilityURL(v string) bool {
	i := strings.Index(v, "://")
	if i < 0 {
		return false
	}
	for _, part := range strings.FieldsFunc(v[i+3:], func(r rune) bool { return strings.ContainsRune("/?&=#;", r) }) {
		if len(part) >= 16 && strings.ContainsFunc(part, isUpper) && strings.ContainsFunc(part, isLower) && strings.ContainsFunc(part, isDigitRune) && secretLike(part) {
			return true
		}
	}
	return false
}

func isUpper(r rune) bool     { return r >= 'A' && r <= 'Z' }
func isLower(r rune) bool     { return r >= 'a' && r <= 'z' }
func isDigitRune(r rune) bool { return r >= '0' && r <= '9' }

// pathLike: a file or module path, or a list of them: '/'-separated
// segments of lower-case letters, digits and ._-, (a random value of
// base64's alphabet has upper-case letters).
func pathLike(v string) bool {
	if strings.Count(v, "/") < 1 || strings.HasSuffix(v, "=") {
		return false
	}
	letters := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case isDigit(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == ',' || c == '~':
		default:
			return false
		}
	}
	// One slash between two runs is also a fraction or a ratio of
	// random characters; a path has words.
	return letters >= 3 && (strings.Count(v, "/") >= 2 || v[0] == '/' || v[0] == '.' || v[0] == '~')
}

// notAValue: a format string, a regular expression, a template, a list of
// options or fields.
func notAValue(v string) bool {
	if jsonStart(v) {
		return true // JSON text, a list
	}
	if (v[0] == '{' || v[0] == '[') && closes(v) && (len(v) == 2 || wordsAndNumbers(v[1:len(v)-1])) {
		return true // a list of names, an empty one
	}
	if formatText(v) {
		return true
	}
	return template(v) || optionList(v) || fieldList(v)
}

// jsonStart: v starts as JSON text does, {"name": or ["word", (it may
// be cut where a program joins it to more: `{"iss":"https://a","exp":` + n).
func jsonStart(v string) bool {
	if len(v) < 4 || !(v[0] == '{' || v[0] == '[') || v[1] != '"' {
		return false
	}
	i := 2
	for i < len(v) && (isWordChar(v[i]) || v[i] == '-' || v[i] == '.' || v[i] == ':' || v[i] == ' ') {
		i++
	}
	if i == 2 || i+1 >= len(v) || v[i] != '"' {
		return false
	}
	return v[0] == '{' && v[i+1] == ':' || v[0] == '[' && (v[i+1] == ',' || v[i+1] == ']') && allWords(v[2:i])
}

// formatText: v holds a printf verb, an escape sequence written out or a
// class or quantifier of a regular expression, and what is left is words
// and numbers ("Bearer %s", "tok_[a-z0-9]{24}", "mismatch:\n%s"). A
// random value of printable characters holds one of these two-byte runs
// in about 2 % of cases, so the mark alone tells nothing; the rest of a
// random value mixes letters, digits and cases within its runs
// ("Xk9.*mP2qLw7").
func formatText(v string) bool {
	marked, class := false, false
	// A class of a regular expression with a range ([A-Za-z0-9._~+/-])
	// is one mark, whatever it holds.
	for {
		i := strings.IndexByte(v, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], ']')
		if j < 0 || !rangeClass(v[i+1:i+j]) {
			break
		}
		marked, class = true, true
		v = v[:i] + " " + v[i+j+1:]
	}
	if class {
		// Around a class: its quantifiers, groups and alternatives.
		v = strings.Map(func(r rune) rune {
			if strings.ContainsRune("+*?()|^$", r) {
				return ' '
			}
			return r
		}, v)
	}
	for _, p := range formatMarks {
		if strings.Contains(v, p) {
			marked = true
			v = strings.ReplaceAll(v, p, " ")
		}
	}
	return marked && wordsAndNumbers(v)
}

// rangeClass: the inside of [a-z], [0-9A-F], [^A-Za-z0-9._~+/-].
func rangeClass(c string) bool {
	c = strings.TrimPrefix(c, "^")
	for i := 0; i+2 < len(c); i++ {
		a, b := c[i], c[i+2]
		if c[i+1] == '-' && (isDigit(a) && isDigit(b) || a >= 'a' && b <= 'z' || a >= 'A' && a <= 'Z' && b <= 'Z') && a < b {
			return true
		}
	}
	return false
}

// wordsAndNumbers: every run of letters and digits in v is a number or a
// word (lower case, upper case, capitalised, or camelCase humps of two
// letters or more), and v holds at most as many other characters as
// letters and digits.
func wordsAndNumbers(v string) bool {
	alnum, other := 0, 0
	if !allWords(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if isAlnum(v[i]) {
			alnum++
		} else if v[i] != ' ' {
			other++
		}
	}
	if alnum == 0 {
		return other <= 2 // "%s:%d"
	}
	return other <= alnum/2+1
}

// allWords: every run of letters and digits in v is a word or a number.
func allWords(v string) bool { return wordRuns(v, false) }

// namesWords: allWords, and a word may end in a number (header_b64,
// foo2) or be an abbreviation (cfg, pkg), as names are.
func namesWords(v string) bool { return wordRuns(v, true) }

func wordRuns(v string, names bool) bool {
	for i := 0; i < len(v); {
		if !isAlnum(v[i]) {
			i++
			continue
		}
		j := i
		for j < len(v) && isAlnum(v[j]) {
			j++
		}
		if !wordOrNumber(v[i:j], !names) && !(names && numberedWord(v[i:j])) {
			return false
		}
		i = j
	}
	return true
}

// numberedWord: a lower-case word and a number after it (foo2, sha256,
// b64).
func numberedWord(t string) bool {
	i := 0
	for i < len(t) && t[i] >= 'a' && t[i] <= 'z' {
		i++
	}
	return i >= 1 && i < len(t) && digitCount(t[i:]) == len(t)-i
}

func isAlnum(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' }

// wordOrNumber: digits alone, or letters alone shaped as words are.
// With vowels, each word or camelCase hump holds a vowel (random runs
// of letters mostly do not).
func wordOrNumber(t string, vowels bool) bool {
	digits := 0
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			digits++
		}
	}
	if digits == len(t) {
		return true
	}
	if digits > 0 {
		return false
	}
	if t == strings.ToUpper(t) {
		return len(t) >= 2 && len(t) <= 6 // AWS, HTTP, JSON; not a random run of capitals
	}
	// Humps: an upper-case letter starts one, and each holds two
	// letters or more, a vowel among them; the first hump may be lower
	// case, and a word of one or two lower-case letters needs no vowel.
	if len(t) <= 2 && t[0] >= 'a' {
		return true
	}
	run, vowel := 0, false
	for i := 0; i <= len(t); i++ {
		if i == len(t) || t[i] >= 'A' && t[i] <= 'Z' {
			if i > 0 && (run < 2 || vowels && !vowel) {
				return false
			}
			run, vowel = 0, false
			if i == len(t) {
				break
			}
		}
		if strings.IndexByte("aeiouyAEIOUY", t[i]) >= 0 {
			vowel = true
		}
		run++
	}
	return true
}

// formatMarks are printf verbs, escape sequences written out, and the
// classes and quantifiers of regular expressions.
var formatMarks = []string{"%s", "%v", "%d", "%q", "%+v", "%#v", `\n`, `\t`, `\r`,
	"[a-z", "[A-Z", "[0-9", `\d`, `\w`, `\s`, `\.`, ".*", ".+", "(?:", "(?i"}

// template: every part of v is an interpolation ({name}, ${name},
// {{ name }}) joined by punctuation, or a Python f-string.
func template(v string) bool {
	if len(v) > 3 && (v[0] == 'f' || v[0] == 'F') && isQuote(v[1]) && v[len(v)-1] == v[1] && strings.Contains(v, "{") {
		return true
	}
	holes, rest := 0, 0
	for i := 0; i < len(v); {
		if v[i] != '{' {
			if isWordChar(v[i]) {
				rest++
			}
			i++
			continue
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return false
		}
		name := strings.Trim(v[i+1:i+j], "{ $")
		if !isIdentifier(name) || !namesWords(name) {
			return false
		}
		holes++
		i += j + 1
		for i < len(v) && v[i] == '}' {
			i++
		}
	}
	return holes > 0 && rest <= 3
}

// optionList: "source=foo,target=bar", "--format=json(x)",
// "id=s,src=./s": a name of lower-case letters and dashes, '=', and more;
// base64's '=' only pads the end.
func optionList(v string) bool {
	i := strings.IndexByte(v, '=')
	if i <= 0 || strings.TrimRight(v[i:], "=") == "" {
		return false
	}
	name := strings.TrimLeft(v[:i], "-")
	if len(name) < 2 {
		return false
	}
	for j := 0; j < len(name); j++ {
		if c := name[j]; !(c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	// What follows is names and values of words, not a random part
	// ("yx=ZEU/pNJn&d1Ea6S").
	for j := i; j < len(v); j++ {
		if c := v[j]; !isAlnum(c) && !strings.ContainsRune("=,._/:()-~", rune(c)) {
			return false
		}
	}
	return namesWords(v)
}

// fieldList: three or more ':'-separated names of letters alone
// ("UID:GID:GECOS:directory:shell").
func fieldList(v string) bool {
	parts := strings.Split(v, ":")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		for j := 0; j < len(p); j++ {
			if c := p[j] | 0x20; c < 'a' || c > 'z' {
				return false
			}
		}
	}
	return true
}

// standIn: a value a person typed in place of a credential.
func standIn(v string) bool {
	return commonPassword(v) || metasyntactic(v) || wordsOnly(v) || malformedToken(v) || encodedStandIn(v) || jwtStandIn(v)
}

// commonPassword: v, read with its digits and symbols as the letters
// they stand for (p4ssw0rd, s3cr3t, appP4$$w0rd), holds a placeholder
// word, or its letters alone are a default password ("test1",
// "pass!@#$%^&*()_+", "qwerty").
func commonPassword(v string) bool {
	n := make([]byte, 0, len(v))
	var core, ncore []byte
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20
		if v[i] < 'A' || v[i] > 'Z' {
			c = v[i]
		}
		if c >= 'a' && c <= 'z' {
			core = append(core, c)
		}
		if r, ok := leet[c]; ok {
			c = r
		}
		n = append(n, c)
		if c >= 'a' && c <= 'z' {
			ncore = append(ncore, c)
		}
	}
	if string(n) != strings.ToLower(v) && placeholderWords(v, string(n)) {
		return true
	}
	if !fewDigits(v) {
		return false // the letters of "foo83920174829301" are no password's
	}
	// The digits that end a default password are its own ("admin2024"),
	// not letters written as digits.
	tail := strings.TrimRight(strings.ToLower(v), "0123456789")
	var lt []byte
	for i := 0; i < len(tail); i++ {
		c := tail[i]
		if r, ok := leet[c]; ok {
			c = r
		}
		if c >= 'a' && c <= 'z' {
			lt = append(lt, c)
		}
	}
	return defaultPasswords[string(core)] || defaultPasswords[string(ncore)] || defaultPasswords[tail] || defaultPasswords[string(lt)]
}

// placeholderWords: n, v read with its digits and symbols as letters,
// holds placeholder words, and what is left of v around them is numbers
// or stand-in words ("Pa55w0rd#2024", "s3cr3tV4lu3!", "appP4$$w0rd"),
// not a random part ("Pa55w0rd-Pr0d-9fKx").
func placeholderWords(v, n string) bool {
	if !placeholder(n) {
		return false
	}
	rest := []byte(v)
	found := false
	for _, p := range placeholders {
		for off := 0; ; {
			k := strings.Index(n[off:], p)
			if k < 0 {
				break
			}
			found = true
			for i := off + k; i < off+k+len(p); i++ {
				rest[i] = ' '
			}
			off += k + len(p)
		}
	}
	if !found {
		return false
	}
	for _, t := range strings.FieldsFunc(string(rest), func(r rune) bool { return r > 0x7f || !isAlnum(byte(r)) }) {
		if digitCount(t) == len(t) {
			continue
		}
		var w []byte
		for i := 0; i < len(t); i++ {
			c := t[i] | 0x20
			if r, ok := leet[t[i]]; ok {
				c = r
			}
			w = append(w, c)
		}
		if !standInWords[string(w)] {
			return false
		}
	}
	return true
}

// fewDigits: v ends in four digits at most (a year, "123") and holds
// four more at most among its letters (written for letters, "Adm1n").
func fewDigits(v string) bool {
	t := strings.TrimRight(v, "0123456789")
	return len(v)-len(t) <= 4 && digitCount(t) <= 4
}

func digitCount(v string) int {
	n := 0
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			n++
		}
	}
	return n
}

// leet maps the digits and symbols written for letters.
var leet = map[byte]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// defaultPasswords are the words documentation and test suites use as a
// password, in the letters-only form commonPassword reads.
var defaultPasswords = map[string]bool{"pass": true, "passwd": true, "pwd": true, "test": true, "testing": true,
	"guest": true, "admin": true, "root": true, "user": true, "qwerty": true, "letmein": true, "default": true,
	"demo": true, "welcome": true, "hello": true, "apass": true, "mypass": true, "secret": true, "hunter": true,
	"pa": true, "abc": true, "abcd": true, "abcdef": true, "foo": true, "bar": true, "foobar": true, "baz": true}

// metasyntactic: the letters of v are foo, bar, baz and qux alone.
func metasyntactic(v string) bool {
	l := strings.ToLower(v)
	n := 0
	for _, w := range []string{"foo", "bar", "baz", "qux"} {
		n += strings.Count(l, w) * len(w)
	}
	letters := 0
	for i := 0; i < len(l); i++ {
		if l[i] >= 'a' && l[i] <= 'z' {
			letters++
		}
	}
	return n > 0 && n == letters && fewDigits(v)
}

// wordsOnly: two or more words of lower-case letters joined by '-', '_'
// or spaces, all of them but one of the words people name a stand-in
// with ("admin-token", "local-dev-token", "not a real token"), no digit
// among them. Words alone are also a passphrase ("correct-horse-battery-
// staple" is what Bitwarden's generator makes by default), so words from
// outside standInWords are one at most, and two words are both from it.
func wordsOnly(v string) bool {
	words, known := 0, 0
	for i := 0; i <= len(v); {
		j := i
		for j < len(v) && v[j] >= 'a' && v[j] <= 'z' {
			j++
		}
		if j == i || j-i > 12 {
			return false // an empty or long run of letters is no word
		}
		words++
		if standInWords[v[i:j]] {
			known++
		}
		if j == len(v) {
			break
		}
		if c := v[j]; c != '-' && c != '_' && c != ' ' {
			return false
		}
		i = j + 1
	}
	return words >= 2 && known >= max(2, words-1)
}

// standInWords are the words of a value typed in place of a credential:
// what it is, where it is used, and that it is not real.
var standInWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`token tokens key keys secret secrets password passwords pass passwd pwd
	passphrase api auth access refresh bearer session cookie jwt signing sign hmac master shared private public
	encryption client service app application user admin root guest operator deploy deployment ci build bot
	webhook dev devel development local localhost test tests testing staging stage prod production debug demo
	example sample dummy fake mock fixture default placeholder insert here replace change changeme me my your
	our some any this that the a an is it its not no real value valid invalid only just at all for of to in
	and or with super very top secure insecure dont do use new old bad good wrong right unused none empty blank
	foo bar baz qux hello world value values string text my`) {
		standInWords[w] = true
	}
}

// malformedToken: v starts with a token format's prefix but is not a
// token of it ("ghp_test123", "glpat-changeme"): a real one matches
// its format.
func malformedToken(v string) bool {
	for _, p := range secretPatterns() {
		switch p.kind {
		case "private key", "credentials in URL", "JSON Web Token", "OpenAI API key":
			continue
		}
		for _, pre := range strings.Split(p.prefix, "|") {
			if strings.HasPrefix(v, pre) && len(v) > len(pre) {
				if loc := p.re().FindStringIndex(v); loc == nil || loc[0] != 0 {
					return true
				}
			}
		}
	}
	return false
}

// encodedStandIn: v is base64 of text that is no credential: a sentence
// or JSON ("this is not a real value", a pagination cursor, a JWT's
// header), a stand-in, a user:password pair whose password is one, or a
// keyboard mash. A random credential encoded is random bytes, which are
// not all printable; a password encoded (a Kubernetes Secret's data)
// decodes to the password, which is judged as it is.
func encodedStandIn(v string) bool {
	d, ok := decodeText(v)
	if !ok {
		return false
	}
	if strings.Contains(d, "{") {
		return publicJSON(d) // a cursor, a JWT's header; not an account's key
	}
	if strings.Contains(d, " ") {
		return wordsOnly(strings.ToLower(strings.Trim(d, ".!"))) || placeholder(d)
	}
	if user, pw, ok := strings.Cut(d, ":"); ok {
		return standInPassword(user, pw)
	}
	return placeholder(d) || commonPassword(d) || metasyntactic(d) || mash(d)
}

// publicJSON: JSON text none of whose names or values speaks of a
// credential ({"page":3,"size":50}, {"alg":"HS256","typ":"JWT"}).
func publicJSON(d string) bool {
	l := strings.ToLower(d)
	for _, w := range []string{"pass", "pwd", "secret", "token", "key", "auth", "credential", "private", "account", "cert", "session", "cookie", "pw", "user", "login"} {
		if strings.Contains(l, w) {
			return false
		}
	}
	return true
}

// decodeText decodes v as base64 (padded or not, either alphabet) when
// what it encodes is printable ASCII of four bytes or more.
func decodeText(v string) (string, bool) {
	if len(v) < 8 {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isWordChar(c) || c == '+' || c == '/' || c == '-' || c == '=') {
			return "", false
		}
	}
	t := strings.TrimRight(v, "=")
	var b []byte
	var err error
	if strings.ContainsAny(t, "-_") {
		b, err = base64.RawURLEncoding.DecodeString(t)
	} else {
		b, err = base64.RawStdEncoding.DecodeString(t)
	}
	if err != nil || len(b) < 4 {
		return "", false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return string(b), true
}

// standInPassword: a password that is the user name again, a
// placeholder, a common or metasyntactic password, or the word "pass"
// with the user's prefix ("env_user:env_pass", "user:pass").
func standInPassword(user, pw string) bool {
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	if p, err := url.PathUnescape(pw); err == nil {
		pw = p
	}
	if pw == "" || strings.EqualFold(pw, user) {
		return true
	}
	if placeholder(pw) || commonPassword(pw) || metasyntactic(pw) {
		return true
	}
	l, u := strings.ToLower(pw), strings.ToLower(user)
	for _, s := range []string{"password", "passwd", "pass", "pwd"} {
		if p, ok := strings.CutSuffix(l, s); ok {
			for _, us := range []string{"username", "user", "usr", "name", "login"} {
				if q, ok := strings.CutSuffix(u, us); ok && q == p {
					return true
				}
			}
			return p == ""
		}
	}
	return false
}

// mash: lower-case letters alone, long, from a handful of keys
// ("laskdjflaksdjf…").
func mash(d string) bool {
	if len(d) < 12 {
		return false
	}
	var seen [26]bool
	n := 0
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < 'a' || c > 'z' {
			return false
		}
		if !seen[c-'a'] {
			seen[c-'a'] = true
			n++
		}
	}
	return n <= 8
}
