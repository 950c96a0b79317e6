package wrap

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// tdoc is a Codex config.toml. Servers are [mcp_servers.NAME] tables whose
// command and args keys are edited in place.
type tdoc struct {
	file string
	b    []byte
	bom  int
	doc  *tomldoc.Doc
	data map[string]any
	nl   string
}

func openTOML(file string, b []byte) (*tdoc, error) {
	d := &tdoc{file: file, b: b, nl: newline(b)}
	if bytes.HasPrefix(b, utf8BOM) {
		d.bom = len(utf8BOM)
	}
	text := string(b[d.bom:])
	if _, err := toml.Decode(text, &d.data); err != nil {
		return nil, fmt.Errorf("%s: %v; refusing to edit a file that does not parse", file, err)
	}
	d.doc = tomldoc.Parse(text)
	return d, nil
}

func (d *tdoc) format() string { return "toml" }

func (d *tdoc) check(after []byte) error {
	var v map[string]any
	_, err := toml.Decode(string(bytes.TrimPrefix(after, utf8BOM)), &v)
	return err
}

func (d *tdoc) entry(name string) map[string]any {
	servers, _ := d.data["mcp_servers"].(map[string]any)
	e, _ := servers[name].(map[string]any)
	return e
}

func (d *tdoc) key(name, field string) *tomldoc.Key {
	return d.doc.Key("mcp_servers", name, field)
}

func toStrings(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (d *tdoc) locate(it *item) map[string]any {
	e := d.entry(it.srv.Name)
	if e != nil {
		it.pointer = []string{"mcp_servers", it.srv.Name}
		it.res.Pointer = pointer(it.pointer)
	}
	return e
}

func (d *tdoc) raw(k *tomldoc.Key) string {
	return string(d.b[k.ValueStart+d.bom : k.ValueEnd+d.bom])
}

func (d *tdoc) wrapEntry(it *item, o Options) edit {
	e := d.locate(it)
	if e == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	if ed, done := precheck(it, o); done {
		if ed.action == actionRemote {
			return d.wrapRemote(it, o, e)
		}
		return ed
	}
	command, ok := e["command"].(string)
	args, argsOK := toStrings(e["args"])
	if !ok || !argsOK {
		return skip(ActionSkippedUnsupported, "command is not a string or args not an array of strings")
	}
	if isShimFor(command, args, o.MCPGovPath) {
		return skip(ActionAlreadyGoverned, "")
	}
	ck, ak := d.key(it.srv.Name, "command"), d.key(it.srv.Name, "args")
	if ck == nil || (e["args"] != nil && ak == nil) {
		return skip(ActionSkippedUnsupported, "entry is an inline table; not supported yet")
	}
	if args == nil {
		args = []string{}
	}
	newCmd := tomldoc.String(o.MCPGovPath)
	ed := edit{action: ActionWrapped, command: command, args: args}
	var (
		envMoves []moved
		argMoves []argMove
		newArgs  string
	)
	if url := o.gatewayFor(it.srv); url != "" {
		// Codex takes a Streamable HTTP entry's token only from an
		// environment variable of its own (bearer_token_env_var), which
		// holds no login token: the shim carries it instead.
		newArgs = tomldoc.Strings(gatewayArgs(it.srv, o, url))
		ed.reason = "now runs mcpgov shim --url " + url
	} else {
		var notMoved []string
		var err error
		if envMoves, notMoved, err = d.moveSecrets(it, o, e); err != nil {
			return skip(ActionFailed, "move secrets: "+err.Error())
		}
		if ak != nil {
			var elems [][2]int
			raw := d.raw(ak)
			if elems, ok = tomlStrings(raw); ok && len(elems) == len(args) {
				base := ak.ValueStart + d.bom
				var skipped []string
				argMoves, skipped, err = moveArgSecrets(it, o, args, func(i int) (string, int) {
					return raw[elems[i][0]:elems[i][1]], base + elems[i][0]
				})
				if err != nil {
					return skip(ActionFailed, "move secrets: "+err.Error())
				}
				notMoved = append(notMoved, skipped...)
			}
		}
		prefix := withSecretFlags(shimPrefix(it.srv, o), envMoves)
		prefix = append(append(prefix[:len(prefix)-1:len(prefix)-1], argFlags(argMoves)...), "--")
		ed.args = clearedArgs(args, argMoves)
		newArgs = tomldoc.Strings(append(append(prefix, command), ed.args...))
		ed = notMovedReason(ed, notMoved, whyEscapes)
	}
	ed.patches = []patch{{ck.ValueStart + d.bom, ck.ValueEnd + d.bom, newCmd}}
	ed.spans = []Span{{Field: "command", Original: d.raw(ck), Wrapped: newCmd}}
	if ak != nil {
		s, end := ak.ValueStart+d.bom, ak.ValueEnd+d.bom
		ed.patches = append(ed.patches, patch{s, end, newArgs})
		ed.spans = append(ed.spans, Span{Field: "args", Original: d.raw(ak), Wrapped: newArgs})
		if len(argMoves) > 0 {
			ed.spans[len(ed.spans)-1].Original = cutMoves(d.b, s, end, argMoves, func(argMove) string { return secretMark })
			ed.spans[len(ed.spans)-1].Refs = argRefs(argMoves)
			ed.redact = append(ed.redact, maskMoves(argMoves)...)
			ed.reason = movedReason(ed.reason, argMoves)
		}
		return addMoves(ed, envMoves)
	}
	ind, _ := indentAt(d.b, ck.Start+d.bom)
	at := ck.LineEnd + d.bom
	ins := ind + "args = " + newArgs + d.nl
	if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
		ins = d.nl + ind + "args = " + newArgs
	}
	ed.patches = append(ed.patches, patch{at, at, ins})
	ed.spans = append(ed.spans, Span{Field: "args-line", Original: "", Wrapped: ins})
	return addMoves(ed, envMoves)
}

