package wrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/mcpgov/mcpgov/scan"
)

// field is one member of a JSON (or YAML, TOML) object install writes, in
// order. val is a string, []string, bool or []field.
type field struct {
	key string
	val any
}

// containerPath is where a JSON layout keeps its servers.
func containerPath(e InstallEntry) []string {
	switch e.Layout {
	case scan.LayoutClaudeLocal:
		return []string{"projects", e.Project, "mcpServers"}
	case scan.LayoutVSCode:
		return []string{"servers"}
	case scan.LayoutZed:
		return []string{"context_servers"}
	case scan.LayoutOpencode:
		return []string{"mcp"}
	}
	return []string{"mcpServers"}
}

// jsonEntry is the entry object each client expects.
func jsonEntry(e InstallEntry, cmd string, args []string) []field {
	var env []field
	for _, v := range e.Env {
		env = append(env, field{v.Name, v.Value})
	}
	var f []field
	switch e.Client {
	case scan.ClientOpencode:
		f = append(f, field{"type", "local"}, field{"command", append([]string{cmd}, args...)})
		if len(env) > 0 {
			f = append(f, field{"environment", env})
		}
		return append(f, field{"enabled", true})
	case scan.ClientClaudeCode, scan.ClientVSCode:
		f = append(f, field{"type", "stdio"})
	case scan.ClientCopilotCLI:
		f = append(f, field{"type", "local"})
	}
	f = append(f, field{"command", cmd}, field{"args", args})
	if len(env) > 0 {
		f = append(f, field{"env", env})
	}
	if e.Client == scan.ClientCopilotCLI {
		f = append(f, field{"tools", []string{"*"}})
	}
	return f
}

// style is how a JSON file spells its punctuation and indentation.
type style struct {
	unit, colon, sep, nl string
}

func (d *jdoc) style() style {
	st := style{unit: "  ", colon: ": ", sep: ", ", nl: d.nl}
	if !bytes.Contains(d.b, []byte(`": `)) && bytes.Contains(d.b, []byte(`":`)) {
		st.colon, st.sep = ":", ","
	}
	if obj, ok := d.root.Value.(*hujson.Object); ok && len(obj.Members) > 0 {
		if ind, own := indentAt(d.b, d.start(&obj.Members[0].Name)); own && ind != "" {
			st.unit = strings.TrimPrefix(ind, lineIndent(d.b, d.start(&d.root)))
			if st.unit == "" {
				st.unit = "  "
			}
		}
	}
	return st
}

// render writes v at indentation ind, on several lines when multi.
func (st style) render(v any, ind string, multi bool) string {
	switch t := v.(type) {
	case string:
		return quote(t)
	case bool:
		return fmt.Sprint(t)
	case []string:
		lits := make([]string, len(t))
		for i, s := range t {
			lits[i] = quote(s)
		}
		return "[" + strings.Join(lits, st.sep) + "]"
	case [][]field:
		var b strings.Builder
		b.WriteString("[")
		for i, item := range t {
			if i > 0 {
				b.WriteString(",")
				if !multi {
					b.WriteString(strings.TrimPrefix(st.sep, ","))
				}
			}
			if multi {
				b.WriteString(st.nl + ind + st.unit)
			}
			b.WriteString(st.render(item, ind+st.unit, multi))
		}
		if multi && len(t) > 0 {
			b.WriteString(st.nl + ind)
		}
		b.WriteString("]")
		return b.String()
	case []field:
		if len(t) == 0 {
			return "{}"
		}
		var b strings.Builder
		b.WriteString("{")
		for i, f := range t {
			if i > 0 {
				b.WriteString(",")
				if !multi {
					b.WriteString(strings.TrimPrefix(st.sep, ","))
				}
			}
			if multi {
				b.WriteString(st.nl + ind + st.unit)
			}
			b.WriteString(quote(f.key) + st.colon + st.render(f.val, ind+st.unit, multi))
		}
		if multi {
			b.WriteString(st.nl + ind)
		}
		b.WriteString("}")
		return b.String()
	}
	panic(fmt.Sprintf("render %T", v))
}

// lineIndent is the leading whitespace of the line holding off.
func lineIndent(b []byte, off int) string {
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	end := start
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		end++
	}
	return string(b[start:end])
}

