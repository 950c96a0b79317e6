package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// assemble writes a file of the split of src: src's preamble and package
// clause, the imports the declarations use, then the declarations as they
// were written, formatted as gofmt would.
func assemble(src *srcFile, files []*srcFile, decls []string) ([]byte, error) {
	parts := make([]string, len(decls))
	for i, d := range decls {
		parts[i] = strings.Trim(d, "\n")
	}
	body := strings.Join(parts, "\n\n") + "\n"
	used, err := usedNames("package " + src.pkg + "\n\n" + body)
	if err != nil {
		return nil, err
	}

	// The imports the files of the split have that this one uses, the
	// standard library's first.
	var lines []importLine
	seen := map[string]bool{}
	for _, f := range files {
		for _, im := range f.imports {
			if used[im.local] && !seen[im.local] {
				seen[im.local] = true
				lines = append(lines, im)
			}
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].group < lines[j].group })
	var b strings.Builder
	b.WriteString(src.preamble)
	b.WriteString("package " + src.pkg + "\n\n")
	switch len(lines) {
	case 0:
	case 1:
		b.WriteString("import " + lines[0].text + "\n\n")
	default:
		b.WriteString("import (\n")
		for i, im := range lines {
			if i > 0 && im.group != lines[i-1].group {
				b.WriteString("\n")
			}
			b.WriteString("\t" + im.text + "\n")
		}
		b.WriteString(")\n\n")
	}
	b.WriteString(body)
	out, err := format.Source([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("formatting: %w", err)
	}
	return out, nil
}

// usedNames is the set of identifiers the file uses as the X of X.Sel
// without declaring them in it: the imports it needs are among them.
func usedNames(src string) (map[string]bool, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, 0)
	if err != nil {
		return nil, fmt.Errorf("parsing the moved declarations: %w", err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			// The parser's object resolution tells a name the file declares
			// (a variable called proto) from a package it imports.
			if id, ok := sel.X.(*ast.Ident); ok && id.Obj == nil {
				used[id.Name] = true
			}
		}
		return true
	})
	return used, nil
}
