package wrap

import (
	"slices"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/mcpgov/mcpgov/scan"
)

// gatewayFor is the gateway endpoint s is pointed at ("" when it is
// wrapped through the local shim as usual).
func (o Options) gatewayFor(s scan.Server) string {
	if o.Gateway == nil {
		return ""
	}
	return o.Gateway(s)
}

// Reasons reported for entries of a --gateway wrap that the gateway does
// not take.
const (
	reasonGatewayNoCatalog = "not in the catalog, so not served by the gateway; wrapped through the local shim"
)

// gatewayReason says why a wrapped entry of a --gateway wrap went through
// the local shim instead.
func gatewayReason(it *item, o Options, e edit) edit {
	if o.Gateway == nil || e.action != ActionWrapped || e.reason != "" {
		return e
	}
	if o.gatewayFor(it.srv) == "" {
		e.reason = reasonGatewayNoCatalog
	}
	return e
}

// gatewaySecretsLeft says, for --move-secrets with --gateway, which
// plain-text secrets an entry pointed at the gateway keeps: the gateway
// runs the catalog's own launch, with the credentials of the catalog's
// auth block, so nothing reads them any more, and nothing injects them.
func gatewaySecretsLeft(it *item, o Options, e edit) edit {
	if o.MoveSecret == nil || e.action != ActionWrapped || o.gatewayFor(it.srv) == "" {
		return e
	}
	var fields []string
	for _, f := range it.srv.Findings {
		if f.Rule == scan.RulePlaintextSecret && f.Field != "" && !slices.Contains(fields, f.Field) {
			fields = append(fields, f.Field)
		}
	}
	if len(fields) > 0 {
		e.reason += "; " + strings.Join(fields, ", ") + " left in the config: the gateway runs the catalog's launch with the catalog's credentials, so nothing reads it now; remove it by hand"
	}
	return e
}

// gatewayArgs are the shim's arguments for an entry pointed at the
// gateway endpoint url: shim [flags] --url URL.
func gatewayArgs(s scan.Server, o Options, url string) []string {
	return append(append([]string{"shim"}, shimFlags(s, o)...), "--url", url)
}

// wrapGateway points a stdio entry at the gateway: its command becomes
// `mcpgov shim [flags] --url URL` (the shim relays to the gateway with
// the login's token), in place, so that the manifest's spans restore it
// byte for byte. Every other member (env, cwd, disabled, …) is kept.
func (d *jdoc) wrapGateway(it *item, o Options, obj *hujson.Object, url string) edit {
	cmd := member(obj, "command")
	if cmd == nil {
		return skip(ActionSkippedUnsupported, "entry has no command")
	}
	lits := quoteAll(gatewayArgs(it.srv, o, url))
	reason := "now runs mcpgov shim --url " + url
	if it.srv.Client == scan.ClientOpencode {
		argv, _, ok := stringsOf(&cmd.Value)
		if !ok || len(argv) == 0 {
			return skip(ActionSkippedUnsupported, "command is not a non-empty array of strings")
		}
		arr := "[" + strings.Join(append([]string{quote(o.MCPGovPath)}, lits...), d.inlineSep(cmd)) + "]"
		return edit{action: ActionWrapped, reason: reason, command: argv[0], args: argv[1:],
			patches: []patch{{d.start(&cmd.Value), d.end(&cmd.Value), arr}},
			spans:   []Span{{Field: "command", Original: d.raw(&cmd.Value), Wrapped: arr}}}
	}
	command, ok := stringLit(&cmd.Value)
	if !ok {
		return skip(ActionSkippedUnsupported, "command is not a string")
	}
	newCmd := quote(o.MCPGovPath)
	arr := "[" + strings.Join(lits, d.inlineSep(cmd)) + "]"
	e := edit{action: ActionWrapped, reason: reason, command: command, args: []string{}}
	if argsMem := member(obj, "args"); argsMem != nil {
		args, _, ok := stringsOf(&argsMem.Value)
		if !ok {
			return skip(ActionSkippedUnsupported, "args is not an array of strings")
		}
		e.args = args
		e.patches = []patch{{d.start(&cmd.Value), d.end(&cmd.Value), newCmd}, {d.start(&argsMem.Value), d.end(&argsMem.Value), arr}}
		e.spans = []Span{
			{Field: "command", Original: d.raw(&cmd.Value), Wrapped: newCmd},
			{Field: "args", Original: d.raw(&argsMem.Value), Wrapped: arr},
		}
		return e
	}
	ins := d.argsAfter(cmd, lits)
	e.patches = []patch{{d.start(&cmd.Value), d.end(&cmd.Value), newCmd + ins}}
	e.spans = []Span{{Field: "command+args", Original: d.raw(&cmd.Value), Wrapped: newCmd + ins}}
	return e
}

