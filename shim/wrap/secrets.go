package wrap

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/shim/creds"
)

// The shim flags a moved secret is passed by reference with; the shim
// resolves REF and puts the value back where the config had it.
const (
	// SecretEnvFlag: --secret-env NAME=REF sets NAME in the server's
	// environment at launch.
	SecretEnvFlag = "--secret-env"
	// SecretArgFlag: --secret-arg N=REF appends the value to the
	// server's argument N (0 is the first after the command).
	SecretArgFlag = "--secret-arg"
	// SecretHeaderFlag: --secret-header NAME=REF sends the value as the
	// HTTP header NAME (--url).
	SecretHeaderFlag = "--secret-header"
	// SecretQueryFlag: --secret-query NAME=REF fills the empty value of
	// the URL's query parameter NAME.
	SecretQueryFlag = "--secret-query"
	// SecretUserinfoFlag: --secret-userinfo REF puts the URL's user and
	// password (user:password, as written) back.
	SecretUserinfoFlag = "--secret-userinfo"
	// SecretOriginFlag: --secret-origin ORIGIN is the origin
	// (scheme://host:port) of the URL the secrets of --secret-header,
	// --secret-query and --secret-userinfo were taken with; the shim sends
	// them to no other.
	SecretOriginFlag = "--secret-origin"
	// SecretBearerFlag: --secret-bearer REF sends the value as
	// "Authorization: Bearer VALUE" (Codex's bearer_token_env_var, REF
	// env:NAME).
	SecretBearerFlag = "--secret-bearer"
)

// secretMark stands for a moved value in a span's Original (Span.Refs).
const secretMark = "\x00"

// argSecret splits an argument secret.Args flagged into the part that
// stays in the config and the secret that leaves it: the value of
// --flag=VALUE or NAME=VALUE, the value of a header "Name: value" after
// --header/-H, else the whole argument.
func argSecret(args []string, i int) (keep, value string) {
	a := args[i]
	if name, val, ok := strings.Cut(a, "="); ok && (strings.HasPrefix(name, "-") || envNameRE.MatchString(name)) {
		return name + "=", val
	}
	if i > 0 && (args[i-1] == "--header" || args[i-1] == "-H") {
		if name, val, ok := strings.Cut(a, ":"); ok {
			trimmed := strings.TrimLeft(val, " \t")
			return name + ":" + val[:len(val)-len(trimmed)], trimmed
		}
	}
	return "", a
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// argMove is one secret moved out of an argument: where its bytes are in
// the file (the literal's text holds it verbatim, just before the closing
// quote, or the argument is not moved), and its reference.
type argMove struct {
	index      int
	start, end int
	ref        string
	value      string
}

// moveArgSecrets takes the secrets secret.Args finds in args out to the
// vault. raw gives argument i's literal and its offset in the file; an
// argument whose secret is not written verbatim at the literal's end (an
// escape inside it) is not moved, and is named in skipped.
func moveArgSecrets(it *item, o Options, args []string, raw func(i int) (string, int)) (moves []argMove, skipped []string, err error) {
	if o.MoveSecret == nil {
		return nil, nil, nil
	}
	found := secret.Args(args)
	for i := range args {
		if _, ok := found[i]; !ok {
			continue
		}
		_, value := argSecret(args, i)
		lit, at := raw(i)
		body := len(lit) // a plain (YAML) scalar: its end
		if lit != "" && (lit[0] == '"' || lit[0] == '\'') {
			body-- // before the closing quote
		}
		if value == "" || body < 1 || strings.ContainsAny(value, "\\\"'") || !strings.HasSuffix(lit[:body], value) {
			skipped = append(skipped, fmt.Sprintf("args[%d]", i))
			continue
		}
		ref, err := o.MoveSecret(it.srv, fmt.Sprintf("arg%d", i), value, !o.DryRun)
		if err != nil {
			return nil, nil, fmt.Errorf("args[%d]: %w", i, err)
		}
		end := at + body
		moves = append(moves, argMove{index: i, start: end - len(value), end: end, ref: ref, value: value})
	}
	return moves, skipped, nil
}

// cutMoves returns b[start:end] with each moved value replaced by with
// (one call per value: "" to clear, secretMark for the manifest, or a mask).
func cutMoves(b []byte, start, end int, ms []argMove, with func(argMove) string) string {
	var sb strings.Builder
	at := start
	for _, m := range ms {
		if m.start < at || m.end > end {
			continue
		}
		sb.Write(b[at:m.start])
		sb.WriteString(with(m))
		at = m.end
	}
	sb.Write(b[at:end])
	return sb.String()
}

// clearedArgs is args with each moved value cut out: what the manifest
// records as the original command line (it holds no secret).
func clearedArgs(args []string, ms []argMove) []string {
	if len(ms) == 0 {
		return args
	}
	out := append([]string(nil), args...)
	for _, m := range ms {
		out[m.index] = strings.TrimSuffix(out[m.index], m.value)
	}
	return out
}

// shiftMoves re-bases moves found in the file onto the text of a span
// that starts at base, after an insertion of grow bytes at offset at.
func shiftMoves(ms []argMove, at, grow, base int) []argMove {
	out := make([]argMove, len(ms))
	for i, m := range ms {
		d := -base
		if m.start >= at {
			d += grow
		}
		m.start, m.end = m.start+d, m.end+d
		out[i] = m
	}
	return out
}

// maskMoves are the patches that show each moved value masked.
func maskMoves(ms []argMove) []patch {
	out := make([]patch, len(ms))
	for i, m := range ms {
		out[i] = patch{m.start, m.end, secret.Mask(m.value)}
	}
	return out
}

// movedReason adds the moved arguments to a result's reason.
func movedReason(reason string, ms []argMove) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = fmt.Sprintf("args[%d]", m.index)
	}
	return strings.TrimPrefix(reason+"; moved "+strings.Join(names, ", ")+" to the vault", "; ")
}

