package wrap

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// ydoc is a Continue YAML config: mcpServers is a list of mappings with a
// name. yaml.v3 gives lines and columns, not byte offsets, so values are
// measured in the text, and every edit is checked by decoding the result.
type ydoc struct {
	file  string
	b     []byte
	lines []int // byte offset where each line starts
	root  yaml.Node
	nl    string
}

func openYAML(file string, b []byte) (*ydoc, error) {
	if bytes.HasPrefix(b, utf8BOM) {
		return nil, errUnsupported // columns on line 1 would be off by the BOM
	}
	d := &ydoc{file: file, b: b, nl: newline(b), lines: []int{0}}
	for i, c := range b {
		if c == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
	if err := yaml.Unmarshal(b, &d.root); err != nil {
		return nil, fmt.Errorf("%s: %s; refusing to edit a file that does not parse", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := duplicateKey(&d.root); err != nil {
		return nil, fmt.Errorf("%s: %v; refusing to edit a file its client does not load", file, err)
	}
	return d, nil
}

// duplicateKey finds a mapping key written twice. yaml.v3 accepts that
// into a Node, but Continue's YAML parser rejects the file, and which copy
// wrap patched would be a guess.
func duplicateKey(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			if prev, ok := seen[k.Value]; ok {
				return fmt.Errorf("line %d: key %q is already defined at line %d", k.Line, k.Value, prev)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKey(c); err != nil {
			return err
		}
	}
	return nil
}

func (d *ydoc) format() string { return "yaml" }

func (d *ydoc) check(after []byte) error {
	var n yaml.Node
	return yaml.Unmarshal(after, &n)
}

// offset converts a yaml.v3 line and column (1-based, in characters) to a
// byte offset.
func (d *ydoc) offset(line, col int) int {
	if line-1 >= len(d.lines) {
		return len(d.b)
	}
	off := d.lines[line-1]
	for c := 1; c < col && off < len(d.b); c++ {
		_, n := utf8.DecodeRune(d.b[off:])
		off += n
	}
	return off
}

func mapValue(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := len(m.Content) - 2; i >= 0; i -= 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// entry finds the list item of the named server, and where the next item
// (or the end of the file) begins.
func (d *ydoc) entry(name string, line int) (*yaml.Node, int) {
	if len(d.root.Content) == 0 {
		return nil, 0
	}
	_, list := mapValue(d.root.Content[0], "mcpServers")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, 0
	}
	for i, it := range list.Content {
		_, n := mapValue(it, "name")
		if n == nil || n.Value != name || (line > 0 && it.Line != line) {
			continue
		}
		end := len(d.b)
		if i+1 < len(list.Content) {
			end = d.lines[list.Content[i+1].Line-1]
		}
		return it, end
	}
	return nil, 0
}

// scalarEnd is the end of the one-line scalar starting at i, or -1.
func scalarEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b) && b[j] != '\n'; j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '\'':
		for j := i + 1; j < len(b) && b[j] != '\n'; j++ {
			if b[j] == '\'' {
				if j+1 < len(b) && b[j+1] == '\'' {
					j++
					continue
				}
				return j + 1
			}
		}
		return -1
	case '|', '>', '[', '{', '&', '*', '!':
		return -1
	}
	j := i
	for j < len(b) && b[j] != '\n' && b[j] != '\r' && !(b[j] == '#' && j > i && (b[j-1] == ' ' || b[j-1] == '\t')) {
		j++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return j
}

// flowEnd is the end of the flow sequence starting at b[i] == '['.
func flowEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			if e := scalarEnd(b, j); e > 0 {
				j = e - 1
			} else {
				return -1
			}
		case '\'':
			if e := scalarEnd(b, j); e > 0 {
				j = e - 1
			} else {
				return -1
			}
		case '#':
			return -1 // comments inside a flow sequence: not supported
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

func yamlStrings(n *yaml.Node) ([]string, bool) {
	if n == nil {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, false
		}
		out = append(out, c.Value)
	}
	return out, true
}

