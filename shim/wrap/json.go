package wrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/mcpgov/mcpgov/scan"
)

// jdoc is a JSON or JSONC config. Offsets from hujson are relative to the
// text after a UTF-8 byte order mark; bom shifts them back to the file.
type jdoc struct {
	file   string
	b      []byte
	bom    int
	root   hujson.Value
	strict bool // plain JSON: must stay plain JSON
	nl     string

	claimed map[string]bool // entries already located in this pass
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func openJSON(file string, b []byte) (*jdoc, error) {
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return nil, errUnsupported // UTF-16: rewriting it is not supported yet
	}
	d := &jdoc{file: file, b: b, nl: newline(b), claimed: map[string]bool{}}
	if bytes.HasPrefix(b, utf8BOM) {
		d.bom = len(utf8BOM)
	}
	text := b[d.bom:]
	v, err := hujson.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %s; refusing to edit a file that does not parse", file, strings.TrimPrefix(err.Error(), "hujson: "))
	}
	d.root = v
	d.strict = json.Valid(text)
	return d, nil
}

func (d *jdoc) format() string { return "json" }

func (d *jdoc) check(after []byte) error {
	text := bytes.TrimPrefix(after, utf8BOM)
	if d.strict {
		if !json.Valid(text) {
			return fmt.Errorf("not valid JSON")
		}
		return nil
	}
	_, err := hujson.Parse(text)
	return err
}

// raw returns the file bytes of v (its value, without surrounding extra).
func (d *jdoc) raw(v *hujson.Value) string { return string(d.b[d.start(v):d.end(v)]) }
func (d *jdoc) start(v *hujson.Value) int  { return v.StartOffset + d.bom }
func (d *jdoc) end(v *hujson.Value) int    { return v.EndOffset + d.bom }

func memberKey(m *hujson.ObjectMember) (string, bool) {
	lit, ok := m.Name.Value.(hujson.Literal)
	if !ok {
		return "", false
	}
	return lit.String(), true
}

// member returns the last member named key (the one clients use).
func member(obj *hujson.Object, key string) *hujson.ObjectMember {
	for i := len(obj.Members) - 1; i >= 0; i-- {
		if k, ok := memberKey(&obj.Members[i]); ok && k == key {
			return &obj.Members[i]
		}
	}
	return nil
}

// locate finds the entry object of it: by its key path on retries, else by
// name and the line scan reported. When strict (wrap), an entry that
// cannot be told apart from another (see ambiguous) is refused with the
// reason. Unwrap may restore such an entry, found by its line: putting a
// wrapped copy back as it was is right whichever copy the client runs.
func (d *jdoc) locate(it *item, strict bool) (*hujson.Object, string) {
	if it.pointer != nil {
		if why := d.ambiguous(it.pointer); why != "" {
			if !strict {
				why = "" // became ambiguous since the first attempt: not found
			}
			return nil, why
		}
		v := &d.root
		for _, k := range it.pointer {
			obj, ok := v.Value.(*hujson.Object)
			if !ok {
				return nil, ""
			}
			m := member(obj, k)
			if m == nil {
				return nil, ""
			}
			v = &m.Value
		}
		obj, _ := v.Value.(*hujson.Object)
		return obj, ""
	}
	type cand struct {
		obj  *hujson.Object
		path []string
		why  string
	}
	var cands []cand
	var walk func(v *hujson.Value, path []string)
	walk = func(v *hujson.Value, path []string) {
		switch t := v.Value.(type) {
		case *hujson.Object:
			for i := range t.Members {
				m := &t.Members[i]
				k, _ := memberKey(m)
				p := append(path[:len(path):len(path)], k)
				if obj, ok := m.Value.Value.(*hujson.Object); ok && k == it.srv.Name && lineOf(d.b, d.start(&m.Name)) == it.srv.Line {
					cands = append(cands, cand{obj, p, d.ambiguous(p)})
					continue
				}
				walk(&m.Value, p)
			}
		case *hujson.Array:
			for i := range t.Elements {
				walk(&t.Elements[i], append(path[:len(path):len(path)], fmt.Sprint(i)))
			}
		}
	}
	walk(&d.root, nil)
	// On one line (minified files) a name can match more than once: prefer
	// the entry of the server's project (Claude Code projects[…]), and never
	// hand out one entry twice. Duplicates share a key path, so the second
	// of them is refused for the same reason as the first, not skipped.
	best := -1
	for i, c := range cands {
		if d.claimed[pointer(c.path)] && c.why == "" {
			continue
		}
		inProject := it.srv.Project != "" && len(c.path) > 1 && c.path[0] == "projects" && c.path[1] == it.srv.Project
		underProjects := len(c.path) > 0 && c.path[0] == "projects"
		if best < 0 || inProject || (it.srv.Project == "" && !underProjects) {
			best = i
			if inProject || (it.srv.Project == "" && !underProjects) {
				break
			}
		}
	}
	if best < 0 {
		return nil, ""
	}
	if why := cands[best].why; why != "" {
		if strict {
			return nil, why
		}
		// The key path names the copies alike: it serves to find a
		// manifest record (whose spans must still match this copy), not
		// to find the entry again on a retry.
		it.res.Pointer = pointer(cands[best].path)
		return cands[best].obj, ""
	}
	it.pointer = cands[best].path
	it.res.Pointer = pointer(it.pointer)
	d.claimed[it.res.Pointer] = true
	return cands[best].obj, ""
}

