package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login/vault"
)

// CredsListOptions are the inputs of `mcpgov creds list`.
type CredsListOptions struct {
	IO      *IOStreams
	Factory *Factory
	User    string
	All     bool
	JSON    bool
}

func newCredsListCmd(f *Factory, runF func(context.Context, *CredsListOptions) error) *cobra.Command {
	opts := &CredsListOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your credentials in the vault (servers and kinds, never values)",
		Example: `  mcpgov creds list
  mcpgov creds list --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.All && opts.User != "" {
				return flagErrorf("--all and --user disagree; use one of them")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credsListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "list this person's entries (default: yours)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "list every person's entries and the shared ones")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func credsListRun(ctx context.Context, opts *CredsListOptions) error {
	user, actor := credsUser(ctx, opts.Factory, opts.User)
	if opts.All {
		user = ""
	}
	v, closeFn, err := openVault(ctx, opts.Factory, false, actor)
	if err != nil {
		return err
	}
	defer closeFn()
	list, err := v.List(ctx, user)
	if err != nil {
		return err
	}
	if opts.JSON {
		if list == nil {
			list = []vault.Info{}
		}
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int          `json:"schemaVersion"`
			Entries       []vault.Info `json:"entries"`
		}{1, list})
	}
	if len(list) == 0 {
		opts.IO.Notef("no credentials in the vault for %s", orAll(user))
		return nil
	}
	tw := newTableWriter(opts.IO.Out)
	fmt.Fprintln(tw, "SERVER\tUSER\tKIND\tNAME\tUPDATED")
	for _, e := range list {
		u := e.User
		if u == "" {
			u = "(shared)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Server, u, e.Kind, e.Name, e.Updated.Format(time.RFC3339))
	}
	return tw.Flush()
}

func orAll(user string) string {
	if user == "" {
		return "anyone"
	}
	return fmt.Sprintf("%q", user)
}
