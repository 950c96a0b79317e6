package main

import (
	"fmt"
	"go/ast"
	"strings"
)

// builtTable is a table's entries laid out in parts, and the declaration of
// the variable built from them.
type builtTable struct {
	t                  *table
	keyType, valueType string
	parts              []string // each part's declaration, one file each
}

type entry struct{ key, value string }

// buildTable reads the table's entries from VAR's map literal (the file as
// upstream ships it, with PATCH.md's sync.OnceValue) or, once split, from
// the parts resplit wrote, and lays them out again.
func buildTable(t *table, found map[string]*decl, files []*srcFile) (*builtTable, error) {
	d, ok := found[t.varName]
	if !ok {
		return nil, fmt.Errorf("table %s: no such declaration in the files of the split", t.varName)
	}
	if !isOnceValue(d.node) {
		return nil, fmt.Errorf("table %s: want `var %s = sync.OnceValue(func() map[K]V {...})`: apply PATCH.md's change first",
			t.varName, t.varName)
	}
	mt := findMapType(d.node)
	if mt == nil {
		return nil, fmt.Errorf("table %s: no map type in its declaration", t.varName)
	}
	b := &builtTable{t: t, keyType: d.file.text(mt.Key), valueType: d.file.text(mt.Value)}

	var entries []entry
	if lit := findMapLiteral(d.node); lit != nil {
		for _, c := range d.file.comments {
			if c.Pos() > lit.Lbrace && c.End() < lit.Rbrace {
				return nil, fmt.Errorf("table %s: a comment among the entries would be lost: move it above the declaration", t.varName)
			}
		}
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				return nil, fmt.Errorf("table %s: an entry without a key", t.varName)
			}
			entries = append(entries, entry{d.file.text(kv.Key), d.file.text(kv.Value)})
		}
	} else {
		var err error
		if entries, err = partEntries(t, found); err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("table %s: no entries, neither in a map literal nor in parts %s", t.varName, t.parts)
	}
	keys := map[string]bool{}
	for _, e := range entries {
		if keys[e.key] {
			return nil, fmt.Errorf("table %s: key %s twice", t.varName, e.key)
		}
		keys[e.key] = true
	}
	for start := 0; start < len(entries); start += t.perFile {
		end := min(start+t.perFile, len(entries))
		b.parts = append(b.parts, b.partDecl(len(b.parts)+1, start, entries[start:end]))
	}
	return b, nil
}

// partEntries reads back the parts a previous run wrote, in order.
func partEntries(t *table, found map[string]*decl) ([]entry, error) {
	var entries []entry
	for i := 1; ; i++ {
		d, ok := found[t.partName(i)]
		if !ok {
			break
		}
		gd, ok := d.node.(*ast.GenDecl)
		var lit *ast.CompositeLit
		if ok && len(gd.Specs) == 1 {
			if vs, ok := gd.Specs[0].(*ast.ValueSpec); ok && len(vs.Values) == 1 {
				lit, _ = vs.Values[0].(*ast.CompositeLit)
			}
		}
		if lit == nil {
			return nil, fmt.Errorf("table %s: %s is not a slice literal as resplit writes it", t.varName, d.name)
		}
		for _, e := range lit.Elts {
			pair, ok := e.(*ast.CompositeLit)
			if !ok || len(pair.Elts) != 2 {
				return nil, fmt.Errorf("table %s: %s holds an entry that is not {key, value}", t.varName, d.name)
			}
			entries = append(entries, entry{d.file.text(pair.Elts[0]), d.file.text(pair.Elts[1])})
		}
	}
	return entries, nil
}

// drops reports whether a declaration is one this table writes anew.
func (b *builtTable) drops(name string) bool {
	return name == b.t.typeName || b.t.isPart(name)
}

func (b *builtTable) partDecl(n, start int, entries []entry) string {
	var s strings.Builder
	fmt.Fprintf(&s, "// %s is entries %d to %d of %s, in upstream's order.\n", b.t.partName(n), start+1, start+len(entries), b.t.varName)
	fmt.Fprintf(&s, "var %s = []%s{\n", b.t.partName(n), b.t.typeName)
	for _, e := range entries {
		fmt.Fprintf(&s, "\t{%s, %s},\n", e.key, e.value)
	}
	s.WriteString("}\n")
	return s.String()
}

// replaceVar is VAR's declaration, with the comments before it, building the
// map from the parts, and the parts' element type.
func (b *builtTable) replaceVar(d *decl) string {
	t := b.t
	from, to := d.file.tf.Offset(d.node.Pos())-d.start, d.file.tf.Offset(d.node.End())-d.start
	var s strings.Builder
	s.WriteString(d.text[:from])
	fmt.Fprintf(&s, "var %s = sync.OnceValue(func() map[%s]%s {\n", t.varName, b.keyType, b.valueType)
	fmt.Fprintf(&s, "\t// The entries are kept in package-level slices of constant structs\n")
	fmt.Fprintf(&s, "\t// (%s, written by resplit), which the linker lays out:\n", strings.Replace(t.parts, t.verb(), "*", 1))
	s.WriteString("\t// nothing is built before the first lookup.\n")
	fmt.Fprintf(&s, "\tparts := [][]%s{\n", t.typeName)
	for i := range b.parts {
		fmt.Fprintf(&s, "\t\t%s,\n", t.partName(i+1))
	}
	s.WriteString("\t}\n\tn := 0\n\tfor _, part := range parts {\n\t\tn += len(part)\n\t}\n")
	fmt.Fprintf(&s, "\tm := make(map[%s]%s, n)\n", b.keyType, b.valueType)
	s.WriteString("\tfor _, part := range parts {\n\t\tfor _, e := range part {\n")
	fmt.Fprintf(&s, "\t\t\tm[e.%s] = e.%s\n", t.keyField, t.valueField)
	s.WriteString("\t\t}\n\t}\n\treturn m\n})")
	s.WriteString(d.text[to:])
	fmt.Fprintf(&s, "\n\n// %s is an entry of %s.\ntype %s struct {\n\t%s %s\n\t%s %s\n}\n",
		t.typeName, t.varName, t.typeName, t.keyField, b.keyType, t.valueField, b.valueType)
	return s.String()
}

func isOnceValue(n ast.Decl) bool {
	gd, ok := n.(*ast.GenDecl)
	if !ok || len(gd.Specs) != 1 {
		return false
	}
	vs, ok := gd.Specs[0].(*ast.ValueSpec)
	if !ok || len(vs.Values) != 1 {
		return false
	}
	call, ok := vs.Values[0].(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "sync" && sel.Sel.Name == "OnceValue"
}

func findMapType(n ast.Node) *ast.MapType {
	var mt *ast.MapType
	ast.Inspect(n, func(n ast.Node) bool {
		if m, ok := n.(*ast.MapType); ok && mt == nil {
			mt = m
		}
		return mt == nil
	})
	return mt
}

func findMapLiteral(n ast.Node) *ast.CompositeLit {
	var lit *ast.CompositeLit
	ast.Inspect(n, func(n ast.Node) bool {
		if c, ok := n.(*ast.CompositeLit); ok && lit == nil {
			if _, isMap := c.Type.(*ast.MapType); isMap {
				lit = c
			}
		}
		return lit == nil
	})
	return lit
}
