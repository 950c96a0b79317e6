package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// Streams: `creds set` reads the key from the terminal (hidden) or stdin,
// never from arguments, and prints nothing on stdout; `creds list` prints
// the entries (never a value) on stdout; `creds delete` prints nothing on
// stdout. What was done goes to stderr.

func newCredsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "creds <command>",
		GroupID: "identity",
		Short:   "Store, list and delete your own credentials for catalog servers (the vault)",
		Long: `Servers whose catalog entry has auth type api_key_per_user take each person's
own key. "mcpgov creds set SERVER" stores yours in the vault, where the
shim (and a gateway sharing the vault) injects it into that server's
requests or environment; the key never appears in a client config.

The vault is one file ($XDG_STATE_HOME/mcpgov/vault.json, or MCPGOV_VAULT),
or, when [gateway] store names the store gateway replicas share, that
store (Redis holds the entries sealed, never a value). Its values are
encrypted (AES-256-GCM) under a key from MCPGOV_VAULT_KEY,
a secret reference: env:NAME, file:PATH or keyring:SERVICE/ACCOUNT. By
default the key is kept in the OS keyring (keyring:mcpgov/vault-key) and
created on the first "creds set". Every change and use is recorded in the
audit trail, never the value.`,
		Example: `  mcpgov creds set github
  printf %s "$KEY" | mcpgov creds set github
  mcpgov creds list
  mcpgov creds delete github`,
	}
	cmd.AddCommand(newCredsSetCmd(f, nil), newCredsListCmd(f, nil), newCredsDeleteCmd(f, nil))
	return cmd
}

// credsUser is whose entries a creds command changes: --user when given,
// else the local login's (or "local" without one).
func credsUser(ctx context.Context, f *Factory, flag string) (string, audit.Identity) {
	var id audit.Identity
	if l, err := f.localLogin(); err == nil {
		id, _ = l.Identity(ctx)
	}
	if flag != "" {
		return flag, id
	}
	return govern.LocalUser(id), id
}

// openVault opens the vault for a creds command, recording its events.
func openVault(ctx context.Context, f *Factory, create bool, actor audit.Identity) (*vault.Vault, func(), error) {
	c, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	v, closeFn, err := govern.OpenVaultAudited(ctx, f.Env(), c, f.Secrets(), create, actor, func(msg string) { f.IO.Warnf("%s", msg) })
	if err != nil {
		return nil, nil, withHint(fmt.Errorf("open the vault: %w", err), "set MCPGOV_VAULT_KEY to a secret reference holding 32 random bytes as base64 (env:NAME, file:PATH, keyring:SERVICE/ACCOUNT)")
	}
	return v, closeFn, nil
}