// skipExtra skips whitespace and comments from i.
func skipExtra(b []byte, i int) int {
	for i < len(b) {
		switch {
		case b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n':
			i++
		case bytes.HasPrefix(b[i:], []byte("//")):
			if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				return len(b)
			}
		case bytes.HasPrefix(b[i:], []byte("/*")):
			if j := bytes.Index(b[i+2:], []byte("*/")); j >= 0 {
				i += j + 4
			} else {
				return len(b)
			}
		default:
			return i
		}
	}
	return i
}

// restOfLine is where the line holding i ends (before CR LF), and whether
// only blanks and a comment are left on it from i.
func restOfLine(b []byte, i int) (int, bool) {
	eol := len(b)
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		eol = i + j
	}
	if eol > i && b[eol-1] == '\r' {
		eol--
	}
	rest := strings.TrimLeft(string(b[i:eol]), " \t")
	switch {
	case rest == "" || strings.HasPrefix(rest, "//"):
		return eol, true
	case strings.HasPrefix(rest, "/*"):
		return eol, strings.Index(rest, "*/") == len(rest)-2
	}
	return eol, false
}

// insertMember adds key: val as the last member of the object v, in the
// object's layout: on its own line at its members' indentation, or inline
// (minified files too). A trailing comma, where the file has one, is kept
// after the new member; comments stay where they were.
func (d *jdoc) insertMember(v *hujson.Value, key string, val any) []patch {
	obj := v.Value.(*hujson.Object)
	st := d.style()
	open, close := d.start(v), d.end(v)-1
	if len(obj.Members) == 0 {
		inner := d.b[open+1 : close]
		if !bytes.Contains(d.b, []byte("\n")) {
			text := quote(key) + st.colon + st.render(val, "", false)
			if isBlank(inner) {
				if len(inner) > 0 {
					text = " " + text + " "
				}
				return []patch{{open + 1, close, text}}
			}
			return []patch{{open + 1, open + 1, text}}
		}
		objInd := lineIndent(d.b, open)
		mInd := objInd + st.unit
		member := quote(key) + st.colon + st.render(val, mInd, true)
		if bytes.Contains(inner, []byte("\n")) {
			return []patch{{open + 1, open + 1, st.nl + mInd + member}}
		}
		return []patch{{open + 1, close, st.nl + mInd + member + st.nl + objInd}}
	}
	last := &obj.Members[len(obj.Members)-1]
	lastEnd := d.end(&last.Value)
	next := skipExtra(d.b, lastEnd)
	trailing := next < len(d.b) && d.b[next] == ','
	_, multi := indentAt(d.b, d.start(&obj.Members[0].Name))
	if !multi {
		pos, pre, post := lastEnd, ",", ""
		if trailing {
			pos, pre, post = next+1, "", ","
		}
		sp := strings.TrimPrefix(st.sep, ",")
		return []patch{{pos, pos, pre + sp + quote(key) + st.colon + st.render(val, "", false) + post}}
	}
	mInd, own := indentAt(d.b, d.start(&last.Name))
	if !own {
		mInd, _ = indentAt(d.b, d.start(&obj.Members[0].Name))
	}
	var ps []patch
	pos, post := lastEnd, ""
	if trailing {
		pos, post = next+1, ","
	} else {
		ps = append(ps, patch{lastEnd, lastEnd, ","})
	}
	if eol, rest := restOfLine(d.b, pos); rest {
		pos = eol
	}
	return append(ps, patch{pos, pos, st.nl + mInd + quote(key) + st.colon + st.render(val, mInd, true) + post})
}

// nest wraps val in objects keyed by keys, outermost first.
func nest(keys []string, val []field) []field {
	for i := len(keys) - 1; i >= 0; i-- {
		val = []field{{keys[i], val}}
	}
	return val
}