// Why --move-secrets left a secret in the config.
const whyEscapes = "escapes in the secret, or a layout wrap does not edit; move it by hand"

// notMovedReason says which secrets --move-secrets had to leave, and why.
func notMovedReason(e edit, names []string, why string) edit {
	if len(names) > 0 {
		e.reason = strings.TrimPrefix(e.reason+"; "+strings.Join(names, ", ")+" not moved ("+why+")", "; ")
	}
	return e
}

// restoreArgs reads back, for an unwrap from the command line, the
// arguments the shim flags before "--" (at k) say hold moved secrets:
// their index in args and full value.
func restoreArgs(it *item, args []string, k int) (map[int]string, error) {
	var out map[int]string
	for i := 0; i+1 < k; i++ {
		if args[i] != SecretArgFlag {
			continue
		}
		n, ref, _ := strings.Cut(args[i+1], "=")
		idx, err := strconv.Atoi(n)
		if err != nil || idx < 0 || k+1+idx >= len(args) {
			return nil, fmt.Errorf("%s %s names no argument", SecretArgFlag, args[i+1])
		}
		if it.restore == nil {
			return nil, fmt.Errorf("args[%d] was moved to the vault (%s) and no vault is open", idx, ref)
		}
		v, err := it.restore(ref)
		if err != nil {
			return nil, fmt.Errorf("args[%d]: %w", idx, err)
		}
		if out == nil {
			out = map[int]string{}
		}
		out[k+1+idx] = args[k+1+idx] + v
	}
	return out, nil
}

// argFlags are the --secret-arg flags of moves.
func argFlags(ms []argMove) []string {
	var out []string
	for _, m := range ms {
		out = append(out, SecretArgFlag, fmt.Sprintf("%d=%s", m.index, m.ref))
	}
	return out
}

// argRefs are the references of moves, in file order.
func argRefs(ms []argMove) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ref
	}
	return out
}

// moved is one literal secret taken out of an entry's env.
type moved struct {
	name, ref string
	clear     patch // the value replaced by "" in the config
	mask      patch // the value masked, for backups and diffs
	span      Span
}

