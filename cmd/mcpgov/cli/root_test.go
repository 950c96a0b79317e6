package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestRootChildNames: each of the root's commands is run by the name
// rootChildren gives it, so `mcpgov NAME` builds that command alone.
func TestRootChildNames(t *testing.T) {
	io, _, _, _ := TestStreams()
	f := &Factory{IO: io, Version: BuildInfo{Version: "test"}}
	for _, c := range rootChildren() {
		if got := c.build(f).Name(); got != c.name {
			t.Errorf("rootChildren: %q builds command %q", c.name, got)
		}
	}
}

// TestRootOneChildSameAnswers: a run that builds only the command its
// first word names answers --help, an unknown flag and an unknown
// subcommand of every command in the tree exactly as the whole tree does:
// the same output, errors and exit code.
func TestRootOneChildSameAnswers(t *testing.T) {
	io, _, _, _ := TestStreams()
	whole, _ := newRootCmd(&Factory{IO: io, Version: BuildInfo{Version: "test"}})
	var paths [][]string
	groups := map[string]bool{} // commands that only group others
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if len(path) > 0 {
			paths = append(paths, path)
			groups[c.CommandPath()] = c.HasSubCommands()
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && sub.Annotations["helpTopic"] == "" {
				walk(sub, append(slices.Clip(path), sub.Name()))
			}
		}
	}
	walk(whole, nil)
	if len(paths) < 30 {
		t.Fatalf("walked %d commands; the tree has more", len(paths))
	}
	answer := func(oneChild bool, args []string) (string, string, int) {
		io, _, out, errOut := TestStreams()
		f := &Factory{IO: io, Version: BuildInfo{Version: "test"}, Getenv: func(string) string { return "" }}
		var code int
		if oneChild {
			code = run(context.Background(), f, args)
		} else {
			root, started := newRootCmd(f)
			code = execute(context.Background(), f, root, started, args)
		}
		return out.String(), errOut.String(), code
	}
	for _, path := range paths {
		extras := [][]string{{"--help"}, {"--no-such-flag"}}
		if groups[whole.Name()+" "+strings.Join(path, " ")] {
			// A leaf would take the word as an argument and run.
			extras = append(extras, []string{"no-such-command"})
		}
		for _, extra := range extras {
			args := append(slices.Clip(path), extra...)
			o1, e1, c1 := answer(true, args)
			o2, e2, c2 := answer(false, args)
			if o1 != o2 || e1 != e2 || c1 != c2 {
				t.Errorf("mcpgov %v: one command built: exit %d, stdout %q, stderr %q; whole tree: exit %d, stdout %q, stderr %q", args, c1, o1, e1, c2, o2, e2)
			}
		}
	}
}