// ambiguous says why the entry at path cannot be told apart from another
// ("" when it can): a key on the way to it, its own name among them, or
// one of its members is written twice. JSON clients (JSON.parse) keep the
// last of duplicate members and ignore the others, while scan lists every
// entry; patching one copy and not the other would govern a different
// entry than the client runs, or leave an ungoverned one a later edit
// brings back, and the key path that the manifest and unwrap go by would
// name two entries. So such an entry is refused, not guessed at.
func (d *jdoc) ambiguous(path []string) string {
	v := &d.root
	for depth, k := range path {
		switch t := v.Value.(type) {
		case *hujson.Object:
			var lines []int
			var last *hujson.ObjectMember
			for i := range t.Members {
				if mk, ok := memberKey(&t.Members[i]); ok && mk == k {
					lines = append(lines, lineOf(d.b, d.start(&t.Members[i].Name)))
					last = &t.Members[i]
				}
			}
			if len(lines) > 1 {
				what := fmt.Sprintf("key %s", quote(k))
				if depth == len(path)-1 {
					what = fmt.Sprintf("server name %s", quote(k))
				}
				return fmt.Sprintf("duplicate %s (%s): clients use only the last one; remove or rename the others", what, joinLines(lines))
			}
			if last == nil {
				return ""
			}
			v = &last.Value
		case *hujson.Array:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(t.Elements) {
				return ""
			}
			v = &t.Elements[i]
		default:
			return ""
		}
	}
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		return ""
	}
	first := map[string]int{}
	for i := range obj.Members {
		k, ok := memberKey(&obj.Members[i])
		if !ok {
			continue
		}
		line := lineOf(d.b, d.start(&obj.Members[i].Name))
		if prev, seen := first[k]; seen {
			return fmt.Sprintf("the entry has %s twice (%s): clients use only the last one; remove the other", quote(k), joinLines([]int{prev, line}))
		}
		first[k] = line
	}
	return ""
}

// joinLines is "line 3" or "lines 3 and 5" or "lines 3, 5 and 9".
func joinLines(lines []int) string {
	var s []string
	for i, l := range lines {
		if i == 0 || l != lines[i-1] {
			s = append(s, strconv.Itoa(l))
		}
	}
	if len(s) == 1 {
		return "line " + s[0]
	}
	return "lines " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// pointer formats a key path as an RFC 6901 JSON pointer.
func pointer(path []string) string {
	var sb strings.Builder
	for _, k := range path {
		sb.WriteByte('/')
		sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(k))
	}
	return sb.String()
}

// quote is a JSON string literal without HTML escaping.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// quoteAll is quote of each of ss.
func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

func stringLit(v *hujson.Value) (string, bool) {
	lit, ok := v.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		return "", false
	}
	return lit.String(), true
}