// moveSecrets takes the literal secrets of obj's env into the vault
// (Options.MoveSecret) and returns the edits that remove them from the
// config. Placeholders (${VAR}, ${input:id}) are not secrets and stay.
func (d *jdoc) moveSecrets(it *item, o Options, obj *hujson.Object) ([]moved, error) {
	if o.MoveSecret == nil {
		return nil, nil
	}
	env := envMember(obj)
	if env == nil {
		return nil, nil
	}
	eo, ok := env.Value.Value.(*hujson.Object)
	if !ok {
		return nil, nil
	}
	var out []moved
	for i := range eo.Members {
		m := &eo.Members[i]
		name, ok := memberKey(m)
		if !ok || member(eo, name) != m { // a shadowed duplicate is not what runs
			continue
		}
		v, ok := stringLit(&m.Value)
		if !ok {
			continue
		}
		if _, ok := secret.Detect(name, v); !ok {
			continue
		}
		ref, err := o.MoveSecret(it.srv, name, v, !o.DryRun)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", name, err)
		}
		s, e := d.start(&m.Value), d.end(&m.Value)
		out = append(out, moved{name: name, ref: ref,
			clear: patch{s, e, `""`}, mask: patch{s, e, quote(secret.Mask(v))},
			span: Span{Field: "env." + name, Wrapped: `""`, Secret: ref}})
	}
	return out, nil
}

// moveHeaders takes the secret headers of a remote JSON entry into the
// vault (their values become "" in place, as env values do); the others
// are passed on as they are. It returns the shim's flags for both:
// --secret-header NAME=REF and --header "NAME: value".
func (d *jdoc) moveHeaders(it *item, o Options, obj *hujson.Object) (flags []string, ms []moved, err error) {
	h := member(obj, "headers")
	if h == nil {
		return nil, nil, nil
	}
	ho, ok := h.Value.Value.(*hujson.Object)
	if !ok {
		return nil, nil, fmt.Errorf("headers is not an object")
	}
	for i := range ho.Members {
		m := &ho.Members[i]
		name, ok := memberKey(m)
		v, okv := stringLit(&m.Value)
		if !ok || !okv {
			return nil, nil, fmt.Errorf("header %s is not a string", name)
		}
		if member(ho, name) != m {
			return nil, nil, fmt.Errorf("header %s is written twice", name)
		}
		if !secretHeader(name, v) {
			flags = append(flags, "--header", name+": "+v)
			continue
		}
		ref, err := o.MoveSecret(it.srv, "header-"+name, v, !o.DryRun)
		if err != nil {
			return nil, nil, fmt.Errorf("header %s: %w", name, err)
		}
		s, e := d.start(&m.Value), d.end(&m.Value)
		ms = append(ms, moved{name: name, ref: ref,
			clear: patch{s, e, `""`}, mask: patch{s, e, quote(secret.Mask(v))},
			span: Span{Field: "headers." + name, Wrapped: `""`, Secret: ref}})
		flags = append(flags, SecretHeaderFlag, name+"="+ref)
	}
	return flags, ms, nil
}

// withOrigin appends --secret-origin with url's origin to flags when they
// move a secret of a remote entry (--secret-header, --secret-query,
// --secret-userinfo), so the shim refuses to send it elsewhere should
// --url be edited later. url is the URL --url gets.
func withOrigin(flags []string, url string) ([]string, error) {
	for _, f := range flags {
		if f == SecretHeaderFlag || f == SecretQueryFlag || f == SecretUserinfoFlag || f == SecretBearerFlag {
			origin, err := creds.Origin(url)
			if err != nil {
				return nil, fmt.Errorf("the URL's origin: %w", err)
			}
			return append(flags, SecretOriginFlag, origin), nil
		}
	}
	return flags, nil
}

// urlSecret is a secret part of a URL: its offsets in the URL text.
type urlSecret struct {
	start, end int
	flag, arg  string // the shim flag and its argument, REF added
	name       string // the vault name
}