func (d *tdoc) unwrapEntry(it *item, lookup func(string) *Record) edit {
	e := d.locate(it)
	if e == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	name := it.srv.Name
	fallback := "restored from the command line (no manifest record)"
	if rec := lookup(it.res.Pointer); rec != nil {
		fallback = "entry changed since wrap; restored from the command line"
		var ps []patch
		for _, sp := range rec.Spans {
			var cands [][2]int
			switch sp.Field {
			case "command", "args":
				if k := d.key(name, sp.Field); k != nil {
					cands = append(cands, [2]int{k.ValueStart + d.bom, k.ValueEnd + d.bom})
				}
			case "args-line":
				if k := d.key(name, "args"); k != nil {
					s, end := k.Start+d.bom, k.LineEnd+d.bom
					cands = append(cands, [2]int{s, end}, [2]int{s - len(d.nl), end})
				}
			case "remote-region":
				if n := bytes.Count(d.b, []byte(sp.Wrapped)); n == 1 {
					at := bytes.Index(d.b, []byte(sp.Wrapped))
					cands = append(cands, [2]int{at, at + len(sp.Wrapped)})
				}
			case "remote":
				ck, ak := d.key(name, "command"), d.key(name, "args")
				if ck != nil && ak != nil {
					cands = append(cands, [2]int{d.keyStart(ck), ak.ValueEnd + d.bom})
				}
			default:
				if env, ok := strings.CutPrefix(sp.Field, "env."); ok {
					if s, end, ok := d.envValue(name, env); ok {
						cands = append(cands, [2]int{s, end})
					}
				}
			}
			matched := false
			for _, c := range cands {
				if c[0] >= 0 && c[1] <= len(d.b) && string(d.b[c[0]:c[1]]) == sp.Wrapped {
					ps = append(ps, patch{c[0], c[1], sp.Original})
					matched = true
					break
				}
			}
			if !matched {
				ps = nil
				break
			}
		}
		if ps != nil {
			return edit{action: ActionUnwrapped, patches: ps}
		}
	}
	command, _ := e["command"].(string)
	args, _ := toStrings(e["args"])
	if !isShim(command, args) {
		return skip(ActionNotWrapped, "")
	}
	ck, ak := d.key(name, "command"), d.key(name, "args")
	k := afterDashes(args)
	if k < 0 || k >= len(args) {
		// A --gateway wrap runs `mcpgov shim --url`: the command line
		// is in the manifest only.
		if rec := lookup(it.res.Pointer); rec != nil && ck != nil && ak != nil {
			if rec.URL == "" && rec.Command != "" {
				return edit{action: ActionUnwrapped, reason: "entry changed since wrap; restored from the manifest's command line", patches: []patch{
					{ck.ValueStart + d.bom, ck.ValueEnd + d.bom, tomldoc.String(rec.Command)},
					{ak.ValueStart + d.bom, ak.ValueEnd + d.bom, tomldoc.Strings(rec.Args)},
				}}
			}
			if rec.URL != "" && slices.ContainsFunc(rec.Spans, func(sp Span) bool { return len(sp.Refs) > 0 }) {
				return skip(ActionFailed, "the entry changed since wrap, and its moved headers can be put back only from the manifest's record of it; restore the line from the backup under the state directory")
			}
			if rec.URL != "" {
				return edit{action: ActionUnwrapped, reason: "entry changed since wrap; restored from the manifest's URL", patches: []patch{
					{d.keyStart(ck), ak.ValueEnd + d.bom, "url = " + tomldoc.String(rec.URL)},
				}}
			}
		}
		return skip(ActionNotWrapped, "launches from the catalog or a URL; nothing to restore")
	}
	if ck == nil || ak == nil {
		return skip(ActionSkippedUnsupported, "entry is an inline table; not supported yet")
	}
	back, err := restoreArgs(it, args, k)
	if err != nil {
		return skip(ActionFailed, "restore a moved secret: "+err.Error())
	}
	rest := append([]string(nil), args[k+1:]...)
	for i, v := range back {
		rest[i-k-1] = v
	}
	return edit{action: ActionUnwrapped, reason: fallback, patches: []patch{
		{ck.ValueStart + d.bom, ck.ValueEnd + d.bom, tomldoc.String(args[k])},
		{ak.ValueStart + d.bom, ak.ValueEnd + d.bom, tomldoc.Strings(rest)},
	}}
}