// strings decodes an array of string literals.
func stringsOf(v *hujson.Value) ([]string, *hujson.Array, bool) {
	arr, ok := v.Value.(*hujson.Array)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(arr.Elements))
	for i := range arr.Elements {
		s, ok := stringLit(&arr.Elements[i])
		if !ok {
			return nil, nil, false
		}
		out = append(out, s)
	}
	return out, arr, true
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// inlineSep separates array elements on one line, in the entry's style.
func (d *jdoc) inlineSep(m *hujson.ObjectMember) string {
	if d.end(&m.Name) < d.start(&m.Value) && d.b[d.start(&m.Value)-1] == ':' {
		return "," // "command":"x" — minified
	}
	return ", "
}

// elemSep separates elements of arr the way its own elements are.
func (d *jdoc) elemSep(arr *hujson.Array, m *hujson.ObjectMember) string {
	if len(arr.Elements) >= 2 && isBlank(arr.Elements[1].BeforeExtra) {
		return "," + string(arr.Elements[1].BeforeExtra)
	}
	if len(arr.Elements) >= 1 {
		if ind, own := indentAt(d.b, d.start(&arr.Elements[0])); own {
			return "," + d.nl + ind
		}
	}
	return d.inlineSep(m)
}

// insertFront puts lits before the first element of the array value v and
// returns the patch and the array's new text.
func (d *jdoc) insertFront(v *hujson.Value, arr *hujson.Array, m *hujson.ObjectMember, lits []string) (patch, string) {
	if len(arr.Elements) == 0 {
		repl := "[" + strings.Join(lits, d.inlineSep(m)) + "]"
		return patch{d.start(v), d.end(v), repl}, repl
	}
	sep := d.elemSep(arr, m)
	at := d.start(&arr.Elements[0])
	ins := strings.Join(lits, sep) + sep
	text := string(d.b[d.start(v):at]) + ins + string(d.b[at:d.end(v)])
	return patch{at, at, ins}, text
}

func (d *jdoc) wrapEntry(it *item, o Options) edit {
	obj, why := d.locate(it, true)
	if why != "" {
		return skip(ActionFailed, why)
	}
	if obj == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	if d.gatewayHTTPDone(obj, o) {
		return skip(ActionAlreadyGoverned, "")
	}
	if e, done := precheck(it, o); done {
		if e.action == actionRemote {
			return d.wrapRemote(it, o, obj)
		}
		return e
	}
	if url := o.gatewayFor(it.srv); url != "" {
		if e, ok := d.wrapGatewayHTTP(it, o, obj, url); ok {
			return e
		}
		return d.wrapGateway(it, o, obj, url)
	}
	cmd := member(obj, "command")
	if cmd == nil {
		return skip(ActionSkippedUnsupported, "entry has no command")
	}
	if it.srv.Client == scan.ClientOpencode {
		return d.wrapArgv(it, o, obj, cmd)
	}
	command, ok := stringLit(&cmd.Value)
	if !ok {
		return skip(ActionSkippedUnsupported, "command is not a string")
	}
	var (
		args    []string
		arr     *hujson.Array
		argsMem = member(obj, "args")
	)
	if argsMem != nil {
		if args, arr, ok = stringsOf(&argsMem.Value); !ok {
			return skip(ActionSkippedUnsupported, "args is not an array of strings")
		}
	}
	if isShimFor(command, args, o.MCPGovPath) {
		return skip(ActionAlreadyGoverned, "")
	}
	moves, err := d.moveSecrets(it, o, obj)
	if err != nil {
		return skip(ActionFailed, "move secrets: "+err.Error())
	}
	argMoves, notMoved, err := moveArgSecrets(it, o, args, func(i int) (string, int) {
		return d.raw(&arr.Elements[i]), d.start(&arr.Elements[i])
	})
	if err != nil {
		return skip(ActionFailed, "move secrets: "+err.Error())
	}
	newCmd := quote(o.MCPGovPath)
	lits := make([]string, 0, 4)
	prefix := withSecretFlags(shimPrefix(it.srv, o), moves)
	prefix = append(append(prefix[:len(prefix)-1:len(prefix)-1], argFlags(argMoves)...), "--")
	for _, a := range prefix {
		lits = append(lits, quote(a))
	}
	lits = append(lits, d.raw(&cmd.Value)) // the original literal, escapes and placeholders as written
	e := edit{action: ActionWrapped, command: command}
	if args == nil {
		args = []string{}
	}
	e.args = clearedArgs(args, argMoves)
	if argsMem != nil {
		p, text := d.insertFront(&argsMem.Value, arr, argsMem, lits)
		e.patches = append(e.patches, patch{d.start(&cmd.Value), d.end(&cmd.Value), newCmd}, p)
		e.spans = []Span{
			{Field: "command", Original: d.raw(&cmd.Value), Wrapped: newCmd},
			{Field: "args", Original: d.raw(&argsMem.Value), Wrapped: text},
		}
		if len(argMoves) > 0 {
			// The array is rewritten whole: the prefix inserted and each
			// moved value cut from its argument.
			s, end := d.start(&argsMem.Value), d.end(&argsMem.Value)
			clear := func(argMove) string { return "" }
			text = cutMoves([]byte(text), 0, len(text), shiftMoves(argMoves, p.start, len(p.repl)-(p.end-p.start), s), clear)
			e.patches[1] = patch{s, end, text}
			e.spans[1] = Span{Field: "args", Original: cutMoves(d.b, s, end, argMoves, func(argMove) string { return secretMark }),
				Wrapped: text, Refs: argRefs(argMoves)}
			e.redact = append(e.redact, maskMoves(argMoves)...)
			e.reason = movedReason(e.reason, argMoves)
		}
		return addMoves(notMovedReason(e, notMoved, whyEscapes), moves)
	}
	ins := d.argsAfter(cmd, lits)
	e.patches = []patch{{d.start(&cmd.Value), d.end(&cmd.Value), newCmd + ins}}
	e.spans = []Span{{Field: "command+args", Original: d.raw(&cmd.Value), Wrapped: newCmd + ins}}
	return addMoves(e, moves)
}

