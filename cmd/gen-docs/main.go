// Command gen-docs writes mcpgov's documentation from its cobra command tree:
// man pages, shell completion scripts, and the command reference in README.md.
//
//	go run ./cmd/gen-docs --man-dir DIR --completions-dir DIR
//	go run ./cmd/gen-docs --readme README.md [--check]
//
// Output goes to the named files and folders; stderr carries errors only.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli"
)

const (
	startMarker = "<!-- commands:start -->"
	endMarker   = "<!-- commands:end -->"
)

// errStale reports that --check found a README whose reference differs from
// the generated one.
var errStale = errors.New("command reference is out of date")

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen-docs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manDir := fs.String("man-dir", "", "write man pages (section 1) into `DIR`")
	complDir := fs.String("completions-dir", "", "write bash, zsh, fish and powershell completions into `DIR`")
	readme := fs.String("readme", "", "replace the command reference between the markers in `FILE`")
	check := fs.Bool("check", false, "with --readme: exit 1 if FILE is out of date instead of writing it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*manDir == "" && *complDir == "" && *readme == "") || (*check && *readme == "") {
		fmt.Fprintln(stderr, "usage: gen-docs [--man-dir DIR] [--completions-dir DIR] [--readme FILE [--check]]")
		return 2
	}

	var err error
	if *manDir != "" {
		err = errors.Join(err, genMan(command(), *manDir))
	}
	if *complDir != "" {
		err = errors.Join(err, genCompletions(command(), *complDir))
	}
	if *readme != "" {
		err = errors.Join(err, updateReadme(command(), *readme, *check))
	}
	if err != nil {
		fmt.Fprintf(stderr, "gen-docs: %v\n", err)
		if errors.Is(err, errStale) {
			fmt.Fprintln(stderr, "hint: run make docs and commit README.md")
		}
		return 1
	}
	return 0
}

// command returns a fresh tree with the commands and flags cobra otherwise
// adds only when it executes, so the docs match what users see. Generators
// mutate the tree (help flags), so each one gets its own.
func command() *cobra.Command {
	root := cli.Command()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	walk(root, func(c *cobra.Command) { c.DisableAutoGenTag = true })
	return root
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func genMan(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The date honours SOURCE_DATE_EPOCH, which keeps release pages reproducible.
	header := &doc.GenManHeader{Section: "1", Source: "mcpgov", Manual: "mcpgov manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}

func genCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gens := []struct {
		file string
		gen  func(io.Writer) error
	}{
		{"mcpgov.bash", func(w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
		{"_mcpgov", root.GenZshCompletion},
		{"mcpgov.fish", func(w io.Writer) error { return root.GenFishCompletion(w, true) }},
		{"mcpgov.ps1", root.GenPowerShellCompletionWithDesc},
	}
	for _, g := range gens {
		var buf bytes.Buffer
		if err := g.gen(&buf); err != nil {
			return fmt.Errorf("completion %s: %w", g.file, err)
		}
		if err := os.WriteFile(filepath.Join(dir, g.file), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// updateReadme splices the generated reference between the markers of path,
// or with check only compares it.
func updateReadme(root *cobra.Command, path string, check bool) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := splice(string(old), reference(root))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if updated == string(old) {
		return nil
	}
	if check {
		return fmt.Errorf("%s: %w", path, errStale)
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}

func splice(text, section string) (string, error) {
	start := strings.Index(text, startMarker)
	end := strings.Index(text, endMarker)
	if start < 0 || end < start {
		return "", fmt.Errorf("markers %s and %s not found in that order", startMarker, endMarker)
	}
	head := text[:start+len(startMarker)]
	return head + "\n\n" + section + "\n" + text[end:], nil
}

// reference renders one section per available command, then the help topics.
func reference(root *cobra.Command) string {
	var b strings.Builder
	var topics []*cobra.Command
	walk(root, func(c *cobra.Command) {
		if c.IsAdditionalHelpTopicCommand() && c.HasParent() {
			topics = append(topics, c)
		}
		if !c.IsAvailableCommand() && c != root {
			return
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n```\n%s\n```\n\n", c.CommandPath(), c.Short, c.UseLine())
		if flags := flagUsages(c); flags != "" {
			fmt.Fprintf(&b, "Flags:\n\n```\n%s```\n\n", flags)
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "Examples:\n\n```sh\n%s\n```\n\n", dedent(c.Example))
		}
	})
	if len(topics) > 0 {
		b.WriteString("### Help topics\n\n")
		for _, t := range topics {
			fmt.Fprintf(&b, "- `%s help %s`: %s\n", root.Name(), t.Name(), t.Short)
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// flagUsages lists a command's own flags; --help is on every command and
// only adds noise.
func flagUsages(c *cobra.Command) string {
	fs := c.NonInheritedFlags()
	if h := fs.Lookup("help"); h != nil {
		h.Hidden = true
	}
	return fs.FlagUsages()
}

// dedent removes the indentation every non-blank line of s shares.
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}
