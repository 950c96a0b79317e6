package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// subcommand is one of the root's children and the name it is run by.
type subcommand struct {
	name  string
	build func(*Factory) *cobra.Command
}

// rootChildren are the root's commands, in the order help lists them.
func rootChildren() []subcommand {
	return []subcommand{
		{"scan", func(f *Factory) *cobra.Command { return newScanCmd(f, nil) }},
		{"catalog", newCatalogCmd},
		{"bundle", newBundleCmd},
		{"policy", newPolicyCmd},
		{"wrap", func(f *Factory) *cobra.Command { return newWrapCmd(f, nil) }},
		{"unwrap", func(f *Factory) *cobra.Command { return newUnwrapCmd(f, nil) }},
		{"shim", func(f *Factory) *cobra.Command { return newShimCmd(f, nil) }},
		{"__shim-linger", newShimLingerCmd},
		{"gateway", newGatewayCmd},
		{"login", func(f *Factory) *cobra.Command { return newLoginCmd(f, nil) }},
		{"logout", func(f *Factory) *cobra.Command { return newLogoutCmd(f, nil) }},
		{"auth", newAuthCmd},
		{"creds", newCredsCmd},
		{"audit", newAuditCmd},
		{"version", newVersionCmd},
	}
}

// newRootCmd builds the command tree. The returned flag tells run whether a
// command's own run function started, so earlier failures count as usage
// errors.
func newRootCmd(f *Factory) (*cobra.Command, *bool) {
	return newRootCmdFor(f, nil)
}

// newRootCmdFor builds the tree args run: when args[0] names one of the
// root's commands, the root with that command alone, as the rest of the
// tree would only be built to be thrown away (every wrapped server of
// every client starts `mcpgov shim`, so its start-up time and memory are
// paid many times over); for anything else (no command, a flag first,
// help, completion, a word that is no command) the whole tree, which help,
// completion and suggestions need. A command's own help and errors do not
// depend on its siblings.
func newRootCmdFor(f *Factory, args []string) (*cobra.Command, *bool) {
	started := new(bool)
	root := &cobra.Command{
		Use:   "mcpgov <command> [flags]",
		Short: "Govern the MCP servers your AI clients use",
		Long: `mcpgov finds, approves, wraps and audits the MCP servers that AI clients
(Cursor, Claude Code, VS Code, Codex, Gemini CLI and others) launch on a machine.

Start with an inventory of this machine:

  mcpgov scan`,
		Example: `  mcpgov scan
  mcpgov scan --format json > inventory.json
  mcpgov scan --format sarif --fail-on high .`,
		Version:       f.Version.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(*cobra.Command, []string) {
			*started = true
		},
	}
	root.SetVersionTemplate(f.Version.String() + "\n")
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &FlagError{Err: err}
	})

	// The four pillars, in the order a newcomer meets them.
	root.AddGroup(&cobra.Group{ID: "inventory", Title: "Inventory:"})
	root.AddGroup(&cobra.Group{ID: "catalog", Title: "Catalog:"})
	root.AddGroup(&cobra.Group{ID: "identity", Title: "Identity:"})
	root.AddGroup(&cobra.Group{ID: "enforce", Title: "Enforcement and audit:"})
	if c, ok := namedChild(args); ok {
		root.AddCommand(c.build(f))
	} else {
		for _, c := range rootChildren() {
			root.AddCommand(c.build(f))
		}
		for _, topic := range helpTopics() {
			root.AddCommand(newHelpTopicCmd(topic))
		}
	}
	refuseUnknownSubcommands(root)
	return root, started
}

// namedChild is the root's command args[0] names, if it names one.
func namedChild(args []string) (subcommand, bool) {
	if len(args) == 0 {
		return subcommand{}, false
	}
	for _, c := range rootChildren() {
		if c.name == args[0] {
			return c, true
		}
	}
	return subcommand{}, false
}

// refuseUnknownSubcommands makes every command that only groups others
// answer a word that is none of them with a usage error (exit 2) and the
// closest subcommands, instead of printing its help and succeeding;
// without any word it prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Run != nil || cmd.RunE != nil || !cmd.HasParent() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		c.SuggestionsMinimumDistance = 2
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return flagErrorf("%s", msg)
	}
}

// Command returns the full command tree, for documentation generators
// (cmd/gen-docs). It is bound to the process's standard streams.
func Command() *cobra.Command {
	root, _ := newRootCmd(newFactory())
	return root
}