// keyStart is where k's key begins in the file (past its line's indent).
func (d *tdoc) keyStart(k *tomldoc.Key) int {
	at := k.Start + d.bom
	for at < len(d.b) && (d.b[at] == ' ' || d.b[at] == '\t') {
		at++
	}
	return at
}

// codexHTTPKeys are the members of a Codex Streamable HTTP entry that a
// stdio entry may not have (Codex refuses the mix); an entry with any of
// them is not turned into `mcpgov shim --url`.
var codexHTTPKeys = []string{"bearer_token_env_var", "bearer_token", "http_headers", "env_http_headers", "oauth", "oauth_resource", "scopes"}

// wrapRemote turns a Codex Streamable HTTP entry (url = "…") into a stdio
// entry running `mcpgov shim --url URL` (the gateway's endpoint in a
// --gateway wrap): the url line's key and value are replaced in place by
// command and args, so the manifest's span restores it byte for byte.
func (d *tdoc) wrapRemote(it *item, o Options, e map[string]any) edit {
	uk := d.key(it.srv.Name, "url")
	url, ok := e["url"].(string)
	if uk == nil || !ok {
		return skip(ActionSkippedRemote, "url is not a string key of the entry's table (an inline table is not supported yet)")
	}
	if _, ok := e["command"]; ok {
		return skip(ActionSkippedRemote, "entry has both url and command")
	}
	gw := o.gatewayFor(it.srv)
	// With --move-secrets, an inline http_headers table is passed on (a
	// secret value from the vault) and its line goes: Codex refuses it
	// beside command.
	hk := d.key(it.srv.Name, "http_headers")
	headers, _ := e["http_headers"].(map[string]any)
	movesHeaders := o.MoveSecret != nil && gw == "" && hk != nil && headers != nil && strings.HasPrefix(d.raw(hk), "{")
	// Or a table of its own ([mcp_servers.ID.http_headers]): its header
	// line and keys leave the file.
	ht := d.doc.Table("mcp_servers", it.srv.Name, "http_headers")
	tableHeaders := o.MoveSecret != nil && gw == "" && hk == nil && ht != nil && !ht.Array && headers != nil
	// A token or header Codex reads from its environment stays there:
	// the shim reads the same variable (env:NAME), which the wrapped
	// entry's env_vars has Codex pass on (Codex gives a stdio server only
	// the variables it names). Nothing secret is in the file to move.
	bk, ek := d.key(it.srv.Name, "bearer_token_env_var"), d.key(it.srv.Name, "env_http_headers")
	bearerVar, _ := e["bearer_token_env_var"].(string)
	envHeaders, _ := e["env_http_headers"].(map[string]any)
	passesBearer := gw == "" && bk != nil && envVarName(bearerVar)
	passesEnvHeaders := gw == "" && ek != nil && envHeaders != nil && strings.HasPrefix(d.raw(ek), "{")
	for _, k := range codexHTTPKeys {
		if _, ok := e[k]; ok && !(k == "http_headers" && (movesHeaders || tableHeaders)) && !(k == "bearer_token_env_var" && passesBearer) && !(k == "env_http_headers" && passesEnvHeaders) {
			why := "has " + k + ", which mcpgov shim --url cannot pass on yet"
			switch {
			case k == "http_headers" && o.MoveSecret == nil && gw == "":
				why = "has http_headers; wrap --remote --move-secrets passes them on, a secret one from the vault"
			case k == "http_headers" && ht != nil && ht.Array:
				why = "has http_headers as an array of tables, which Codex does not take"
			case k == "bearer_token":
				why = "has bearer_token, which Codex refuses for Streamable HTTP (\"not supported for streamable_http\"); put the token in an environment variable named by bearer_token_env_var"
			case (k == "bearer_token_env_var" || k == "env_http_headers") && gw != "":
				why = "has " + k + ": the gateway, not this entry, holds the server's credentials"
			case k == "bearer_token_env_var":
				why = "bearer_token_env_var is not an environment variable name"
			case k == "env_http_headers":
				why = "env_http_headers is not an inline table"
			}
			return skip(ActionSkippedRemote, why)
		}
	}
	if _, ok := e["env_vars"]; ok && (passesBearer || passesEnvHeaders) {
		return skip(ActionSkippedRemote, "has env_vars beside url; wrap would have to merge them")
	}
	target := url
	if gw != "" {
		target = gw // the original URL is kept in the manifest
	}
	flags := append([]string{"shim"}, shimFlags(it.srv, o)...)
	var (
		marks  []patch // the moved values, marked in the manifest's copy
		refs   []string
		redact []patch
		moved  []string
	)
	tableEnd := 0 // the end of the http_headers table's last key line
	if movesHeaders || tableHeaders {
		for _, n := range slices.Sorted(maps.Keys(headers)) {
			v, ok := headers[n].(string)
			if !ok {
				return skip(ActionSkippedRemote, "http_headers."+n+" is not a string")
			}
			var s, end int
			if tableHeaders {
				k := d.doc.Key("mcp_servers", it.srv.Name, "http_headers", n)
				if k == nil {
					return skip(ActionSkippedRemote, "http_headers."+n+" is not a key of the http_headers table")
				}
				s, end, ok = k.ValueStart+d.bom, k.ValueEnd+d.bom, true
				tableEnd = max(tableEnd, k.LineEnd+d.bom)
			}
			if !secretHeader(n, v) {
				flags = append(flags, "--header", n+": "+v)
				continue
			}
			if movesHeaders {
				s, end, ok = d.inlineValue(hk, n)
			}
			if !ok || string(d.b[s+1:end-1]) != v || strings.ContainsAny(v, "\\\"'") {
				return skip(ActionSkippedRemote, "http_headers."+n+" is not written verbatim (escapes); move it by hand")
			}
			ref, err := o.MoveSecret(it.srv, "header-"+n, v, !o.DryRun)
			if err != nil {
				return skip(ActionFailed, "move secrets: header "+n+": "+err.Error())
			}
			flags = append(flags, SecretHeaderFlag, n+"="+ref)
			marks = append(marks, patch{s + 1, end - 1, secretMark})
			refs = append(refs, ref)
			redact = append(redact, patch{s + 1, end - 1, secret.Mask(v)})
			moved = append(moved, n)
		}
	}
	var envVars []string
	if passesBearer {
		flags = append(flags, SecretBearerFlag, "env:"+bearerVar)
		envVars = append(envVars, bearerVar)
	}
	if passesEnvHeaders {
		for _, n := range slices.Sorted(maps.Keys(envHeaders)) {
			v, ok := envHeaders[n].(string)
			if !ok || !envVarName(v) {
				return skip(ActionSkippedRemote, "env_http_headers."+n+" does not name an environment variable")
			}
			flags = append(flags, SecretHeaderFlag, n+"=env:"+v)
			if !slices.Contains(envVars, v) {
				envVars = append(envVars, v)
			}
		}
	}
	var urlMoved string
	if raw := d.raw(uk); o.MoveSecret != nil && gw == "" && (raw == `"`+url+`"` || raw == "'"+url+"'") && !strings.ContainsAny(url, "\"'\\") {
		// A secret query value or user:password, written verbatim,
		// leaves the URL --url gets, as in a JSON entry.
		base := uk.ValueStart + d.bom + 1
		cut, err := cutURLSecrets(it, o, url, base)
		if err != nil {
			return skip(ActionFailed, "move secrets: "+err.Error())
		}
		if len(cut.refs) > 0 {
			flags = append(flags, cut.flags...)
			for i, r := range cut.redact {
				marks = append(marks, patch{r.start, r.end, secretMark})
				refs = append(refs, cut.refs[i])
			}
			redact = append(redact, cut.redact...)
			urlMoved = cut.reason()
			target = cut.cleared
		}
	}
	if (o.MoveSecret != nil || len(envVars) > 0) && gw == "" {
		var err error
		if flags, err = withOrigin(flags, target); err != nil {
			return skip(ActionSkippedRemote, "move secrets: "+err.Error())
		}
	}
	// The manifest's copy marks each moved value, in file order.
	order := make([]int, len(marks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return marks[a].start - marks[b].start })
	sortedMarks, sortedRefs := make([]patch, len(marks)), make([]string, len(marks))
	for i, j := range order {
		sortedMarks[i], sortedRefs[i] = marks[j], refs[j]
	}
	marks, refs = sortedMarks, sortedRefs

	ind, _ := indentAt(d.b, d.keyStart(uk))
	repl := "command = " + tomldoc.String(o.MCPGovPath) + d.nl + ind + "args = " +
		tomldoc.Strings(append(flags, "--url", target))
	if len(envVars) > 0 {
		repl += d.nl + ind + "env_vars = " + tomldoc.Strings(envVars)
	}
	start := d.keyStart(uk)
	ed := edit{action: ActionWrapped, reason: "remote entry now runs mcpgov shim --url", url: url, args: []string{},
		patches: []patch{{start, uk.ValueEnd + d.bom, repl}},
		spans:   []Span{{Field: "remote", Original: string(d.b[start : uk.ValueEnd+d.bom]), Wrapped: repl}}}
	if urlMoved != "" {
		ed.url = target // the manifest holds no secret
		ed.reason += urlMoved
	}
	var removed [][2]int // lines that leave the entry: Codex refuses them beside command
	line := func(k *tomldoc.Key) [2]int { return [2]int{k.Start + d.bom, k.LineEnd + d.bom} }
	if movesHeaders {
		removed = append(removed, line(hk))
	}
	if tableHeaders {
		if ht.Start+d.bom < start {
			return skip(ActionSkippedRemote, "the http_headers table comes before url")
		}
		removed = append(removed, [2]int{ht.Start + d.bom, max(tableEnd, ht.Start+d.bom)})
	}
	if passesBearer {
		removed = append(removed, line(bk))
	}
	if passesEnvHeaders {
		removed = append(removed, line(ek))
	}
	if len(envVars) > 0 {
		ed.reason += "; Codex passes " + strings.Join(envVars, ", ") + " on to it (env_vars)"
	}
	if len(removed) == 0 {
		if len(marks) > 0 {
			shifted := make([]patch, len(marks))
			for i, m := range marks {
				shifted[i] = patch{m.start - start, m.end - start, m.repl}
			}
			orig, err := apply(d.b[start:uk.ValueEnd+d.bom], shifted)
			if err != nil {
				return skip(ActionSkippedRemote, "the URL could not be marked")
			}
			ed.spans[0].Original, ed.spans[0].Refs, ed.redact = string(orig), refs, redact
		}
		return ed
	}
	// One span from the first to the last of the lines: the url line
	// replaced and the others taken out, what lies between kept.
	from, to := start, uk.ValueEnd+d.bom
	for _, r := range removed {
		from, to = min(from, r[0]), max(to, r[1])
	}
	sub := []patch{{start - from, uk.ValueEnd + d.bom - from, repl}}
	for _, r := range removed {
		sub = append(sub, patch{r[0] - from, r[1] - from, ""})
	}
	slices.SortFunc(sub, func(a, b patch) int { return a.start - b.start })
	region := d.b[from:to]
	wrapped, err := apply(region, sub)
	if err != nil {
		return skip(ActionSkippedRemote, "a line taken out shares a line with url")
	}
	for i := range marks {
		marks[i].start -= from
		marks[i].end -= from
	}
	orig, err := apply(region, marks)
	if err != nil {
		return skip(ActionSkippedRemote, "the moved values could not be marked")
	}
	ed.patches = []patch{{from, to, string(wrapped)}}
	ed.spans = []Span{{Field: "remote-region", Original: string(orig), Wrapped: string(wrapped), Refs: refs}}
	ed.redact = redact
	if len(moved) > 0 {
		ed.reason += "; moved " + strings.Join(moved, ", ") + " to the vault"
	}
	return ed
}

// envVarName reports whether s names an environment variable.
func envVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// inlineValue is where the value of name in the inline table k's value
// is in the file (a one-line basic or literal string).
func (d *tdoc) inlineValue(k *tomldoc.Key, name string) (int, int, bool) {
	text := string(d.b[k.ValueStart+d.bom : k.ValueEnd+d.bom])
	q := regexp.QuoteMeta(name)
	re := regexp.MustCompile(`(?:^\{|,)\s*(?:` + q + `|"` + q + `"|'` + q + `')\s*=\s*`)
	loc := re.FindAllStringIndex(text, -1)
	if len(loc) != 1 || loc[0][1] >= len(text) || (text[loc[0][1]] != '"' && text[loc[0][1]] != '\'') {
		return 0, 0, false
	}
	end := tomlStringEnd(text, loc[0][1])
	if end < 0 {
		return 0, 0, false
	}
	base := k.ValueStart + d.bom
	return base + loc[0][1], base + end, true
}
