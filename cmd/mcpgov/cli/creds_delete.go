package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login/vault"
)

// CredsDeleteOptions are the inputs of `mcpgov creds delete`.
type CredsDeleteOptions struct {
	IO      *IOStreams
	Factory *Factory
	Server  string
	User    string
}

func newCredsDeleteCmd(f *Factory, runF func(context.Context, *CredsDeleteOptions) error) *cobra.Command {
	opts := &CredsDeleteOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "delete SERVER",
		Short: "Delete your key for a catalog server from the vault",
		Example: `  mcpgov creds delete github
  mcpgov creds delete github --user ann@example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Server = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credsDeleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "delete this person's key (default: yours)")
	return cmd
}

func credsDeleteRun(ctx context.Context, opts *CredsDeleteOptions) error {
	user, actor := credsUser(ctx, opts.Factory, opts.User)
	v, closeFn, err := openVault(ctx, opts.Factory, false, actor)
	if err != nil {
		return err
	}
	defer closeFn()
	err = v.Delete(ctx, vault.Key{User: user, Server: opts.Server, Name: vault.NameAPIKey}, "deleted by its owner")
	if errors.Is(err, vault.ErrNotFound) {
		return withHint(fmt.Errorf("the vault has no key for %s of %s", opts.Server, user), "mcpgov creds list shows what it holds")
	}
	if err != nil {
		return err
	}
	opts.IO.Notef("deleted the key for %s of %s", opts.Server, user)
	return nil
}
