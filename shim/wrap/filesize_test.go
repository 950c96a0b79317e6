package wrap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceFilesUnderSplitLimit holds the package's source files to the
// style rule: a file past ~800 lines is split.
func TestSourceFilesUnderSplitLimit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n > 800 {
			t.Errorf("%s has %d lines, past the 800-line split rule (STYLE.md 10)", f, n)
		}
	}
}