func (d *ydoc) wrapEntry(it *item, o Options) edit {
	ent, _ := d.entry(it.srv.Name, it.srv.Line)
	if ent == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	it.res.Pointer = "/mcpServers/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(it.srv.Name)
	if e, done := precheck(it, o); done {
		if e.action == actionRemote {
			return d.wrapRemote(it, o, ent)
		}
		return e
	}
	unsupported := skip(ActionSkippedUnsupported, "entry layout not supported yet (multi-line or anchored values)")
	ck, cv := mapValue(ent, "command")
	_, av := mapValue(ent, "args")
	args, ok := yamlStrings(av)
	if cv == nil || cv.Kind != yaml.ScalarNode || !ok {
		return unsupported
	}
	command := cv.Value
	if isShimFor(command, args, o.MCPGovPath) {
		return skip(ActionAlreadyGoverned, "")
	}
	cs := d.offset(cv.Line, cv.Column)
	ce := scalarEnd(d.b, cs)
	if ce < 0 {
		return unsupported
	}
	if url := o.gatewayFor(it.srv); url != "" {
		return d.wrapGateway(it, o, ck, av, cs, ce, command, args, url)
	}
	newCmd := quote(o.MCPGovPath)
	lits := []string{}
	envMoves, notMoved, err := d.moveSecrets(it, o, ent)
	if err != nil {
		return skip(ActionFailed, "move secrets: "+err.Error())
	}
	var argMoves []argMove
	if av != nil {
		var left []string
		argMoves, left, err = moveArgSecrets(it, o, args, func(i int) (string, int) {
			n := av.Content[i]
			s := d.offset(n.Line, n.Column)
			e := scalarEnd(d.b, s)
			if av.Style&yaml.FlowStyle != 0 && n.Style == 0 && e > s {
				// A plain scalar in a flow sequence ends at its , or ].
				if j := bytes.IndexAny(d.b[s:e], ",]"); j >= 0 {
					e = s + len(bytes.TrimRight(d.b[s:s+j], " \t"))
				}
			}
			if e > s && n.Kind == yaml.ScalarNode {
				return string(d.b[s:e]), s
			}
			return "", s
		})
		if err != nil {
			return skip(ActionFailed, "move secrets: "+err.Error())
		}
		notMoved = append(notMoved, left...)
	}
	prefix := withSecretFlags(shimPrefix(it.srv, o), envMoves)
	if len(argMoves) > 0 {
		// The args are rewritten whole, with the moved values cut.
		prefix = append(append(prefix[:len(prefix)-1:len(prefix)-1], argFlags(argMoves)...), "--")
		cleared := clearedArgs(args, argMoves)
		e := edit{action: ActionWrapped, command: command, args: cleared}
		e = d.replaceArgs(it, o, ck, av, cs, ce, e, append(append(prefix, command), cleared...), argMoves)
		if e.action != ActionWrapped {
			return e
		}
		e.reason = movedReason(e.reason, argMoves)
		return addMoves(notMovedReason(e, notMoved, whyEscapes), envMoves)
	}
	for _, a := range prefix {
		lits = append(lits, quote(a))
	}
	lits = append(lits, quote(command))
	e := edit{action: ActionWrapped, command: command, args: args}
	if e.args == nil {
		e.args = []string{}
	}
	e.patches = []patch{{cs, ce, newCmd}}
	e.spans = []Span{{Field: "command", Original: string(d.b[cs:ce]), Wrapped: newCmd}}
	switch {
	case av == nil:
		ind, _ := indentAt(d.b, d.offset(ck.Line, ck.Column))
		at := len(d.b)
		if ck.Line < len(d.lines) {
			at = d.lines[ck.Line]
		}
		ins := ind + "args: [" + strings.Join(lits, ", ") + "]" + d.nl
		if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
			ins = d.nl + ind + "args: [" + strings.Join(lits, ", ") + "]"
		}
		e.patches = append(e.patches, patch{at, at, ins})
		e.spans = append(e.spans, Span{Field: "args", Original: "", Wrapped: ins})
	case av.Style&yaml.FlowStyle != 0:
		as := d.offset(av.Line, av.Column)
		if as >= len(d.b) || d.b[as] != '[' || flowEnd(d.b, as) < 0 {
			return unsupported
		}
		ins := strings.Join(lits, ", ")
		if len(args) > 0 {
			ins += ", "
		}
		e.patches = append(e.patches, patch{as + 1, as + 1, ins})
		e.spans = append(e.spans, Span{Field: "args", Original: "", Wrapped: "[" + ins})
	default: // block sequence: new items before the first one
		if len(av.Content) == 0 {
			return unsupported
		}
		first := av.Content[0]
		fs := d.offset(first.Line, first.Column)
		dash := bytes.LastIndexByte(d.b[:fs], '-')
		ind, own := indentAt(d.b, dash)
		if dash < 0 || !own || !isBlank(d.b[dash+1:fs]) {
			return unsupported
		}
		var sb strings.Builder
		for _, l := range lits {
			sb.WriteString("- " + l + d.nl + ind)
		}
		e.patches = append(e.patches, patch{dash, dash, sb.String()})
		e.spans = append(e.spans, Span{Field: "args", Original: "", Wrapped: sb.String() + "-"})
	}
	// The offsets were measured by hand: prove the edit by decoding it.
	after, err := apply(d.b, e.patches)
	if err != nil {
		return unsupported
	}
	if !d.verify(after, it, o.MCPGovPath, append(append(prefix, command), args...)) {
		return unsupported
	}
	return addMoves(notMovedReason(e, notMoved, whyEscapes), envMoves)
}

