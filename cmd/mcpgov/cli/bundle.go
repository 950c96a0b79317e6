package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
)

func newBundleCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bundle <command>",
		GroupID: "catalog",
		Short:   "Create and sign governance bundles",
		Long: `A governance bundle is a directory kept in git by the platform team:
catalog.toml (approved servers, virtual servers), with guardrails.toml,
policies/*.rego and an optional bundle.sig beside it.`,
		Example: "  mcpgov bundle init ./governance",
	}
	cmd.AddCommand(
		newBundleInitCmd(f, nil),
		newBundleKeygenCmd(f, nil),
		newBundleSignCmd(f, nil),
		newBundleVerifyCmd(f, nil),
	)
	return cmd
}

// BundleInitOptions are the inputs of `mcpgov bundle init`.
type BundleInitOptions struct {
	IO  *IOStreams
	Dir string
}

func newBundleInitCmd(f *Factory, runF func(*BundleInitOptions) error) *cobra.Command {
	opts := &BundleInitOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "init DIR",
		Short: "Write a commented starter bundle",
		Long: `Write a starter bundle into DIR (created if needed): a commented
catalog.toml with an approved, a pending and a blocked server and a virtual
server, which validates as written. Existing files are never overwritten.`,
		Example: "  mcpgov bundle init ./governance && mcpgov catalog validate ./governance",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			files, err := catalog.WriteStarter(opts.Dir)
			if err != nil {
				return fmt.Errorf("bundle init: %w", err)
			}
			for _, file := range files {
				fmt.Fprintf(opts.IO.ErrOut, "wrote %s\n", file)
			}
			fmt.Fprintf(opts.IO.ErrOut, "next: edit %s/catalog.toml, then run `mcpgov catalog validate %s`\n", opts.Dir, opts.Dir)
			return nil
		},
	}
}
