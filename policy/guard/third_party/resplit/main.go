// Command resplit lays out the long files of the modules mcpgov keeps copies
// of (policy/guard/third_party/*) in files under the project's size limit,
// as each module's resplit.txt says, so a copy of a new upstream release
// can be split the same way again (see each module's PATCH.md).
//
// Declarations move byte for byte with the comments before them; each file
// written gets the preamble (licence, "Code generated" line) of the file it
// was split from and exactly the imports it uses. A keyword table (a
// sync.OnceValue map literal) is kept in slices of constant structs, some
// entries per file, which the linker lays out statically, and built into
// the map on first use.
//
// Usage, from this folder: go run . [-n] [-max 800] ../libinjection-go ../phonenumbers
//
// -n writes nothing and lists the files that would change (exit status 1
// if any): a check that a module's files are laid out as its spec says.
// Running it again on its own output changes nothing.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	dryRun := flag.Bool("n", false, "write nothing: list the files that would change, exit status 1 if any")
	maxLines := flag.Int("max", 800, "report every .go file of a module longer than this many lines")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run . [-n] [-max lines] MODULE_DIR...  (each with a "+specName+")")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed, changed := false, false
	for _, dir := range flag.Args() {
		c, err := resplit(dir, *dryRun)
		if err != nil {
			fmt.Fprintln(os.Stderr, "resplit:", err)
			failed = true
			continue
		}
		changed = changed || c
		if *dryRun {
			continue
		}
		if err := checkLengths(dir, *maxLines); err != nil {
			fmt.Fprintln(os.Stderr, "resplit:", err)
			failed = true
		}
	}
	if failed || (*dryRun && changed) {
		os.Exit(1)
	}
}

// resplit lays out one module's files as its spec says and reports whether
// any file changed (or would, with dryRun).
func resplit(dir string, dryRun bool) (bool, error) {
	sp, err := readSpec(dir)
	if err != nil {
		return false, err
	}
	out := map[string][]byte{} // file -> new content, nil to remove it
	for _, s := range sp.splits {
		files, err := splitFiles(dir, s)
		if err != nil {
			return false, err
		}
		for name, content := range files {
			out[name] = content
		}
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	changed := false
	for _, name := range names {
		p := filepath.Join(dir, name)
		old, err := os.ReadFile(p)
		exists := err == nil
		if err != nil && !os.IsNotExist(err) {
			return false, err
		}
		content := out[name]
		err = nil
		switch {
		case content == nil && !exists, content != nil && exists && bytes.Equal(old, content):
			continue
		case content == nil:
			fmt.Printf("%s: removed (nothing left in it)\n", p)
			if !dryRun {
				err = os.Remove(p)
			}
		default:
			fmt.Printf("%s: %d lines\n", p, bytes.Count(content, []byte("\n")))
			if !dryRun {
				err = os.WriteFile(p, content, 0o644)
			}
		}
		if err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// splitFiles reads the files of one split (the upstream file, the files it
// is split into and the table's parts) and returns what each should hold.
func splitFiles(dir string, s *split) (map[string][]byte, error) {
	names := append([]string{s.src}, s.into...)
	if s.table != nil {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if s.table.partFile.MatchString(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	var files []*srcFile
	found := map[string]*decl{}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); os.IsNotExist(err) && name != s.src {
			continue // written by this run
		}
		f, err := parseSource(dir, name)
		if err != nil {
			return nil, fmt.Errorf("split of %s: %w", s.src, err)
		}
		for _, d := range f.decls {
			if prev, dup := found[d.name]; dup && d.name != "_" && d.name != "init" {
				return nil, fmt.Errorf("%s is declared in both %s and %s: a copy of a new release goes over a folder "+
					"emptied of its .go files (PATCH.md), or the files resplit wrote stay behind", d.name, prev.file.name, name)
			}
			found[d.name] = d
		}
		files = append(files, f)
	}
	src := files[0]
	for name, dest := range s.dest {
		d, ok := found[name]
		if !ok {
			return nil, fmt.Errorf("%s:%d: %s, sent to %s, is not declared in %s or the files split from it: "+
				"correct the spec to the new release", specName, s.line, name, dest, s.src)
		}
		if d.name == "init" && countInits(files) > 1 {
			return nil, fmt.Errorf("%s:%d: more than one init among the files split from %s: resplit cannot tell "+
				"which to move", specName, s.line, s.src)
		}
	}

	for _, g := range s.globs {
		matched := false
		for name := range found {
			if ok, _ := path.Match(g.pattern, name); ok {
				matched = true
			}
		}
		if !matched {
			return nil, fmt.Errorf("%s:%d: %s, sent to %s, matches no declaration in %s or the files split from it: "+
				"correct the spec to the new release", specName, s.line, g.pattern, g.into, s.src)
		}
	}

	dests := map[string][]string{} // file -> the text of its declarations, in order
	for _, name := range names {
		dests[name] = nil
	}
	var tbl *builtTable
	if s.table != nil {
		var err error
		if tbl, err = buildTable(s.table, found, files); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", specName, s.table.line, err)
		}
	}
	for _, f := range files {
		for _, d := range f.decls {
			dest := f.name
			if to, ok := s.destination(d.name); ok {
				dest = to
			}
			text := d.text
			if tbl != nil {
				if tbl.drops(d.name) {
					continue
				}
				if d.name == s.table.varName {
					text = tbl.replaceVar(d)
				}
			}
			dests[dest] = append(dests[dest], text)
		}
	}
	if tbl != nil {
		for i, part := range tbl.parts {
			dests[s.table.fileName(i+1)] = []string{part}
		}
	}

	result := map[string][]byte{}
	for name, decls := range dests {
		if len(decls) == 0 {
			result[name] = nil
			continue
		}
		content, err := assemble(src, files, decls)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		result[name] = content
	}
	return result, nil
}

func countInits(files []*srcFile) int {
	n := 0
	for _, f := range files {
		for _, d := range f.decls {
			if d.name == "init" {
				n++
			}
		}
	}
	return n
}

func checkLengths(dir string, maxLines int) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	var long []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if n := bytes.Count(b, []byte("\n")); n > maxLines {
			long = append(long, fmt.Sprintf("%s (%d)", filepath.Base(p), n))
		}
	}
	if len(long) > 0 {
		return fmt.Errorf("%s: over %d lines: %s: send more of their declarations to other files in %s",
			dir, maxLines, strings.Join(long, ", "), specName)
	}
	return nil
}