// wrapGateway points a Continue stdio entry at the gateway endpoint url:
// its command becomes mcpgov and its args `shim [flags] --url URL`, in
// place (a flow sequence is replaced, a block sequence's items become one
// flow sequence where they stood), so the manifest's spans restore it byte
// for byte. Continue sends a Streamable HTTP entry's headers as written
// (requestOptions.headers, secrets from its own store): no login token can
// reach them, so the shim carries it.
func (d *ydoc) wrapGateway(it *item, o Options, ck, av *yaml.Node, cs, ce int, command string, args []string, url string) edit {
	e := edit{action: ActionWrapped, reason: "now runs mcpgov shim --url " + url, command: command, args: args}
	return d.replaceArgs(it, o, ck, av, cs, ce, e, gatewayArgs(it.srv, o, url), nil)
}

// replaceArgs makes the entry run mcpgov with the arguments want: its
// command scalar is replaced, and its args become one flow sequence where
// they stood (a missing args is added under command). The moved secrets
// ms are marked in the manifest's copy of the old args.
func (d *ydoc) replaceArgs(it *item, o Options, ck, av *yaml.Node, cs, ce int, e edit, want []string, ms []argMove) edit {
	unsupported := skip(ActionSkippedUnsupported, "entry layout not supported yet (multi-line or anchored values)")
	flow := "[" + strings.Join(quoteAll(want), ", ") + "]"
	newCmd := quote(o.MCPGovPath)
	if e.args == nil {
		e.args = []string{}
	}
	e.patches = []patch{{cs, ce, newCmd}}
	e.spans = []Span{{Field: "command", Original: string(d.b[cs:ce]), Wrapped: newCmd}}
	var from, to int
	switch {
	case av == nil:
		ind, own := indentAt(d.b, d.offset(ck.Line, ck.Column))
		if !own {
			return unsupported
		}
		at := len(d.b)
		if ck.Line < len(d.lines) {
			at = d.lines[ck.Line]
		}
		ins := ind + "args: " + flow + d.nl
		if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
			ins = d.nl + ind + "args: " + flow
		}
		e.patches = append(e.patches, patch{at, at, ins})
		e.spans = append(e.spans, Span{Field: "args", Original: "", Wrapped: ins})
		from = -1
	case av.Style&yaml.FlowStyle != 0:
		from = d.offset(av.Line, av.Column)
		if from >= len(d.b) || d.b[from] != '[' {
			return unsupported
		}
		to = flowEnd(d.b, from)
	default: // block sequence: from the first item's dash to the last item's end
		if len(av.Content) == 0 {
			return unsupported
		}
		first, last := av.Content[0], av.Content[len(av.Content)-1]
		from = bytes.LastIndexByte(d.b[:d.offset(first.Line, first.Column)], '-')
		to = scalarEnd(d.b, d.offset(last.Line, last.Column))
	}
	if from >= 0 {
		if to <= from {
			return unsupported
		}
		e.patches = append(e.patches, patch{from, to, flow})
		e.spans = append(e.spans, Span{Field: "args-flow", Original: string(d.b[from:to]), Wrapped: flow})
		if len(ms) > 0 {
			e.spans[len(e.spans)-1].Original = cutMoves(d.b, from, to, ms, func(argMove) string { return secretMark })
			e.spans[len(e.spans)-1].Refs = argRefs(ms)
			e.redact = append(e.redact, maskMoves(ms)...)
		}
	}
	// The offsets were measured by hand: prove the edit by decoding it.
	after, err := apply(d.b, e.patches)
	if err != nil || !d.verify(after, it, o.MCPGovPath, want) {
		return unsupported
	}
	return e
}

