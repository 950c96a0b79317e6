package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. The returned flag tells run whether a
// command's own run function started, so earlier failures count as usage
// errors.
func newRootCmd(f *Factory) (*cobra.Command, *bool) {
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
	root.AddCommand(
		newScanCmd(f, nil),
		newCatalogCmd(f),
		newBundleCmd(f),
		newPolicyCmd(f),
		newWrapCmd(f, nil), newUnwrapCmd(f, nil),
		newShimCmd(f, nil), newShimLingerCmd(f), newGatewayCmd(f),
		newLoginCmd(f, nil), newLogoutCmd(f, nil), newAuthCmd(f), newCredsCmd(f),
		newAuditCmd(f),
		newVersionCmd(f),
	)
	for _, topic := range helpTopics() {
		root.AddCommand(newHelpTopicCmd(topic))
	}
	refuseUnknownSubcommands(root)
	return root, started
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