func (d *jdoc) install(e InstallEntry, cmd string, args []string, force bool) (installEdit, error) {
	path := containerPath(e)
	entry := jsonEntry(e, cmd, args)
	ptr := pointer(append(append([]string{}, path...), e.Name))
	ed := installEdit{pointer: ptr, action: ActionInstalled}
	if why := d.ambiguous(append(append([]string{}, path...), e.Name)); why != "" {
		return ed, fmt.Errorf("%s: %s; refusing to edit", e.File, why)
	}
	v := &d.root
	for i, k := range path {
		obj, ok := v.Value.(*hujson.Object)
		if !ok {
			return ed, fmt.Errorf("%s: %s is not an object; refusing to edit", e.File, pointer(path[:i]))
		}
		m := member(obj, k)
		if m == nil {
			ed.patches = d.insertMember(v, k, nest(path[i+1:], []field{{e.Name, entry}}))
			ed.value = d.style().render(entry, "", false)
			return d.withInputs(e, ed, force)
		}
		v = &m.Value
	}
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		return ed, fmt.Errorf("%s: %s is not an object; refusing to edit", e.File, pointer(path))
	}
	st := d.style()
	if m := member(obj, e.Name); m != nil {
		ed.line = lineOf(d.b, d.start(&m.Name))
		if sameJSON(d.raw(&m.Value), st.render(entry, "", false)) {
			ed.action = ActionAlreadyInstalled
			return ed, nil
		}
		if !force {
			return ed, &ExistsError{File: e.File, Line: ed.line, Server: e.Name}
		}
		ind, own := indentAt(d.b, d.start(&m.Name))
		_, multi := indentAt(d.b, d.start(&m.Value))
		text := st.render(entry, ind, own || multi)
		ed.action, ed.value = ActionReplaced, st.render(entry, "", false)
		ed.patches = []patch{{d.start(&m.Value), d.end(&m.Value), text}}
		return d.withInputs(e, ed, force)
	}
	ed.patches = d.insertMember(v, e.Name, entry)
	ed.value = st.render(entry, "", false)
	return d.withInputs(e, ed, force)
}

// withInputs adds the VS Code inputs the entry references and the file
// does not declare yet. They are added to the text with the entry in it,
// and the two edits become one patch.
func (d *jdoc) withInputs(e InstallEntry, ed installEdit, force bool) (installEdit, error) {
	if len(e.Inputs) == 0 {
		return ed, nil
	}
	mid, err := apply(d.b, ed.patches)
	if err != nil {
		return ed, err
	}
	nd, err := openJSON(d.file, mid)
	if err != nil {
		return ed, fmt.Errorf("%s: the edited file would not parse (%v); nothing was written", e.File, err)
	}
	ps, err := nd.inputPatches(e)
	if err != nil || len(ps) == 0 {
		return ed, err
	}
	final, err := apply(mid, ps)
	if err != nil {
		return ed, err
	}
	ed.patches = []patch{diffPatch(d.b, final)}
	return ed, nil
}

// inputPatches declares e's inputs in the root "inputs" array.
func (d *jdoc) inputPatches(e InstallEntry) ([]patch, error) {
	root, ok := d.root.Value.(*hujson.Object)
	if !ok {
		return nil, nil
	}
	have := map[string]bool{}
	m := member(root, "inputs")
	if m != nil {
		arr, ok := m.Value.Value.(*hujson.Array)
		if !ok {
			return nil, fmt.Errorf("%s: inputs is not an array; refusing to edit", e.File)
		}
		for i := range arr.Elements {
			if o, ok := arr.Elements[i].Value.(*hujson.Object); ok {
				if id := member(o, "id"); id != nil {
					s, _ := stringLit(&id.Value)
					have[s] = true
				}
			}
		}
	}
	var decl [][]field
	for _, in := range e.Inputs {
		if !have[in.ID] {
			decl = append(decl, []field{{"type", "promptString"}, {"id", in.ID}, {"description", in.Description}, {"password", in.Password}})
		}
	}
	switch {
	case len(decl) == 0:
		return nil, nil
	case m == nil:
		return d.insertMember(&d.root, "inputs", decl), nil
	}
	return d.appendElements(&m.Value, decl), nil
}

// diffPatch is the one patch that turns a into b: what lies between their
// common prefix and suffix.
func diffPatch(a, b []byte) patch {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return patch{p, len(a) - s, string(b[p : len(b)-s])}
}

