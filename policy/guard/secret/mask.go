package secret

import (
	"path"
	"strings"
)

// MaskCommandLine is the launch line mcpgov may show or record for argv:
// MaskArgs joined by spaces. Refusals, stderr lines and audit records
// quote it instead of the raw command line, which may carry a database
// password or an API token.
func MaskCommandLine(argv []string) string {
	return strings.Join(MaskArgs(argv), " ")
}

// MaskArgs returns a copy of argv with every secret value masked, keeping
// flag names, variable names and the user of a URL so a reader can still
// tell what was launched. It masks more than the plaintext-secret finding
// reports: a short or dictionary-word password after --password is not
// worth a finding, but it is still not for an IDE log. It masks:
//
//   - tokens of a known format anywhere, and URL passwords and sensitive
//     query values (postgresql://app:****@db/x);
//   - the value of a credential-named flag: --password X, --token=X,
//     --db-pass=X, --api-key X (but not --token-file PATH);
//   - mysql's attached password: -pSECRET;
//   - environment assignments: PGPASSWORD=X, -e API_KEY=X;
//   - header values: --header "Authorization: Bearer X", -H "X-Api-Key: X";
//   - the same inside one argument that is itself a command line
//     (sh -c "mysql -pSECRET db").
//
// References the client expands at launch (${VAR}, $VAR, %VAR%) are kept.
func MaskArgs(argv []string) []string {
	m := masker{mysql: mysqlLine(argv)}
	out := make([]string, len(argv))
	for i, a := range argv {
		prev := ""
		if i > 0 {
			prev = argv[i-1]
		}
		out[i] = m.arg(prev, a, true)
	}
	return out
}

// masker masks the arguments of one command line.
type masker struct {
	// mysql is set when the line runs a mysql client, whose -pSECRET is
	// a password whatever it looks like.
	mysql bool
}

// arg masks one argument a that follows prev. nested is true when a may
// itself be a command line to split into words.
func (m masker) arg(prev, a string, nested bool) string {
	if a == "" {
		return a
	}
	// The value of the flag, header name or auth scheme before it.
	if secretFollows(prev) && !m.mysqlPassword(prev) && !strings.HasPrefix(a, "-") {
		return maskWhole(a)
	}
	if isHeaderFlag(prev) {
		return maskHeader(a)
	}
	if m.mysqlPassword(a) {
		return "-p" + maskWhole(a[2:])
	}
	// A command line in one argument (sh -c "…"); a flag's value may have
	// spaces of its own (--password="correct horse").
	if nested && strings.ContainsAny(a, " \t\n") && !strings.HasPrefix(a, "-") {
		return m.words(a)
	}
	// --name=value, NAME=value.
	if name, val, ok := strings.Cut(a, "="); ok && (strings.HasPrefix(name, "-") || envName().MatchString(name)) {
		bare := strings.TrimLeft(name, "-")
		switch {
		case isHeaderFlag(name):
			return name + "=" + maskHeader(val)
		case sensitiveArgName(bare):
			return name + "=" + maskWhole(val) // all of it: a passphrase may have spaces
		case strings.ContainsAny(val, " \t"):
			return name + "=" + m.words(val)
		}
		return name + "=" + maskText(bare, val)
	}
	return maskText("", a)
}

// mysqlPassword reports whether a is mysql's attached password, -pSECRET.
// Elsewhere -p is a port (-p8080, -p 3000:3000), a package or a Go-style
// flag (-port, -profile, -port=8080): outside a mysql client's line only
// a value that is not a lower-case word, and not name=value, counts.
func (m masker) mysqlPassword(a string) bool {
	if len(a) <= 2 || a[0] != '-' || a[1] != 'p' || isPortSpec(a[2:]) {
		return false
	}
	if m.mysql {
		return true
	}
	if strings.Contains(a, "=") {
		return false // a Go-style -name=value flag (-port=8080)
	}
	for i := 2; i < len(a); i++ {
		if c := a[i]; (c < 'a' || c > 'z') && c != '-' {
			return true
		}
	}
	return false
}

// mysqlClients take their password as -pSECRET.
var mysqlClients = map[string]bool{
	"mysql": true, "mysqldump": true, "mysqladmin": true, "mysqlsh": true, "mysqlimport": true, "mysqlcheck": true,
	"mysqlshow": true, "mysqlslap": true, "mariadb": true, "mariadb-dump": true, "mariadb-admin": true, "mycli": true,
}