// argsAfter is the text that adds an args member holding lits right after
// the command member cmd (an entry without args), in the entry's layout:
// its colon spacing, and a line of its own at cmd's indent or inline.
func (d *jdoc) argsAfter(cmd *hujson.ObjectMember, lits []string) string {
	colon := string(d.b[d.end(&cmd.Name):d.start(&cmd.Value)])
	if strings.Count(colon, ":") != 1 || !isBlank([]byte(strings.Replace(colon, ":", "", 1))) {
		colon = ": "
	}
	lead := ""
	if ind, own := indentAt(d.b, d.start(&cmd.Name)); own {
		lead = d.nl + ind
	} else if d.inlineSep(cmd) == ", " {
		lead = " "
	}
	return "," + lead + `"args"` + colon + "[" + strings.Join(lits, d.inlineSep(cmd)) + "]"
}

// wrapArgv wraps opencode's command array, which holds the whole argv.
func (d *jdoc) wrapArgv(it *item, o Options, obj *hujson.Object, cmd *hujson.ObjectMember) edit {
	argv, arr, ok := stringsOf(&cmd.Value)
	if !ok || len(argv) == 0 {
		return skip(ActionSkippedUnsupported, "command is not a non-empty array of strings")
	}
	if isShimFor(argv[0], argv[1:], o.MCPGovPath) {
		return skip(ActionAlreadyGoverned, "")
	}
	moves, err := d.moveSecrets(it, o, obj)
	if err != nil {
		return skip(ActionFailed, "move secrets: "+err.Error())
	}
	argMoves, notMoved, err := moveArgSecrets(it, o, argv[1:], func(i int) (string, int) {
		return d.raw(&arr.Elements[i+1]), d.start(&arr.Elements[i+1])
	})
	if err != nil {
		return skip(ActionFailed, "move secrets: "+err.Error())
	}
	prefix := withSecretFlags(shimPrefix(it.srv, o), moves)
	prefix = append(append(prefix[:len(prefix)-1:len(prefix)-1], argFlags(argMoves)...), "--")
	lits := append([]string{quote(o.MCPGovPath)}, quoteAll(prefix)...)
	p, text := d.insertFront(&cmd.Value, arr, cmd, lits)
	e := edit{
		action: ActionWrapped, command: argv[0], args: clearedArgs(argv[1:], argMoves), patches: []patch{p},
		spans: []Span{{Field: "command", Original: d.raw(&cmd.Value), Wrapped: text}},
	}
	if len(argMoves) > 0 {
		s, end := d.start(&cmd.Value), d.end(&cmd.Value)
		text = cutMoves([]byte(text), 0, len(text), shiftMoves(argMoves, p.start, len(p.repl)-(p.end-p.start), s), func(argMove) string { return "" })
		e.patches[0] = patch{s, end, text}
		e.spans[0] = Span{Field: "command", Original: cutMoves(d.b, s, end, argMoves, func(argMove) string { return secretMark }),
			Wrapped: text, Refs: argRefs(argMoves)}
		e.redact = append(e.redact, maskMoves(argMoves)...)
		e.reason = movedReason(e.reason, argMoves)
	}
	return addMoves(notMovedReason(e, notMoved, whyEscapes), moves)
}