// moveSecrets takes the literal secrets of the entry's env mapping into
// the vault, as the JSON wrap does: each value becomes "" and the shim
// sets it from --secret-env. Each span runs from the key to the value, so
// unwrap finds it again by its text.
func (d *ydoc) moveSecrets(it *item, o Options, ent *yaml.Node) (ms []moved, notMoved []string, err error) {
	if o.MoveSecret == nil {
		return nil, nil, nil
	}
	_, env := mapValue(ent, "env")
	if env == nil || env.Kind != yaml.MappingNode {
		return nil, nil, nil
	}
	for i := 0; i+1 < len(env.Content); i += 2 {
		k, v := env.Content[i], env.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			continue
		}
		if _, ok := secret.Detect(k.Value, v.Value); !ok {
			continue
		}
		ks, vs := d.offset(k.Line, k.Column), d.offset(v.Line, v.Column)
		ve := scalarEnd(d.b, vs)
		if ve < 0 || k.Line != v.Line || strings.ContainsAny(v.Value, "\\\"'") {
			notMoved = append(notMoved, "env."+k.Value)
			continue
		}
		raw := string(d.b[vs:ve])
		open, closing := "", ""
		if raw[0] == '"' || raw[0] == '\'' {
			open, closing = raw[:1], raw[:1]
		}
		if raw != open+v.Value+closing {
			notMoved = append(notMoved, "env."+k.Value)
			continue
		}
		ref, err := o.MoveSecret(it.srv, k.Value, v.Value, !o.DryRun)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", k.Value, err)
		}
		lead := string(d.b[ks:vs])
		ms = append(ms, moved{name: k.Value, ref: ref,
			clear: patch{vs, ve, `""`}, mask: patch{vs, ve, quote(secret.Mask(v.Value))},
			span: Span{Field: "env." + k.Value, Original: lead + open + secretMark + closing, Wrapped: lead + `""`, Refs: []string{ref}}})
	}
	return ms, notMoved, nil
}

