package cli

import (
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
)

// TestHelpText lints every command's help: a capitalised Short without a
// trailing period, an Example, and no placeholder text.
func TestHelpText(t *testing.T) {
	io, _, _, _ := TestStreams()
	root, _ := newRootCmd(&Factory{IO: io, Version: BuildInfo{Version: "test"}})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || strings.HasPrefix(c.Name(), "__") || c.Name() == "help" || isCobraBuiltin(c) {
			return
		}
		path := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s: no Short", path)
		} else {
			if r := []rune(c.Short)[0]; !unicode.IsUpper(r) {
				t.Errorf("%s: Short %q should start with a capital letter", path, c.Short)
			}
			if strings.HasSuffix(c.Short, ".") {
				t.Errorf("%s: Short %q should not end with a period", path, c.Short)
			}
		}
		if c.Example == "" {
			t.Errorf("%s: no Example", path)
		}
		for _, text := range []string{c.Short, c.Long, c.Example} {
			if strings.Contains(text, "TODO") || strings.Contains(text, "FIXME") {
				t.Errorf("%s: help text contains a placeholder", path)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// isCobraBuiltin reports commands cobra adds itself (completion and its
// shells), whose help text is cobra's.
func isCobraBuiltin(c *cobra.Command) bool {
	for p := c; p != nil; p = p.Parent() {
		if p.Name() == "completion" {
			return true
		}
	}
	return false
}

// TestExitCodes pins the mapping from typed errors to exit codes.
func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{flagErrorf("bad"), ExitUsage},
		{&FindingsError{Summary: "2 findings"}, ExitFindings},
		{&AuthError{Err: errString("login")}, ExitAuth},
		{withHint(&AuthError{Err: errString("login")}, "run mcpgov login"), ExitAuth},
		{errString("boom"), ExitError},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