// span returns the current file range of a manifest span's field.
func (d *jdoc) span(obj *hujson.Object, field string) (int, int, bool) {
	if strings.HasPrefix(field, "env.") || strings.HasPrefix(field, "headers.") {
		return d.envSpan(obj, field)
	}
	cmd, args := member(obj, "command"), member(obj, "args")
	switch field {
	case "command":
		if cmd != nil {
			return d.start(&cmd.Value), d.end(&cmd.Value), true
		}
	case "args":
		if args != nil {
			return d.start(&args.Value), d.end(&args.Value), true
		}
	case "remote":
		if cmd != nil && args != nil && d.start(&args.Value) > d.end(&cmd.Value) {
			return d.start(&cmd.Name), d.end(&args.Value), true
		}
		if cmd != nil && args == nil { // opencode: the command array alone
			return d.start(&cmd.Name), d.end(&cmd.Value), true
		}
	case "url", "headersHelper": // a --gateway wrap's Streamable HTTP entry
		if m := member(obj, field); m != nil {
			return d.start(&m.Name), d.end(&m.Value), true
		}
	case "type":
		if t := member(obj, "type"); t != nil {
			return d.start(&t.Value), d.end(&t.Value), true
		}
	case "command+args":
		if cmd != nil && args != nil && d.start(&args.Value) > d.end(&cmd.Value) {
			return d.start(&cmd.Value), d.end(&args.Value), true
		}
	}
	return 0, 0, false
}

func (d *jdoc) unwrapEntry(it *item, lookup func(string) *Record) edit {
	e := d.unwrapCommand(it, lookup)
	if e.action == ActionUnwrapped {
		e.patches = append(e.patches, d.restoreMoved(it, lookup, e.patches)...)
	}
	return e
}

