package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// specName is the file, in each module's folder, that says how its long
// files are laid out.
const specName = "resplit.txt"

// spec is one module's resplit.txt:
//
//	split SRC            a file upstream ships, and the files it is split into
//	into OUT             the declarations named after it go to OUT
//	NAME ...             declarations, by name: a method as Type.Method, a
//	                     var, const or type group by its first name; a name
//	                     with a * is a pattern (Type.Get*) for those not
//	                     named exactly
//	table VAR TYPE KEY VALUE PARTS N
//	                     VAR (var VAR = sync.OnceValue(func() map[K]V {...}))
//	                     is built from a map literal's entries kept in slices
//	                     of TYPE{KEY K; VALUE V}, N entries per file, the
//	                     files named by the Printf pattern PARTS (%02d: 01, 02…)
//
// Blank lines and lines starting with # are ignored. A declaration not
// named stays in the file it is in. (A line's first word is read as a
// keyword first: a declaration named split, into or table cannot be named.)
type spec struct {
	splits []*split
}

type split struct {
	src   string
	into  []string          // files, in the order the spec names them
	dest  map[string]string // declaration name -> file
	globs []glob            // names with a *, in the spec's order
	table *table
	line  int
}

// glob sends every declaration whose name matches it (path.Match) and is
// not named exactly elsewhere: PhoneMetadata.Get* for a type's getters.
type glob struct{ pattern, into string }

type table struct {
	varName, typeName, keyField, valueField string
	parts                                   string // Printf pattern of the part files' names
	perFile                                 int
	partFile                                *regexp.Regexp
	line                                    int
}

// partName is the name of part i's variable: VAR and the number as the
// part files are numbered.
func (t *table) partName(i int) string {
	return t.varName + fmt.Sprintf(t.verb(), i)
}

func (t *table) fileName(i int) string { return fmt.Sprintf(t.parts, i) }

func (t *table) verb() string { return regexp.MustCompile(`%0?\d*d`).FindString(t.parts) }

// isPart reports whether a declaration name is one of the table's parts
// (VAR followed by digits), which resplit writes and reads back.
func (t *table) isPart(name string) bool {
	digits, ok := strings.CutPrefix(name, t.varName)
	if !ok || digits == "" {
		return false
	}
	_, err := strconv.Atoi(digits)
	return err == nil
}

func readSpec(dir string) (*spec, error) {
	specPath := filepath.Join(dir, specName)
	f, err := os.Open(specPath)
	if err != nil {
		return nil, fmt.Errorf("reading the split spec: %w (every module resplit lays out has one, see PATCH.md)", err)
	}
	defer f.Close()
	s := &spec{}
	var cur *split
	var into string
	files := map[string]string{} // output file -> the split it belongs to
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", specPath, n, fmt.Sprintf(format, args...))
		}
		switch fields[0] {
		case "split":
			if len(fields) != 2 {
				return nil, bad("want `split FILE`")
			}
			cur = &split{src: fields[1], dest: map[string]string{}, line: n}
			into = ""
			if err := claim(files, fields[1], fields[1]); err != nil {
				return nil, bad("%v", err)
			}
			s.splits = append(s.splits, cur)
		case "into":
			if cur == nil || len(fields) != 2 {
				return nil, bad("want `into FILE` after a `split FILE`")
			}
			into = fields[1]
			if err := claim(files, into, cur.src); err != nil {
				return nil, bad("%v", err)
			}
			cur.into = append(cur.into, into)
		case "table":
			if cur == nil || len(fields) != 7 || cur.table != nil {
				return nil, bad("want one `table VAR TYPE KEY VALUE PARTS N` after a `split FILE`")
			}
			t, err := parseTable(fields[1:], n)
			if err != nil {
				return nil, bad("%v", err)
			}
			cur.table = t
		default:
			if into == "" {
				return nil, bad("declaration %q before an `into FILE`", fields[0])
			}
			for _, name := range fields {
				if strings.Contains(name, "*") {
					if _, err := path.Match(name, ""); err != nil {
						return nil, bad("pattern %s: %v", name, err)
					}
					cur.globs = append(cur.globs, glob{name, into})
					continue
				}
				if prev, dup := cur.dest[name]; dup {
					return nil, bad("%s is already sent to %s", name, prev)
				}
				cur.dest[name] = into
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", specPath, err)
	}
	return s, nil
}

func claim(files map[string]string, file, src string) error {
	if !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") || strings.ContainsRune(file, '/') {
		return fmt.Errorf("%s: want a .go file (not a test) in the module's folder", file)
	}
	if prev, dup := files[file]; dup {
		return fmt.Errorf("%s is already named by the split of %s", file, prev)
	}
	files[file] = src
	return nil
}

func parseTable(f []string, line int) (*table, error) {
	t := &table{varName: f[0], typeName: f[1], keyField: f[2], valueField: f[3], parts: f[4], line: line}
	n, err := strconv.Atoi(f[5])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("entries per file %q: want a positive number", f[5])
	}
	t.perFile = n
	verbs := regexp.MustCompile(`%0?\d*d`).FindAllStringIndex(t.parts, -1)
	if len(verbs) != 1 || strings.Count(t.parts, "%") != 1 || !strings.HasSuffix(t.parts, ".go") {
		return nil, fmt.Errorf("part files %q: want a .go name with one number verb, like name_%%02d.go", t.parts)
	}
	v := verbs[0]
	t.partFile = regexp.MustCompile("^" + regexp.QuoteMeta(t.parts[:v[0]]) + `\d+` + regexp.QuoteMeta(t.parts[v[1]:]) + "$")
	return t, nil
}

// destination is the file the spec sends a declaration to, if any.
func (s *split) destination(name string) (string, bool) {
	if to, ok := s.dest[name]; ok {
		return to, true
	}
	for _, g := range s.globs {
		if ok, _ := path.Match(g.pattern, name); ok {
			return g.into, true
		}
	}
	return "", false
}