// wrapRemote turns a Continue Streamable HTTP entry (type:
// streamable-http, url) into a stdio entry running `mcpgov shim --url URL`
// (the gateway's endpoint in a --gateway wrap): the url line becomes
// command and args lines, and type says stdio, each in place, so the
// manifest's spans restore them byte for byte.
func (d *ydoc) wrapRemote(it *item, o Options, ent *yaml.Node) edit {
	unsupported := skip(ActionSkippedRemote, "entry layout not supported yet (multi-line or anchored values)")
	uk, uv := mapValue(ent, "url")
	if uv == nil || uv.Kind != yaml.ScalarNode {
		return skip(ActionSkippedRemote, "url is not a string")
	}
	if k, _ := mapValue(ent, "command"); k != nil {
		return skip(ActionSkippedRemote, "entry has both url and command")
	}
	gw := o.gatewayFor(it.srv)
	rk, rv := mapValue(ent, "requestOptions")
	var hdrs *yaml.Node
	if rk != nil {
		switch hk, hv := mapValue(rv, "headers"); {
		case gw != "":
			return skip(ActionSkippedRemote, "has requestOptions, which the gateway would not get")
		case rv.Kind != yaml.MappingNode || len(rv.Content) != 2 || hk == nil || hv.Kind != yaml.MappingNode || rv.Anchor != "" || hv.Anchor != "":
			return skip(ActionSkippedRemote, "has requestOptions beyond headers, which mcpgov shim --url does not take")
		case o.MoveSecret == nil:
			return skip(ActionSkippedRemote, "has requestOptions.headers; wrap --remote --move-secrets passes them on, a secret one from the vault")
		default:
			hdrs = hv
		}
	}
	us := d.offset(uk.Line, uk.Column)
	ve := scalarEnd(d.b, d.offset(uv.Line, uv.Column))
	ind, own := indentAt(d.b, us)
	if ve < 0 || uk.Line != uv.Line {
		return unsupported
	}
	if !own { // "- url: …": the new lines go under the item's first key
		ind = strings.Repeat(" ", uk.Column-1)
	}
	target, url := uv.Value, uv.Value
	if gw != "" {
		target = gw // the original URL is kept in the manifest
	}
	flags := append([]string{"shim"}, shimFlags(it.srv, o)...)
	orig := string(d.b[us:ve])
	var cut urlCut
	vs := d.offset(uv.Line, uv.Column)
	raw := string(d.b[vs:ve])
	q := ""
	if raw != "" && (raw[0] == '"' || raw[0] == '\'') {
		q = raw[:1]
	}
	if o.MoveSecret != nil && gw == "" && raw == q+url+q && !strings.ContainsAny(url, "\"'\\") {
		// A secret query value or user:password, written verbatim,
		// leaves the URL --url gets, as in a JSON entry.
		var err error
		if cut, err = cutURLSecrets(it, o, url, vs+len(q)); err != nil {
			return skip(ActionFailed, "move secrets: "+err.Error())
		}
		if len(cut.refs) > 0 {
			flags = append(flags, cut.flags...)
			target, url = cut.cleared, cut.cleared
			orig = string(d.b[us:vs]) + q + cut.marked + q
		}
	}
	var hm headerMoves
	if hdrs != nil {
		var err error
		if hm, err = d.moveHeaders(it, o, hdrs); err != nil {
			return skip(ActionSkippedRemote, err.Error())
		}
		flags = append(flags, hm.flags...)
	}
	if len(cut.refs) > 0 || len(hm.refs) > 0 {
		var err error
		if flags, err = withOrigin(flags, target); err != nil {
			return skip(ActionSkippedRemote, "move secrets: "+err.Error())
		}
	}
	want := append(flags, "--url", target)
	repl := "command: " + quote(o.MCPGovPath) + d.nl + ind + "args: [" + strings.Join(quoteAll(want), ", ") + "]"
	e := edit{action: ActionWrapped, reason: "remote entry now runs mcpgov shim --url", url: url, args: []string{},
		patches: []patch{{us, ve, repl}}, redact: cut.redact,
		spans: []Span{{Field: "remote", Original: orig, Wrapped: repl, Refs: cut.refs}}}
	e.reason += cut.reason()
	if hdrs != nil {
		// One span from the url to the end of requestOptions (or from
		// requestOptions to the url): the url replaced, requestOptions
		// taken out (the shim sends its headers), what lies between kept.
		bs := d.lines[rk.Line-1]
		be := len(d.b)
		if last := lastLine(rv); last < len(d.lines) {
			be = d.lines[last]
		}
		from, to := min(us, bs), max(ve, be)
		if bs < ve && be > us {
			return unsupported
		}
		sub := []patch{{us - from, ve - from, repl}, {bs - from, be - from, ""}}
		slices.SortFunc(sub, func(a, b patch) int { return a.start - b.start })
		region := d.b[from:to]
		wrapped, err := apply(region, sub)
		if err != nil {
			return unsupported
		}
		// The manifest's copy: the url as recorded above, the moved
		// header values marked, in file order.
		var marks []patch
		refs := slices.Clone(cut.refs)
		if len(cut.refs) > 0 {
			marks = append(marks, patch{us - from, ve - from, orig})
		}
		for _, m := range hm.marks {
			marks = append(marks, patch{m.start - from, m.end - from, secretMark})
		}
		slices.SortFunc(marks, func(a, b patch) int { return a.start - b.start })
		if us > bs { // the header values come before the url's
			refs = append(slices.Clone(hm.refs), cut.refs...)
		} else {
			refs = append(refs, hm.refs...)
		}
		marked, err := apply(region, marks)
		if err != nil {
			return unsupported
		}
		e.patches = []patch{{from, to, string(wrapped)}}
		e.spans = []Span{{Field: "remote", Original: string(marked), Wrapped: string(wrapped), Refs: refs}}
		e.redact = append(e.redact, hm.redact...)
		if len(hm.moved) > 0 {
			e.reason += "; moved " + strings.Join(hm.moved, ", ") + " to the vault"
		}
	}
	if tk, tv := mapValue(ent, "type"); tk != nil {
		ts, te := d.offset(tk.Line, tk.Column), scalarEnd(d.b, d.offset(tv.Line, tv.Column))
		if te < 0 || tk.Line != tv.Line {
			return unsupported
		}
		typ := string(d.b[ts:d.offset(tv.Line, tv.Column)]) + "stdio"
		e.patches = append(e.patches, patch{ts, te, typ})
		e.spans = append(e.spans, Span{Field: "type", Original: string(d.b[ts:te]), Wrapped: typ})
	}
	after, err := apply(d.b, e.patches)
	if err != nil || !d.verify(after, it, o.MCPGovPath, want) {
		return unsupported
	}
	return e
}

