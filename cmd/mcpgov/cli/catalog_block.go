package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
)

// CatalogBlockOptions are the inputs of `mcpgov catalog block`.
type CatalogBlockOptions struct {
	IO       *IOStreams
	Factory  *Factory
	Bundle   string
	ID       string
	Reviewer string
	Reason   string
}

func newCatalogBlockCmd(f *Factory, runF func(*CatalogBlockOptions) error) *cobra.Command {
	opts := &CatalogBlockOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "block ID",
		Short: "Mark a catalog server blocked, with the reason",
		Long: `Set the server's status to blocked and record who decided and why in its
review table. catalog.toml is edited in place: only those keys change, and
comments and layout are kept.`,
		Example: `  mcpgov catalog block unvetted-shell --reviewer sec-team --reason "runs arbitrary shell commands"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Reviewer == "" || opts.Reason == "" {
				return flagErrorf("--reviewer and --reason are required")
			}
			if runF != nil {
				return runF(opts)
			}
			return catalogBlockRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().StringVar(&opts.Reviewer, "reviewer", "", "who decided (recorded in the review evidence)")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why the server is blocked (recorded as review notes)")
	return cmd
}

func catalogBlockRun(opts *CatalogBlockOptions) error {
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	review := catalog.Review{Reviewer: opts.Reviewer, Date: opts.Factory.Now().UTC(), Notes: opts.Reason}
	changes := append([]catalog.Change{catalog.SetStatus(catalog.StatusBlocked)}, catalog.SetReview(review)...)
	path := filepath.Join(b.Dir, catalog.CatalogFile)
	if err := catalog.EditServer(path, opts.ID, changes...); err != nil {
		return fmt.Errorf("block %s: %w", opts.ID, err)
	}
	opts.IO.Notef("%s is now blocked in %s", opts.ID, path)
	return nil
}
