package wrap

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// headerMoves is what wrap does with a Continue entry's
// requestOptions.headers: flags for the shim (a secret value from the
// vault, another as --header), the moved values' offsets in the file,
// their references and masked copies.
type headerMoves struct {
	flags  []string
	marks  []patch
	refs   []string
	redact []patch
	moved  []string
}

// moveHeaders moves the headers of hv (requestOptions.headers): each a
// one-line scalar written verbatim.
func (d *ydoc) moveHeaders(it *item, o Options, hv *yaml.Node) (headerMoves, error) {
	var hm headerMoves
	for i := 0; i+1 < len(hv.Content); i += 2 {
		k, v := hv.Content[i], hv.Content[i+1]
		n := k.Value
		if v.Kind != yaml.ScalarNode || k.Line != v.Line || v.Anchor != "" || v.Tag != "!!str" && v.Tag != "" {
			return hm, fmt.Errorf("requestOptions.headers.%s is not a one-line string", n)
		}
		if !secretHeader(n, v.Value) {
			hm.flags = append(hm.flags, "--header", n+": "+v.Value)
			continue
		}
		vs := d.offset(v.Line, v.Column)
		ve := scalarEnd(d.b, vs)
		raw := string(d.b[vs:max(ve, vs)])
		q := ""
		if raw != "" && (raw[0] == '"' || raw[0] == '\'') {
			q = raw[:1]
		}
		if ve < 0 || raw != q+v.Value+q || strings.ContainsAny(v.Value, "\"'\\") {
			return hm, fmt.Errorf("requestOptions.headers.%s is not written verbatim (escapes); move it by hand", n)
		}
		ref, err := o.MoveSecret(it.srv, "header-"+n, v.Value, !o.DryRun)
		if err != nil {
			return hm, fmt.Errorf("move secrets: header %s: %v", n, err)
		}
		hm.flags = append(hm.flags, SecretHeaderFlag, n+"="+ref)
		hm.marks = append(hm.marks, patch{vs + len(q), ve - len(q), secretMark})
		hm.refs = append(hm.refs, ref)
		hm.redact = append(hm.redact, patch{vs + len(q), ve - len(q), secret.Mask(v.Value)})
		hm.moved = append(hm.moved, n)
	}
	return hm, nil
}

// lastLine is the last line (1-based) a node's content reaches.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}