func (d *jdoc) unwrapCommand(it *item, lookup func(string) *Record) edit {
	obj, _ := d.locate(it, false)
	if obj == nil {
		return skip(ActionFailed, "entry not found in the file (it changed since the scan)")
	}
	fallback := "restored from the command line (no manifest record)"
	if rec := lookup(it.res.Pointer); rec != nil {
		fallback = "entry changed since wrap; restored from the command line"
		var ps []patch
		for _, sp := range rec.Spans {
			s, e, ok := d.span(obj, sp.Field)
			if !ok || string(d.b[s:e]) != sp.Wrapped {
				ps = nil
				break
			}
			ps = append(ps, patch{s, e, sp.Original})
		}
		if ps != nil {
			return edit{action: ActionUnwrapped, patches: ps}
		}
	}
	// No usable manifest record: take the command line after "--".
	cmd := member(obj, "command")
	if cmd == nil {
		if rec := lookup(it.res.Pointer); rec != nil {
			if e, ok := d.restoreHTTPRecord(obj, rec); ok {
				return e
			}
		}
		if member(obj, "url") != nil {
			return skip(ActionNotWrapped, "") // a remote entry wrap did not touch
		}
		return skip(ActionNotWrapped, "entry has no command")
	}
	if it.srv.Client == scan.ClientOpencode {
		argv, arr, ok := stringsOf(&cmd.Value)
		if !ok || len(argv) == 0 || !isShim(argv[0], argv[1:]) {
			return skip(ActionNotWrapped, "")
		}
		k := afterDashes(argv)
		if k < 0 || k >= len(argv) {
			return skip(ActionNotWrapped, "launches from the catalog or a URL; nothing to restore")
		}
		back, err := restoreArgs(it, argv, k)
		if err != nil {
			return skip(ActionFailed, "restore a moved secret: "+err.Error())
		}
		ps := []patch{{d.start(&arr.Elements[0]), d.start(&arr.Elements[k]), ""}}
		for i, v := range back {
			ps = append(ps, patch{d.start(&arr.Elements[i]), d.end(&arr.Elements[i]), quote(v)})
		}
		return edit{action: ActionUnwrapped, reason: fallback, patches: ps}
	}
	command, ok := stringLit(&cmd.Value)
	argsMem := member(obj, "args")
	if !ok || argsMem == nil {
		return skip(ActionNotWrapped, "")
	}
	args, arr, ok := stringsOf(&argsMem.Value)
	if !ok || !isShim(command, args) {
		return skip(ActionNotWrapped, "")
	}
	k := afterDashes(args)
	if k < 0 || k >= len(args) {
		if rec := lookup(it.res.Pointer); rec != nil && rec.URL == "" && rec.Command != "" {
			return d.restoreRecord(cmd, argsMem, rec) // a --gateway wrap: the command line is in the manifest
		}
		if rec := lookup(it.res.Pointer); rec != nil && rec.URL != "" {
			if e, ok := d.restoreRemoteRecord(obj, cmd, argsMem, rec); ok {
				return e // a --remote wrap: the url member is in the manifest
			}
		}
		return skip(ActionNotWrapped, "launches from the catalog or a URL; nothing to restore")
	}
	ps := []patch{{d.start(&cmd.Value), d.end(&cmd.Value), d.raw(&arr.Elements[k])}}
	back, err := restoreArgs(it, args, k)
	if err != nil {
		return skip(ActionFailed, "restore a moved secret: "+err.Error())
	}
	for i, v := range back {
		ps = append(ps, patch{d.start(&arr.Elements[i]), d.end(&arr.Elements[i]), quote(v)})
	}
	if k+1 < len(args) {
		ps = append(ps, patch{d.start(&arr.Elements[0]), d.start(&arr.Elements[k+1]), ""})
	} else {
		ps = append(ps, patch{d.start(&argsMem.Value), d.end(&argsMem.Value), "[]"})
	}
	return edit{action: ActionUnwrapped, reason: fallback, patches: ps}
}

// restoreRemoteRecord puts back the url member a --remote wrap replaced,
// from the manifest (its moved secrets read back), when the client
// rewrote the file since (the spans no longer match): the command and
// args members, next to each other in either order, become the url
// member again, and a type member what it was. ok is false when they are
// not next to each other (the url member is then not put back by
// guesswork).
func (d *jdoc) restoreRemoteRecord(obj *hujson.Object, cmd, argsMem *hujson.ObjectMember, rec *Record) (edit, bool) {
	var remote, typ *Span
	for i := range rec.Spans {
		switch rec.Spans[i].Field {
		case "remote":
			remote = &rec.Spans[i]
		case "type":
			typ = &rec.Spans[i]
		}
	}
	first, second := cmd, argsMem
	if d.start(&argsMem.Name) < d.start(&cmd.Name) {
		first, second = argsMem, cmd
	}
	if remote == nil {
		return edit{}, false
	}
	between := bytes.Replace(d.b[d.end(&first.Value):d.start(&second.Name)], []byte(","), nil, 1)
	if !isBlank(between) {
		return edit{}, false
	}
	e := edit{action: ActionUnwrapped, reason: "entry changed since wrap; restored from the manifest's URL",
		patches: []patch{{d.start(&first.Name), d.end(&second.Value), remote.Original}}}
	if t := member(obj, "type"); t != nil && typ != nil {
		e.patches = append(e.patches, patch{d.start(&t.Value), d.end(&t.Value), typ.Original})
	}
	return e, true
}

// urlKeys are the members clients spell a remote server's URL with.
var urlKeys = []string{"url", "httpUrl", "serverUrl"}

