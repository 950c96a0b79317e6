package cli

import (
	"context"
	"sync"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// wrapSecrets gives wrap (with --move-secrets) and unwrap the vault: the
// vault is opened on first use, so entries without secrets need no key.
// The returned func closes what was opened.
func wrapSecrets(ctx context.Context, opts *WrapOptions, wo *wrap.Options, unwrap bool) func() {
	var (
		once    sync.Once
		v       *vault.Vault
		closeFn = func() {}
		openErr error
	)
	open := func() (*vault.Vault, error) {
		once.Do(func() {
			_, actor := credsUser(ctx, opts.Factory, "")
			v, closeFn, openErr = openVault(ctx, opts.Factory, !unwrap, actor)
		})
		return v, openErr
	}
	if unwrap {
		wo.RestoreSecret = func(ref string) (string, error) {
			v, err := open()
			if err != nil {
				return "", err
			}
			r, err := govern.SecretResolver(opts.Factory.Env(), opts.Factory.Secrets(), v).Resolve(ctx, ref)
			if err != nil {
				return "", err
			}
			return r, nil
		}
	} else if opts.MoveSecrets {
		wo.MoveSecret = func(s scan.Server, name, value string, store bool) (string, error) {
			server, ref := govern.MovedSecretRef(s.Client, s.Name, name)
			if !store {
				return ref, nil
			}
			v, err := open()
			if err != nil {
				return "", err
			}
			return ref, v.SetSecret(ctx, server, name, value)
		}
	}
	return func() { closeFn() }
}
