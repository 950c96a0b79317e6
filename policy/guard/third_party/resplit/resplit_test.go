package main

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoSource = `// Licence of the demo.

package demo

import (
	"strings"
	"sync"
)

// Upper is moved, with this comment.
func Upper(s string) string { return strings.ToUpper(s) }

// helper stays.
func helper() int { return 1 }

// words is laid out in parts.
var words = sync.OnceValue(func() map[string]byte {
	return map[string]byte{
		"a": 'x',
		"b": 'y',
		"c": 'z',
	}
})

func (t T) Get() int { return 2 }

func (t T) GetMore() int { return 3 }

type T struct{}
`

const demoSpec = `# the demo's layout
split a.go
into b.go
	Upper
	T.Get*
into c.go
	words
table words entry key value parts_%d.go 2
`

func writeDemo(t *testing.T, spec string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"a.go": demoSource, specName: spec} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// typeCheck type-checks the package in dir: every file got the imports it uses.
func typeCheck(t *testing.T, dir string) {
	t.Helper()
	fset := token.NewFileSet()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var files []*ast.File
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("demo", fset, files, nil); err != nil {
		t.Fatalf("the split package does not type-check: %v", err)
	}
}

func TestSplitMovesDeclarationsAndLaysOutTheTable(t *testing.T) {
	dir := writeDemo(t, demoSpec)
	if _, err := resplit(dir, false); err != nil {
		t.Fatal(err)
	}
	a, b, c := readFile(t, dir, "a.go"), readFile(t, dir, "b.go"), readFile(t, dir, "c.go")
	for _, want := range []string{"// Licence of the demo.", `import "strings"`,
		"// Upper is moved, with this comment.\nfunc Upper", "func (t T) Get()", "func (t T) GetMore()"} {
		if !strings.Contains(b, want) {
			t.Errorf("b.go lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(a, "import") || !strings.Contains(a, "// helper stays.") || !strings.Contains(a, "type T struct{}") {
		t.Errorf("a.go should keep helper and T without imports:\n%s", a)
	}
	for _, want := range []string{`import "sync"`, "// words is laid out in parts.\nvar words = sync.OnceValue",
		"words1,\n\t\twords2,", "m[e.key] = e.value", "type entry struct"} {
		if !strings.Contains(c, want) {
			t.Errorf("c.go lacks %q:\n%s", want, c)
		}
	}
	if p := readFile(t, dir, "parts_1.go"); !strings.Contains(p, "var words1 = []entry{\n\t{\"a\", 'x'},\n\t{\"b\", 'y'},\n}") {
		t.Errorf("parts_1.go:\n%s", p)
	}
	if p := readFile(t, dir, "parts_2.go"); !strings.Contains(p, "var words2 = []entry{\n\t{\"c\", 'z'},\n}") {
		t.Errorf("parts_2.go:\n%s", p)
	}
	typeCheck(t, dir)

	changed, err := resplit(dir, true)
	if err != nil || changed {
		t.Fatalf("a second run on the split files: changed %v, %v; want nothing to change", changed, err)
	}
}

func TestSplitRewritesTheTableParts(t *testing.T) {
	dir := writeDemo(t, demoSpec)
	if _, err := resplit(dir, false); err != nil {
		t.Fatal(err)
	}
	spec := strings.Replace(demoSpec, "parts_%d.go 2", "parts_%d.go 3", 1)
	if err := os.WriteFile(filepath.Join(dir, specName), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resplit(dir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "parts_2.go")); !os.IsNotExist(err) {
		t.Errorf("parts_2.go is left behind (%v) though its entries are now in parts_1.go", err)
	}
	if p := readFile(t, dir, "parts_1.go"); !strings.Contains(p, "{\"a\", 'x'},\n\t{\"b\", 'y'},\n\t{\"c\", 'z'},\n}") {
		t.Errorf("parts_1.go:\n%s", p)
	}
	typeCheck(t, dir)
}

func TestSplitRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, spec, want string
		stale            bool
	}{
		{"a name no longer declared", demoSpec + "into d.go\n\tLower\n", "Lower, sent to d.go, is not declared", false},
		{"a pattern matching nothing", demoSpec + "into d.go\n\tT.Set*\n", "T.Set*, sent to d.go, matches no declaration", false},
		{"a new release copied over the split files", demoSpec, "Upper is declared in both", true},
		{"a name twice", demoSpec + "into d.go\n\tUpper\n", "Upper is already sent to b.go", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDemo(t, demoSpec)
			if tc.stale {
				if _, err := resplit(dir, false); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte(demoSource), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, specName), []byte(tc.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := resplit(dir, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