// restoreRecord puts back the command line the manifest recorded for an
// entry that changed since it was wrapped (a client rewrote its file), when
// the entry's own command line has none to take back (a --gateway wrap
// runs `mcpgov shim --url`): the values are written anew, so their
// escapes are JSON's, not necessarily the original bytes.
func (d *jdoc) restoreRecord(cmd, argsMem *hujson.ObjectMember, rec *Record) edit {
	lits := quoteAll(rec.Args)
	return edit{action: ActionUnwrapped, reason: "entry changed since wrap; restored from the manifest's command line",
		patches: []patch{
			{d.start(&cmd.Value), d.end(&cmd.Value), quote(rec.Command)},
			{d.start(&argsMem.Value), d.end(&argsMem.Value), "[" + strings.Join(lits, d.inlineSep(argsMem)) + "]"},
		}}
}

// wrapGatewayHTTP makes a Claude Code stdio entry a Streamable HTTP entry
// for the gateway, with the login's token from o.HeadersHelper (Claude
// Code runs it for the headers of each connection): its command member
// becomes url, its args member headersHelper and its type "http", each in
// place, so the manifest's spans restore it byte for byte. ok is false
// for an entry it does not take (no type, args or string values): the
// shim carries the token for it instead.
func (d *jdoc) wrapGatewayHTTP(it *item, o Options, obj *hujson.Object, url string) (edit, bool) {
	cmd, argsMem, typ := member(obj, "command"), member(obj, "args"), member(obj, "type")
	if o.HeadersHelper == "" || it.srv.Client != scan.ClientClaudeCode || cmd == nil || argsMem == nil || typ == nil ||
		member(obj, "url") != nil || member(obj, "headersHelper") != nil {
		return edit{}, false
	}
	command, ok := stringLit(&cmd.Value)
	args, _, okArgs := stringsOf(&argsMem.Value)
	if !ok || !okArgs {
		return edit{}, false
	}
	colon := func(m *hujson.ObjectMember) string { return string(d.b[d.end(&m.Name):d.start(&m.Value)]) }
	urlText := `"url"` + colon(cmd) + quote(url)
	helperText := `"headersHelper"` + colon(argsMem) + quote(o.HeadersHelper)
	httpType := quote("http")
	whole := func(m *hujson.ObjectMember) string { return string(d.b[d.start(&m.Name):d.end(&m.Value)]) }
	return edit{action: ActionWrapped, reason: "now a Streamable HTTP entry for " + url + " with the login's token from its headersHelper",
		command: command, args: args,
		patches: []patch{
			{d.start(&cmd.Name), d.end(&cmd.Value), urlText},
			{d.start(&argsMem.Name), d.end(&argsMem.Value), helperText},
			{d.start(&typ.Value), d.end(&typ.Value), httpType},
		},
		spans: []Span{
			{Field: "url", Original: whole(cmd), Wrapped: urlText},
			{Field: "headersHelper", Original: whole(argsMem), Wrapped: helperText},
			{Field: "type", Original: d.raw(&typ.Value), Wrapped: httpType},
		}}, true
}

// gatewayHTTPDone reports whether obj is an entry a --gateway wrap made a
// Streamable HTTP entry (its headersHelper is ours): wrapping it again
// changes nothing.
func (d *jdoc) gatewayHTTPDone(obj *hujson.Object, o Options) bool {
	h := member(obj, "headersHelper")
	if o.HeadersHelper == "" || h == nil {
		return false
	}
	v, ok := stringLit(&h.Value)
	return ok && v == o.HeadersHelper
}

// restoreHTTPRecord puts back the stdio entry a --gateway wrap made a
// Streamable HTTP entry, from the manifest, when the client rewrote the
// file since (its spans no longer match): url becomes command, and
// headersHelper args, with the values written anew.
func (d *jdoc) restoreHTTPRecord(obj *hujson.Object, rec *Record) (edit, bool) {
	u, h, typ := member(obj, "url"), member(obj, "headersHelper"), member(obj, "type")
	if u == nil || h == nil || rec.Command == "" {
		return edit{}, false
	}
	lits := quoteAll(rec.Args)
	colon := func(m *hujson.ObjectMember) string { return string(d.b[d.end(&m.Name):d.start(&m.Value)]) }
	e := edit{action: ActionUnwrapped, reason: "entry changed since wrap; restored from the manifest's command line",
		patches: []patch{
			{d.start(&u.Name), d.end(&u.Value), `"command"` + colon(u) + quote(rec.Command)},
			{d.start(&h.Name), d.end(&h.Value), `"args"` + colon(h) + "[" + strings.Join(lits, d.inlineSep(h)) + "]"},
		}}
	if typ != nil {
		e.patches = append(e.patches, patch{d.start(&typ.Value), d.end(&typ.Value), quote("stdio")})
	}
	return e, true
}