// originalURL is the URL a remote entry had before wrap: the record's,
// or, when secrets were moved out of it, the one its span's original
// (filled from the vault) holds.
func originalURL(rec *Record) string {
	for _, sp := range rec.Spans {
		if sp.Field == "remote" && len(sp.Refs) > 0 {
			// The url line, alone: requestOptions may come before or
			// after it in the span.
			for _, line := range strings.Split(sp.Original, "\n") {
				var m map[string]any
				if yaml.Unmarshal([]byte(line), &m) == nil {
					if u, ok := m["url"].(string); ok {
						return u
					}
				}
			}
		}
	}
	return rec.URL
}

// verifyURL decodes after and checks the entry is a url entry for url.
func (d *ydoc) verifyURL(after []byte, it *item, url string) bool {
	nd, err := openYAML(d.file, after)
	if err != nil {
		return false
	}
	ent, _ := nd.entry(it.srv.Name, 0)
	_, uv := mapValue(ent, "url")
	_, cv := mapValue(ent, "command")
	return uv != nil && uv.Value == url && cv == nil
}

// verify decodes after and checks the entry launches command with args.
func (d *ydoc) verify(after []byte, it *item, command string, args []string) bool {
	nd, err := openYAML(d.file, after)
	if err != nil {
		return false
	}
	ent, _ := nd.entry(it.srv.Name, 0)
	_, cv := mapValue(ent, "command")
	_, av := mapValue(ent, "args")
	got, ok := yamlStrings(av)
	if got == nil {
		got = []string{}
	}
	if args == nil {
		args = []string{}
	}
	return cv != nil && ok && cv.Value == command && reflect.DeepEqual(got, args)
}

