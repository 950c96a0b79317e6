package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// srcFile is one Go file cut into what resplit moves: its preamble (the
// comments and build tags before the package clause, which every file split
// from it repeats), its imports and its top-level declarations.
type srcFile struct {
	name     string
	src      []byte
	tf       *token.File
	comments []*ast.CommentGroup
	preamble string
	pkg      string
	imports  []importLine
	decls    []*decl
}

// decl is a top-level declaration with the comments and blank lines before
// it back to the previous one, as text: it moves byte for byte.
type decl struct {
	name string
	file *srcFile
	node ast.Decl
	text string
	// start is the offset in file.src at which text begins.
	start int
}

type importLine struct {
	text  string // the import spec as written, with its comments
	local string // the name the file refers to it by
	// group is 0 for the standard library's packages, 1 for the others:
	// each file gets its imports in these two groups, as goimports makes them.
	group int
}

func parseSource(dir, name string) (*srcFile, error) {
	p := filepath.Join(dir, name)
	src, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	tf := fset.File(f.Pos())
	off := func(pos token.Pos) int { return tf.Offset(pos) }
	lineStart := func(line int) int {
		if line > tf.LineCount() {
			return len(src)
		}
		return tf.Offset(tf.LineStart(line))
	}
	// lineEnd is the offset just past the newline ending pos's line.
	lineEnd := func(pos token.Pos) int { return lineStart(tf.Line(pos) + 1) }

	sf := &srcFile{name: name, src: src, tf: tf, comments: f.Comments, pkg: f.Name.Name, preamble: string(src[:lineStart(tf.Line(f.Package))])}
	prevEnd := lineEnd(f.Name.End())
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			start, end := is.Pos(), is.End()
			if is.Doc != nil {
				start = is.Doc.Pos()
			}
			if is.Comment != nil {
				end = is.Comment.End()
			}
			ip, err := strconv.Unquote(is.Path.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: import %s: %w", p, is.Path.Value, err)
			}
			local := defaultName(ip)
			if is.Name != nil {
				local = is.Name.Name
			}
			group := 0
			if first, _, _ := strings.Cut(ip, "/"); strings.Contains(first, ".") {
				group = 1
			}
			sf.imports = append(sf.imports, importLine{text: string(src[off(start):off(end)]), local: local, group: group})
		}
		prevEnd = lineEnd(gd.End())
	}
	for _, c := range f.Comments {
		if o := off(c.Pos()); o > off(f.Name.End()) && o < prevEnd && !insideImport(f, c) {
			return nil, fmt.Errorf("%s:%d: a comment among the imports, which resplit rewrites: move it below them",
				p, tf.Line(c.Pos()))
		}
	}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		if off(d.Pos()) < prevEnd {
			return nil, fmt.Errorf("%s:%d: a declaration shares a line with the one before it: put it on its own line",
				p, tf.Line(d.Pos()))
		}
		end := lineEnd(d.End())
		sf.decls = append(sf.decls, &decl{name: declName(d), file: sf, node: d, start: prevEnd, text: string(src[prevEnd:end])})
		prevEnd = end
	}
	if rest := strings.TrimSpace(string(src[prevEnd:])); rest != "" {
		if len(sf.decls) == 0 {
			return nil, fmt.Errorf("%s: comments but no declaration after the imports", p)
		}
		last := sf.decls[len(sf.decls)-1]
		last.text += string(src[prevEnd:])
	}
	return sf, nil
}

func insideImport(f *ast.File, c *ast.CommentGroup) bool {
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT && c.Pos() >= gd.Pos() && c.End() <= gd.End() {
			return true
		}
	}
	return false
}

// defaultName is the name an unnamed import is referred to by: its last
// path element, less a major version (yaml.v3, /v2) and a go- prefix. It
// only has to match the code the project copies; the build checks it.
func defaultName(importPath string) string {
	base := path.Base(importPath)
	if regexp.MustCompile(`^v[0-9]+$`).MatchString(base) {
		base = path.Base(path.Dir(importPath))
	}
	base, _, _ = strings.Cut(base, ".")
	base = strings.TrimPrefix(base, "go-")
	return strings.ReplaceAll(base, "-", "")
}

// declName is how the spec names a declaration: a function by its name, a
// method as Type.Method, a var, const or type group by its first name.
func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			return d.Name.Name
		}
		return recvType(d.Recv.List[0].Type) + "." + d.Name.Name
	case *ast.GenDecl:
		if len(d.Specs) == 0 {
			return ""
		}
		switch s := d.Specs[0].(type) {
		case *ast.TypeSpec:
			return s.Name.Name
		case *ast.ValueSpec:
			return s.Names[0].Name
		}
	}
	return ""
}

func recvType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvType(e.X)
	case *ast.IndexExpr:
		return recvType(e.X)
	case *ast.IndexListExpr:
		return recvType(e.X)
	case *ast.ParenExpr:
		return recvType(e.X)
	case *ast.Ident:
		return e.Name
	}
	return "?"
}

// text is a node's source as written.
func (f *srcFile) text(n ast.Node) string {
	return string(f.src[f.tf.Offset(n.Pos()):f.tf.Offset(n.End())])
}
