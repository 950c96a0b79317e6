package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// Streams: `gateway creds revoke` prints nothing on stdout; how many
// entries it revoked goes to stderr.

func newGatewayCredsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "creds <command>",
		Short: "Manage the outbound credentials the gateway holds for people",
		Long: `The gateway's vault holds people's keys and OAuth tokens for upstream
servers (MCPGOV_VAULT, with its key from MCPGOV_VAULT_KEY). "revoke --user U"
removes all of one person's entries at once (offboarding); each revocation
is recorded in the audit trail.`,
		Example: `  mcpgov gateway creds revoke --user ann@example.com`,
	}
	cmd.AddCommand(newGatewayCredsRevokeCmd(f, nil))
	return cmd
}

// GatewayCredsRevokeOptions are the inputs of `mcpgov gateway creds revoke`.
type GatewayCredsRevokeOptions struct {
	IO      *IOStreams
	Factory *Factory
	User    string
}

func newGatewayCredsRevokeCmd(f *Factory, runF func(context.Context, *GatewayCredsRevokeOptions) error) *cobra.Command {
	opts := &GatewayCredsRevokeOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "revoke --user U",
		Short: "Revoke every credential the vault holds for a person (offboarding)",
		Long: `Remove every key and token the vault holds for one person, shared by the
gateway on this host (MCPGOV_VAULT): their next session gets no credentials
until new ones are stored. Each revocation is recorded in the audit trail.`,
		Example: `  mcpgov gateway creds revoke --user ann@example.com`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.User == "" {
				return flagErrorf("name the person: --user U (as records show them: email, else subject)")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return gatewayCredsRevokeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "the person whose credentials are revoked")
	return cmd
}

func gatewayCredsRevokeRun(ctx context.Context, opts *GatewayCredsRevokeOptions) error {
	_, actor := credsUser(ctx, opts.Factory, opts.User)
	v, closeFn, err := openVault(ctx, opts.Factory, false, actor)
	if err != nil {
		return err
	}
	defer closeFn()
	n, err := v.RevokeUser(ctx, opts.User, "revoked with mcpgov gateway creds revoke")
	if err != nil {
		if n > 0 { // the rest were revoked; the error names what is left
			opts.IO.Notef("revoked %d credentials of %s", n, opts.User)
		}
		return err
	}
	opts.IO.Notef("revoked %d credentials of %s", n, opts.User)
	return nil
}