// mysqlLine reports whether any word of argv (or of a command line inside
// one argument) runs a mysql client.
func mysqlLine(argv []string) bool {
	for _, a := range argv {
		for _, w := range strings.Fields(a) {
			if mysqlClients[base(strings.Trim(w, `"'`))] {
				return true
			}
		}
	}
	return false
}

// words masks the words of an argument that is a command line of its
// own, keeping the spacing between them.
func (m masker) words(s string) string {
	var b strings.Builder
	prev := ""
	for i := 0; i < len(s); {
		if isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		w := s[i:j]
		// Quotes around a word do not change what it is.
		q := ""
		if len(w) >= 2 && (w[0] == '"' || w[0] == '\'') && w[len(w)-1] == w[0] {
			q, w = w[:1], w[1:len(w)-1]
		}
		b.WriteString(q + m.arg(prev, w, false) + q)
		prev = w
		i = j
	}
	return b.String()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// maskHeader masks the value of an HTTP header given as "Name: value".
func maskHeader(h string) string {
	name, val, ok := strings.Cut(h, ":")
	if !ok {
		return maskText("", h)
	}
	v := strings.TrimSpace(val)
	lead := val[:len(val)-len(strings.TrimLeft(val, " \t"))]
	if scheme, rest, ok := strings.Cut(v, " "); ok && authScheme(scheme) {
		return name + ":" + lead + scheme + " " + maskWhole(strings.TrimSpace(rest))
	}
	if sensitiveArgName(strings.TrimSpace(name)) {
		return name + ":" + lead + maskWhole(v)
	}
	return name + ":" + maskText(strings.TrimSpace(name), val)
}

// maskWhole hides a value known to be a credential by its name: all of it,
// keeping the public prefix of a known format, unless it is a reference
// expanded at launch or a path.
func maskWhole(v string) string {
	if v == "" || onlyReference(v) || isPathLike(v) {
		return v
	}
	return Mask(v)
}

// maskText masks what a value shows of itself: tokens of a known format,
// URL passwords and query secrets, an opaque user name standing in for a
// token (https://TOKEN@host).
func maskText(name, v string) string {
	m := MaskValue(name, v)
	if strings.Contains(m, "://") {
		m = MaskURLUser(m)
	}
	return m
}

// MaskURLUser masks a URL's user when it has no password and looks like a
// token (https://3f9c2b7a1e5d4c8b@git.example.com).
func MaskURLUser(s string) string {
	i := strings.Index(s, "://")
	if i <= 0 {
		return s
	}
	auth := i + 3
	rest := s[auth:]
	if e := strings.IndexAny(rest, "/?#"); e >= 0 {
		rest = rest[:e]
	}
	at := strings.LastIndexByte(rest, '@')
	if at <= 0 || strings.IndexByte(rest[:at], ':') >= 0 {
		return s
	}
	user := rest[:at]
	if onlyReference(user) || !looksOpaque(user) {
		return s
	}
	return s[:auth] + "****" + s[auth+at:]
}

// secretFollows reports whether the argument after prev is a credential:
// prev is a credential-named flag (--password, --token), a header name
// ("X-Api-Key:") or an auth scheme ("Bearer").
func secretFollows(prev string) bool {
	switch {
	case prev == "":
		return false
	case authScheme(prev):
		return true
	case strings.HasSuffix(prev, ":") && !strings.Contains(prev, "//"):
		return sensitiveArgName(strings.TrimSuffix(prev, ":"))
	case strings.HasPrefix(prev, "-") && !strings.Contains(prev, "="):
		return sensitiveArgName(strings.TrimLeft(prev, "-"))
	}
	return false
}

func authScheme(w string) bool {
	switch strings.ToLower(w) {
	case "bearer", "basic", "token":
		return true
	}
	return false
}

func isHeaderFlag(a string) bool {
	switch a {
	case "-H", "--header", "--headers":
		return true
	}
	return false
}

// isPortSpec reports whether v is a port or a port mapping (8080,
// 3000:3000, 127.0.0.1:8080:80).
func isPortSpec(v string) bool {
	for i := 0; i < len(v); i++ {
		if (v[i] < '0' || v[i] > '9') && v[i] != ':' && v[i] != '.' && v[i] != '/' {
			return false
		}
	}
	return true
}

// onlyReference reports whether v is nothing but a reference the client
// expands at launch (${VAR}, ${env:VAR}, ${input:id}, ${{ secrets.X }},
// {env:VAR}, $VAR, %VAR%). Unlike isPlaceholder it does not accept a
// literal around one: "s3cret${X}" is masked.
func onlyReference(v string) bool {
	return referenceOnly().MatchString(v)
}

var referenceOnly = lazyRegexp(`^(?:\$\{\{[^}]*\}\}|\$\{[^}]*\}|\{env:[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%)$`)

func isPathLike(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "./") ||
		strings.HasPrefix(v, "../") || len(v) > 2 && v[1] == ':' && (v[2] == '\\' || v[2] == '/')
}