// urlSecrets finds the secret parts of u, as written: a user:password
// before the host, and query values secret.Detect flags by their name.
func urlSecrets(u string) []urlSecret {
	var out []urlSecret
	rest := 0
	if i := strings.Index(u, "://"); i >= 0 {
		rest = i + 3
		end := len(u)
		if j := strings.IndexAny(u[rest:], "/?#"); j >= 0 {
			end = rest + j
		}
		if at := strings.LastIndexByte(u[rest:end], '@'); at >= 0 && strings.Contains(u[rest:rest+at], ":") {
			out = append(out, urlSecret{start: rest, end: rest + at + 1, flag: SecretUserinfoFlag, name: "userinfo"})
		}
	}
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return out
	}
	end := len(u)
	if h := strings.IndexByte(u[q:], '#'); h >= 0 {
		end = q + h
	}
	at := q + 1
	for _, pair := range strings.Split(u[q+1:end], "&") {
		if k, v, ok := strings.Cut(pair, "="); ok && v != "" {
			if _, secretValue := secret.Detect(k, v); secretValue {
				s := at + len(k) + 1
				out = append(out, urlSecret{start: s, end: s + len(v), flag: SecretQueryFlag, arg: k + "=", name: "query-" + k})
			}
		}
		at += len(pair) + 1
	}
	return out
}

// envMember is the entry's environment: its env member, or opencode's
// environment.
func envMember(obj *hujson.Object) *hujson.ObjectMember {
	if m := member(obj, "env"); m != nil {
		return m
	}
	return member(obj, "environment")
}

// urlCut is what --move-secrets took out of a URL written verbatim in a
// config: the URL --url gets, the URL with a mark per moved value (for the
// manifest), the shim flags that put the values back, and per value its
// reference, its mask patch in the file and its name for the result.
type urlCut struct {
	cleared, marked string
	flags, refs     []string
	redact          []patch
	names           []string
}

// cutURLSecrets moves the secret parts of url (urlSecrets) into the vault.
// base is the file offset of url's first byte, for the mask patches.
func cutURLSecrets(it *item, o Options, url string, base int) (urlCut, error) {
	var (
		c               urlCut
		cleared, marked strings.Builder
		at              int
	)
	for _, sec := range urlSecrets(url) {
		value := url[sec.start:sec.end]
		if sec.flag == SecretUserinfoFlag {
			value = strings.TrimSuffix(value, "@")
		}
		ref, err := o.MoveSecret(it.srv, sec.name, value, !o.DryRun)
		if err != nil {
			return urlCut{}, fmt.Errorf("url: %w", err)
		}
		cleared.WriteString(url[at:sec.start])
		marked.WriteString(url[at:sec.start] + secretMark + url[sec.start+len(value):sec.end])
		at = sec.end
		c.flags = append(c.flags, sec.flag, sec.arg+ref)
		c.refs = append(c.refs, ref)
		c.redact = append(c.redact, patch{base + sec.start, base + sec.start + len(value), secret.Mask(value)})
		c.names = append(c.names, strings.TrimPrefix(sec.name, "query-"))
	}
	cleared.WriteString(url[at:])
	marked.WriteString(url[at:])
	c.cleared, c.marked = cleared.String(), marked.String()
	return c, nil
}

// reason is the result's note on what left the URL ("" for nothing).
func (c urlCut) reason() string {
	if len(c.names) == 0 {
		return ""
	}
	return "; moved the URL's " + strings.Join(c.names, ", ") + " to the vault"
}

// withSecretFlags puts a --secret-env flag per moved secret before the
// prefix's "--".
func withSecretFlags(prefix []string, ms []moved) []string {
	if len(ms) == 0 {
		return prefix
	}
	out := append([]string(nil), prefix[:len(prefix)-1]...)
	for _, m := range ms {
		out = append(out, SecretEnvFlag, m.name+"="+m.ref)
	}
	return append(out, prefix[len(prefix)-1])
}

// addMoves adds the moved secrets' edits to e.
func addMoves(e edit, ms []moved) edit {
	for _, m := range ms {
		e.patches = append(e.patches, m.clear)
		e.spans = append(e.spans, m.span)
		e.redact = append(e.redact, m.mask)
	}
	if len(ms) > 0 {
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.name
		}
		e.reason = strings.TrimPrefix(e.reason+"; moved "+strings.Join(names, ", ")+" to the vault", "; ")
	}
	return e
}