func (d *ydoc) unwrapEntry(it *item, lookup func(string) *Record) edit {
	ent, end := d.entry(it.srv.Name, it.srv.Line)
	if ent == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	it.res.Pointer = "/mcpServers/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(it.srv.Name)
	start := d.lines[ent.Line-1]
	region := d.b[start:end]
	if rec := lookup(it.res.Pointer); rec != nil {
		var ps []patch
		for _, sp := range rec.Spans {
			if bytes.Count(region, []byte(sp.Wrapped)) != 1 {
				ps = nil
				break
			}
			at := start + bytes.Index(region, []byte(sp.Wrapped))
			orig := sp.Original
			if sp.Field == "args" && strings.HasSuffix(sp.Wrapped, "-") {
				orig += "-"
			} else if sp.Field == "args" && strings.HasPrefix(sp.Wrapped, "[") {
				orig = "[" + orig
			}
			ps = append(ps, patch{at, at + len(sp.Wrapped), orig})
		}
		if ps != nil {
			after, err := apply(d.b, ps)
			if err == nil && rec.URL != "" && rec.Command == "" && d.verifyURL(after, it, originalURL(rec)) {
				return edit{action: ActionUnwrapped, patches: ps}
			}
			if err == nil && d.verify(after, it, rec.Command, restoredArgs(rec, it)) {
				return edit{action: ActionUnwrapped, patches: ps}
			}
		}
	}
	// No usable manifest record: take the command line after "--".
	reason := "restored from the command line (no manifest record)"
	if lookup(it.res.Pointer) != nil {
		reason = "entry changed since wrap; restored from the command line"
	}
	_, cv := mapValue(ent, "command")
	_, av := mapValue(ent, "args")
	args, ok := yamlStrings(av)
	if cv == nil || cv.Kind != yaml.ScalarNode || !ok || !isShim(cv.Value, args) {
		return skip(ActionNotWrapped, "")
	}
	k := afterDashes(args)
	if k < 0 || k >= len(args) {
		return skip(ActionNotWrapped, "launches from the catalog or a URL; nothing to restore")
	}
	cs := d.offset(cv.Line, cv.Column)
	ce := scalarEnd(d.b, cs)
	cantRestore := skip(ActionSkippedUnsupported, "this args layout cannot be restored without its manifest record")
	if ce < 0 {
		return cantRestore
	}
	ps := []patch{{cs, ce, quote(args[k])}}
	back, err := restoreArgs(it, args, k)
	if err != nil {
		return skip(ActionFailed, "restore a moved secret: "+err.Error())
	}
	want := append([]string(nil), args[k+1:]...)
	for i, v := range back {
		want[i-k-1] = v
	}
	if av.Style&yaml.FlowStyle != 0 {
		as := d.offset(av.Line, av.Column)
		if as >= len(d.b) || d.b[as] != '[' || flowEnd(d.b, as) < 0 {
			return cantRestore
		}
		rest := quoteAll(want)
		ps = append(ps, patch{as, flowEnd(d.b, as), "[" + strings.Join(rest, ", ") + "]"})
	} else {
		// Block sequence: drop the items up to the original command.
		if k+1 >= len(av.Content) || len(back) > 0 {
			return cantRestore
		}
		dash := func(n *yaml.Node) int { return bytes.LastIndexByte(d.b[:d.offset(n.Line, n.Column)], '-') }
		from, to := dash(av.Content[0]), dash(av.Content[k+1])
		if from < 0 || to <= from {
			return cantRestore
		}
		ps = append(ps, patch{from, to, ""})
	}
	after, err := apply(d.b, ps)
	if err != nil || !d.verify(after, it, args[k], want) {
		return skip(ActionSkippedUnsupported, "entry layout not supported yet")
	}
	return edit{action: ActionUnwrapped, reason: reason, patches: ps}
}

// restoredArgs are the arguments an entry gets back on unwrap: the
// recorded ones, with each value --move-secrets took from them (the
// --secret-arg flags the wrapped entry's shim carries) read back.
func restoredArgs(rec *Record, it *item) []string {
	var wrapped []string
	for _, sp := range rec.Spans {
		if len(sp.Refs) > 0 && (sp.Field == "args-flow" || sp.Field == "args") {
			wrapped = nil
			var n yaml.Node
			if yaml.Unmarshal([]byte(sp.Wrapped), &n) == nil && len(n.Content) == 1 {
				wrapped, _ = yamlStrings(n.Content[0])
			}
		}
	}
	k := afterDashes(wrapped)
	if k < 0 || k >= len(wrapped) {
		return rec.Args
	}
	back, err := restoreArgs(it, wrapped, k)
	if err != nil {
		return rec.Args
	}
	out := append([]string(nil), rec.Args...)
	for i, v := range back {
		if i-k-1 < len(out) {
			out[i-k-1] = v
		}
	}
	return out
}