// wrapRemote turns a Streamable HTTP entry into a stdio entry that runs
// `mcpgov shim --url URL`: the url member is replaced in place by command
// and args (opencode: a command array), and a type member says stdio.
func (d *jdoc) wrapRemote(it *item, o Options, obj *hujson.Object) edit {
	var um *hujson.ObjectMember
	for _, k := range urlKeys {
		if m := member(obj, k); m != nil {
			um = m
			break
		}
	}
	if um == nil {
		return skip(ActionSkippedRemote, "no url member")
	}
	url, ok := stringLit(&um.Value)
	if !ok {
		return skip(ActionSkippedRemote, "url is not a string")
	}
	if member(obj, "command") != nil || member(obj, "args") != nil {
		return skip(ActionSkippedRemote, "entry has both url and command")
	}
	if len(it.srv.Headers) > 0 && member(obj, "headers") == nil {
		return skip(ActionSkippedRemote, "its headers are not in a headers member, which is all wrap passes on")
	}
	colon := string(d.b[d.end(&um.Name):d.start(&um.Value)])
	var lits []string
	if it.srv.Client == scan.ClientOpencode {
		lits = append(lits, quote(o.MCPGovPath))
	}
	lits = append(lits, quote("shim"))
	for _, a := range shimFlags(it.srv, o) {
		lits = append(lits, quote(a))
	}
	urlLit := d.raw(&um.Value)
	orig := string(d.b[d.start(&um.Name):d.end(&um.Value)])
	var (
		moves []moved
		cut   urlCut
	)
	if gw := o.gatewayFor(it.srv); gw != "" {
		urlLit = quote(gw) // the original URL is kept in the manifest
	} else if o.MoveSecret != nil {
		flags, ms, err := d.moveHeaders(it, o, obj)
		if err != nil {
			return skip(ActionFailed, "move secrets: "+err.Error())
		}
		moves = ms
		target := url
		if urlLit == `"`+url+`"` && !strings.ContainsAny(url, "\"\\") {
			// The URL is written verbatim: cut each secret part out of
			// the text --url gets, and mark it in the manifest's copy.
			var err error
			if cut, err = cutURLSecrets(it, o, url, d.start(&um.Value)+1); err != nil {
				return skip(ActionFailed, "move secrets: "+err.Error())
			}
			if len(cut.refs) > 0 {
				flags = append(flags, cut.flags...)
				urlLit, target = quote(cut.cleared), cut.cleared
				orig = orig[:len(orig)-len(d.raw(&um.Value))] + `"` + cut.marked + `"`
			}
		}
		if flags, err = withOrigin(flags, target); err != nil {
			return skip(ActionSkippedRemote, "move secrets: "+err.Error())
		}
		lits = append(lits, quoteAll(flags)...)
	}
	lits = append(lits, quote("--url"), urlLit)
	arr := "[" + strings.Join(lits, d.inlineSep(um)) + "]"
	var repl string
	if it.srv.Client == scan.ClientOpencode {
		repl = `"command"` + colon + arr
	} else {
		sep := "," + " "
		if ind, own := indentAt(d.b, d.start(&um.Name)); own {
			sep = "," + d.nl + ind
		} else if d.inlineSep(um) == "," {
			sep = ","
		}
		repl = `"command"` + colon + quote(o.MCPGovPath) + sep + `"args"` + colon + arr
	}
	e := edit{action: ActionWrapped, reason: "remote entry now runs mcpgov shim --url",
		patches: []patch{{d.start(&um.Name), d.end(&um.Value), repl}},
		spans:   []Span{{Field: "remote", Original: orig, Wrapped: repl, Refs: cut.refs}},
		args:    []string{}, url: url, redact: cut.redact}
	if len(cut.refs) > 0 {
		e.url = cut.cleared // the manifest's URL must hold no secret either
		e.reason += cut.reason()
	}
	if t := member(obj, "type"); t != nil {
		want := quote("stdio")
		if it.srv.Client == scan.ClientOpencode {
			want = quote("local")
		}
		e.patches = append(e.patches, patch{d.start(&t.Value), d.end(&t.Value), want})
		e.spans = append(e.spans, Span{Field: "type", Original: d.raw(&t.Value), Wrapped: want})
	}
	return addMoves(e, moves)
}