// envSpan is where env.NAME's (or headers.NAME's) value is in obj.
func (d *jdoc) envSpan(obj *hujson.Object, field string) (int, int, bool) {
	in, name, ok := strings.Cut(field, ".")
	if !ok || (in != "env" && in != "headers") {
		return 0, 0, false
	}
	env := member(obj, in)
	if in == "env" {
		env = envMember(obj)
	}
	if env == nil {
		return 0, 0, false
	}
	eo, ok := env.Value.Value.(*hujson.Object)
	if !ok {
		return 0, 0, false
	}
	m := member(eo, name)
	if m == nil {
		return 0, 0, false
	}
	return d.start(&m.Value), d.end(&m.Value), true
}

// restoreSecrets fills in the Original of rec's moved secrets from the
// vault (Options.RestoreSecret), so unwrap puts each value back.
func restoreSecrets(rec *Record, o Options) (*Record, error) {
	if rec == nil {
		return nil, nil
	}
	var out *Record
	for i, sp := range rec.Spans {
		if len(sp.Refs) > 0 {
			orig, err := fillMarks(sp, o)
			if err != nil {
				return nil, err
			}
			if out == nil {
				cp := *rec
				cp.Spans = append([]Span(nil), rec.Spans...)
				out = &cp
			}
			out.Spans[i].Original = orig
			continue
		}
		if sp.Secret == "" {
			continue
		}
		if o.RestoreSecret == nil {
			return nil, fmt.Errorf("%s was moved to the vault (%s) and no vault is open", sp.Field, sp.Secret)
		}
		v, err := o.RestoreSecret(sp.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp.Field, err)
		}
		if out == nil {
			cp := *rec
			cp.Spans = append([]Span(nil), rec.Spans...)
			out = &cp
		}
		out.Spans[i].Original = quote(v)
	}
	if out == nil {
		return rec, nil
	}
	return out, nil
}

// fillMarks is sp.Original with each moved value read back from the
// vault in place of its mark.
func fillMarks(sp Span, o Options) (string, error) {
	parts := strings.Split(sp.Original, secretMark)
	if len(parts) != len(sp.Refs)+1 {
		return "", fmt.Errorf("%s: the manifest's record of its moved secrets is damaged", sp.Field)
	}
	var sb strings.Builder
	sb.WriteString(parts[0])
	for i, ref := range sp.Refs {
		if o.RestoreSecret == nil {
			return "", fmt.Errorf("%s was moved to the vault (%s) and no vault is open", sp.Field, ref)
		}
		v, err := o.RestoreSecret(ref)
		if err != nil {
			return "", fmt.Errorf("%s: %w", sp.Field, err)
		}
		sb.WriteString(v)
		sb.WriteString(parts[i+1])
	}
	return sb.String(), nil
}

// restoreMoved puts back the moved secrets of a record whose command line
// was restored some other way (the client rewrote the file since wrap):
// each env value still "" gets its value from the vault. done are the
// patches already made; a value they restore is not patched twice.
func (d *jdoc) restoreMoved(it *item, lookup func(string) *Record, done []patch) []patch {
	rec := lookup(it.res.Pointer)
	if rec == nil {
		return nil
	}
	obj, _ := d.locate(it, false)
	if obj == nil {
		return nil
	}
	var out []patch
	for _, sp := range rec.Spans {
		if sp.Secret == "" {
			continue
		}
		s, e, ok := d.envSpan(obj, sp.Field)
		if !ok || string(d.b[s:e]) != sp.Wrapped || slices.ContainsFunc(done, func(p patch) bool { return p.start == s }) {
			continue
		}
		out = append(out, patch{s, e, sp.Original})
	}
	return out
}

// secretHeader reports whether a header's value is moved to the vault
// rather than passed as --header (argv, which every local user reads in
// /proc/PID/cmdline): a value secret.Detect flags, or any non-empty value
// of a header named like a credential, however its value looks (a short
// cookie or API key escapes Detect).
func secretHeader(name, value string) bool {
	if _, ok := secret.Detect(name, value); ok {
		return true
	}
	return value != "" && credentialHeader(name)
}

// credentialHeaderWords are the name parts of a credential header.
var credentialHeaderWords = []string{"auth", "token", "key", "secret", "session", "password", "passwd", "cookie", "credential", "signature"}

// credentialHeader reports whether a header name is a credential's:
// Authorization, Proxy-Authorization, Cookie, or any name containing one
// of credentialHeaderWords (X-Api-Key, X-Auth-Token, X-Session-Id).
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range credentialHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