// appendElements adds items after the last element of the array v, in
// its layout (see insertMember).
func (d *jdoc) appendElements(v *hujson.Value, items [][]field) []patch {
	arr := v.Value.(*hujson.Array)
	st := d.style()
	open, close := d.start(v), d.end(v)-1
	render := func(ind string, multi bool, lead string) string {
		var b strings.Builder
		for i, it := range items {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(lead + st.render(it, ind, multi))
		}
		return b.String()
	}
	if len(arr.Elements) == 0 {
		objInd := lineIndent(d.b, open)
		ind := objInd + st.unit
		return []patch{{open + 1, close, render(ind, true, st.nl+ind) + st.nl + objInd}}
	}
	last := &arr.Elements[len(arr.Elements)-1]
	lastEnd := d.end(last)
	next := skipExtra(d.b, lastEnd)
	trailing := next < len(d.b) && d.b[next] == ','
	ind, own := indentAt(d.b, d.start(last))
	if !own {
		sp := strings.TrimPrefix(st.sep, ",")
		if trailing {
			return []patch{{next + 1, next + 1, render("", false, sp) + ","}}
		}
		return []patch{{lastEnd, lastEnd, "," + render("", false, sp)}}
	}
	var ps []patch
	pos, post := lastEnd, ""
	if trailing {
		pos, post = next+1, ","
	} else {
		ps = append(ps, patch{lastEnd, lastEnd, ","})
	}
	if eol, rest := restOfLine(d.b, pos); rest {
		pos = eol
	}
	return append(ps, patch{pos, pos, render(ind, true, st.nl+ind) + post})
}

// sameJSON reports whether two JSON(C) texts hold the same value.
func sameJSON(a, b string) bool {
	var va, vb any
	if decodeJSONC(a, &va) != nil || decodeJSONC(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeJSONC(s string, v any) error {
	std, err := hujson.Standardize([]byte(s))
	if err != nil {
		return err
	}
	return json.Unmarshal(std, v)
}

func (d *jdoc) entryLine(after []byte, e InstallEntry) int {
	nd, err := openJSON(d.file, after)
	if err != nil {
		return 0
	}
	v := &nd.root
	for _, k := range append(containerPath(e), e.Name) {
		obj, ok := v.Value.(*hujson.Object)
		if !ok {
			return 0
		}
		m := member(obj, k)
		if m == nil {
			return 0
		}
		if k == e.Name {
			return lineOf(nd.b, nd.start(&m.Name))
		}
		v = &m.Value
	}
	return 0
}

// removeJSONEntry removes the record's entry by its key path while its
// value is still the one installed.
func removeJSONEntry(r InstallRecord, b []byte) ([]byte, bool) {
	d, err := openJSON(r.File, b)
	if err != nil {
		return nil, false
	}
	keys := splitPointer(r.Pointer)
	if len(keys) == 0 || d.ambiguous(keys) != "" {
		return nil, false
	}
	v := &d.root
	var obj *hujson.Object
	idx := -1
	for _, k := range keys {
		o, ok := v.Value.(*hujson.Object)
		if !ok {
			return nil, false
		}
		obj, idx = o, -1
		for i := range o.Members {
			if mk, ok := memberKey(&o.Members[i]); ok && mk == k {
				idx = i
			}
		}
		if idx < 0 {
			return nil, false
		}
		v = &o.Members[idx].Value
	}
	if !sameJSON(d.raw(v), r.Value) {
		return nil, false
	}
	m := &obj.Members[idx]
	var p patch
	switch {
	case idx > 0:
		p = patch{d.end(&obj.Members[idx-1].Value), d.end(&m.Value), ""}
	case len(obj.Members) > 1:
		p = patch{d.start(&m.Name), d.start(&obj.Members[1].Name), ""}
	default:
		end := d.end(&m.Value)
		if next := skipExtra(d.b, end); next < len(d.b) && d.b[next] == ',' {
			end = next + 1
		}
		p = patch{d.start(&m.Name), end, ""}
	}
	after, err := apply(d.b, []patch{p})
	if err != nil || d.check(after) != nil {
		return nil, false
	}
	return after, true
}

// splitPointer reads an RFC 6901 JSON pointer.
func splitPointer(p string) []string {
	if p == "" || p[0] != '/' {
		return nil
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
	}
	return parts
}
