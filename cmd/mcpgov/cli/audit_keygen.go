package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditKeygenOptions are the inputs of `mcpgov audit keygen`.
type AuditKeygenOptions struct {
	IO   *IOStreams
	Out  string
	Name string
}

func newAuditKeygenCmd(f *Factory, runF func(*AuditKeygenOptions) error) *cobra.Command {
	opts := &AuditKeygenOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Create a checkpoint signing key to keep outside the audit store",
		Long: `Create an ed25519 key for signing audit checkpoints at FILE (mode 0600; an
existing file is never replaced) and print its verifier key on stdout.

By default each store makes its own key, signing.key, inside the store, where
its owner can also use it to sign a rewritten history. For a managed
deployment, create the key where users cannot replace it (/etc/mcpgov) and
name it in the managed config as [audit] signing_key: every store on the
machine then signs with it, and audit verify trusts its verifier key instead
of the store's signing.pub. The users who run the shim must be able to read
the key (chmod 0644, or a group), so it does not stop them from signing;
only a witness ([audit] witness) catches a history signed again (see mcpgov
help audit-threats).`,
		Example: `  sudo mcpgov audit keygen --out /etc/mcpgov/audit.key > /etc/mcpgov/audit.pub`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "" {
				return flagErrorf("--out is required")
			}
			if runF != nil {
				return runF(opts)
			}
			return auditKeygenRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "where to write the signing key")
	cmd.Flags().StringVar(&opts.Name, "name", "", "key name in signatures (default mcpgov-audit-HOSTNAME)")
	return cmd
}

func auditKeygenRun(opts *AuditKeygenOptions) error {
	name := opts.Name
	if name == "" {
		host, _ := os.Hostname()
		name = "mcpgov-audit-" + host
	}
	vkey, err := audit.NewKeyFile(opts.Out, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, vkey)
	opts.IO.Notef("wrote the signing key to %s; name it as [audit] signing_key in the managed config", opts.Out)
	return nil
}