// sensitiveArgName reports whether a flag, variable or header name (without
// dashes) carries a credential: the scan's sensitive names plus the
// short forms flags use (--db-pass, --pw, --pwd), minus names of where a
// credential is, not what it is (--token-file, --auth-mode, --api-key-env).
func sensitiveArgName(name string) bool {
	if name == "" {
		return false
	}
	l := strings.ToLower(name)
	words := strings.FieldsFunc(l, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(words) == 0 {
		return false
	}
	if notSecretSuffix[words[len(words)-1]] || words[0] == "no" {
		return false
	}
	for _, w := range words {
		switch w {
		case "pass", "pw", "pwd", "passwd", "password", "passphrase", "pin":
			return true
		}
	}
	return sensitiveName().MatchString(name)
}

// notSecretSuffix ends flag names whose value says where or how a
// credential is found, not the credential.
var notSecretSuffix = map[string]bool{
	"file": true, "path": true, "dir": true, "env": true, "var": true, "name": true, "type": true,
	"mode": true, "id": true, "url": true, "uri": true, "header": true, "format": true, "method": true,
	"provider": true, "timeout": true, "ttl": true, "expiry": true, "length": true, "store": true, "helper": true,
	"command": true, "cmd": true, "endpoint": true, "server": true, "issuer": true, "scope": true, "scopes": true,
}

// envName matches an environment variable's name (NAME=value).
var envName = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)

// base is a command's lower-case name without directory or Windows extension.
func base(cmd string) string {
	cmd = strings.ReplaceAll(cmd, `\`, "/")
	b := strings.ToLower(path.Base(cmd))
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// Args finds the arguments of a command line that hold secrets, by index:
// known token formats anywhere, `--token=VALUE` and `--token VALUE` pairs, docker `-e NAME=VALUE`, and
// `--header "Authorization: Bearer VALUE"` (mcp-remote, supergateway).
func Args(args []string) map[int]Match {
	var out map[int]Match
	hit := func(i int, m Match) {
		if out == nil {
			out = map[int]Match{}
		}
		out[i] = m
	}
	for i, a := range args {
		if _, val, ok := strings.Cut(a, "="); ok && secretRef().MatchString(val) {
			continue // NAME=REF names a secret held elsewhere (shim --secret-env)
		}
		if m, ok := Detect("", a); ok {
			hit(i, m)
			continue
		}
		if name, val, ok := strings.Cut(a, "="); ok {
			if m, ok := Detect(strings.TrimLeft(name, "-"), val); ok {
				hit(i, m)
				continue
			}
		}
		if i > 0 {
			prev := args[i-1]
			switch {
			case prev == "--header" || prev == "-H":
				if name, val, ok := strings.Cut(a, ":"); ok {
					if m, ok := Detect(strings.TrimSpace(name), strings.TrimSpace(val)); ok {
						hit(i, m)
					}
				}
			case strings.HasPrefix(prev, "-") && !strings.Contains(prev, "="):
				if m, ok := Detect(strings.TrimLeft(prev, "-"), a); ok {
					hit(i, m)
				}
			}
		}
	}
	return out
}

// MaskArg hides the value of an argument Args flagged, whole, keeping a
// --flag= or NAME= prefix, a header's name or a URL's user.
func MaskArg(a string) string {
	if name, val, ok := strings.Cut(a, "="); ok && (strings.HasPrefix(name, "-") || envName().MatchString(name)) {
		return name + "=" + Mask(val)
	}
	if name, val, ok := strings.Cut(a, ":"); ok && !strings.Contains(name, " ") && strings.HasPrefix(strings.TrimSpace(val), "Bearer") {
		return name + ": Bearer ****"
	}
	if u := MaskURL(a); u != a {
		return u
	}
	return Mask(a)
}
