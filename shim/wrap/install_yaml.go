package wrap

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mcpgov/mcpgov/scan"
)

// yamlItem is a Continue mcpServers list item with its dash at ind.
func yamlItem(e InstallEntry, cmd string, args []string, ind, nl string) string {
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = quote(a)
	}
	in := ind + "  "
	var b strings.Builder
	b.WriteString(ind + "- name: " + quote(e.Name) + nl)
	b.WriteString(in + "command: " + quote(cmd) + nl)
	b.WriteString(in + "args: [" + strings.Join(lits, ", ") + "]" + nl)
	if len(e.Env) > 0 {
		b.WriteString(in + "env:" + nl)
		for _, v := range e.Env {
			b.WriteString(in + "  " + quote(v.Name) + ": " + quote(v.Value) + nl)
		}
	}
	return b.String()
}

// yamlEntryValue decodes a list item into comparable values.
func yamlEntryValue(n *yaml.Node) map[string]any {
	var v map[string]any
	if n == nil || n.Decode(&v) != nil {
		return nil
	}
	return v
}

// seqEnd is the offset where the block sequence seq ends: the start of the
// line after its last line of content (comments and blank lines that follow
// belong to what comes next).
func (d *ydoc) seqEnd(seq *yaml.Node) int {
	first, last := seq.Content[0], seq.Content[len(seq.Content)-1]
	ind := len(lineIndent(d.b, d.offset(first.Line, first.Column)))
	end := len(d.b)
	for l := last.Line - 1; l < len(d.lines); l++ {
		start, next := d.lines[l], len(d.b)
		if l+1 < len(d.lines) {
			next = d.lines[l+1]
		}
		if start >= len(d.b) {
			break
		}
		text := strings.TrimRight(string(d.b[start:next]), "\r\n")
		trim := strings.TrimLeft(text, " \t")
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		in := len(text) - len(trim)
		if l > last.Line-1 && (in < ind || in == ind && !strings.HasPrefix(trim, "-")) {
			break
		}
		end = next
	}
	return end
}

// scanServer is the item Wrap's YAML helpers look an entry up by.
func scanServer(name string) scan.Server { return scan.Server{Name: name} }

func (d *ydoc) install(e InstallEntry, cmd string, args []string, force bool) (installEdit, error) {
	ed := installEdit{pointer: "/mcpServers/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(e.Name), action: ActionInstalled}
	if len(d.root.Content) == 0 || d.root.Content[0].Kind != yaml.MappingNode {
		return ed, fmt.Errorf("%s: the document is not a mapping; refusing to edit", e.File)
	}
	top := d.root.Content[0]
	k, list := mapValue(top, "mcpServers")
	wantItem := yamlItem(e, cmd, args, "", "\n")
	var want []map[string]any
	_ = yaml.Unmarshal([]byte(wantItem), &want)
	if ent, _ := d.entry(e.Name, 0); ent != nil {
		ed.line = ent.Line
		if len(want) == 1 && reflect.DeepEqual(yamlEntryValue(ent), want[0]) {
			ed.action = ActionAlreadyInstalled
			return ed, nil
		}
		if !force {
			return ed, &ExistsError{File: e.File, Line: ed.line, Server: e.Name}
		}
		idx := -1
		for i, it := range list.Content {
			if it == ent {
				idx = i
			}
		}
		dash := bytes.LastIndexByte(d.b[:d.offset(ent.Line, ent.Column)], '-')
		ind, own := indentAt(d.b, dash)
		if dash < 0 || !own || list.Style&yaml.FlowStyle != 0 {
			return ed, fmt.Errorf("%s: server %q is not a block list item; replace it by hand", e.File, e.Name)
		}
		end := d.seqEnd(list)
		if idx+1 < len(list.Content) {
			next := list.Content[idx+1]
			end = d.lines[next.Line-1]
		}
		ed.action = ActionReplaced
		ed.patches = []patch{{d.lines[ent.Line-1], end, yamlItem(e, cmd, args, ind, d.nl)}}
		return ed, nil
	}
	switch {
	case list == nil:
		at, prefix := len(d.b), ""
		if at > 0 && !bytes.HasSuffix(d.b, []byte("\n")) {
			prefix = d.nl
		}
		ed.patches = []patch{{at, at, prefix + "mcpServers:" + d.nl + yamlItem(e, cmd, args, "  ", d.nl)}}
	case list.Kind == yaml.ScalarNode && list.Tag == "!!null":
		at := len(d.b)
		if k.Line < len(d.lines) {
			at = d.lines[k.Line]
		}
		prefix := ""
		if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
			prefix = d.nl
		}
		if list.Line == k.Line && list.Value != "" { // mcpServers: ~
			return ed, fmt.Errorf("%s: mcpServers is null (%s); make it a list to install into", e.File, list.Value)
		}
		ed.patches = []patch{{at, at, prefix + yamlItem(e, cmd, args, "  ", d.nl)}}
	case list.Kind == yaml.SequenceNode && list.Style&yaml.FlowStyle != 0 && len(list.Content) == 0:
		s := d.offset(list.Line, list.Column)
		end := flowEnd(d.b, s)
		if s >= len(d.b) || d.b[s] != '[' || end < 0 {
			return ed, fmt.Errorf("%s: mcpServers layout not supported; add the server by hand", e.File)
		}
		ed.patches = []patch{{s, end, ""}}
		at := len(d.b)
		if k.Line < len(d.lines) {
			at = d.lines[k.Line]
		}
		prefix := ""
		if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
			prefix = d.nl
		}
		ed.patches = append(ed.patches, patch{at, at, prefix + yamlItem(e, cmd, args, "  ", d.nl)})
	case list.Kind == yaml.SequenceNode && list.Style&yaml.FlowStyle == 0 && len(list.Content) > 0:
		first := list.Content[0]
		dash := bytes.LastIndexByte(d.b[:d.offset(first.Line, first.Column)], '-')
		ind, own := indentAt(d.b, dash)
		if dash < 0 || !own {
			return ed, fmt.Errorf("%s: mcpServers layout not supported; add the server by hand", e.File)
		}
		at := d.seqEnd(list)
		prefix := ""
		if at == len(d.b) && !bytes.HasSuffix(d.b, []byte("\n")) {
			prefix = d.nl
		}
		ed.patches = []patch{{at, at, prefix + yamlItem(e, cmd, args, ind, d.nl)}}
	default:
		return ed, fmt.Errorf("%s: mcpServers is not a list; refusing to edit", e.File)
	}
	// Offsets were measured by hand: prove the edit by decoding it.
	after, err := apply(d.b, ed.patches)
	if err != nil {
		return ed, err
	}
	if !d.verify(after, &item{srv: scanServer(e.Name)}, cmd, args) {
		return ed, fmt.Errorf("%s: the edit would not read back as the server; nothing was written (add it by hand)", e.File)
	}
	return ed, nil
}

func (d *ydoc) entryLine(after []byte, e InstallEntry) int {
	nd, err := openYAML(d.file, after)
	if err != nil {
		return 0
	}
	if ent, _ := nd.entry(e.Name, 0); ent != nil {
		return ent.Line
	}
	return 0
}
