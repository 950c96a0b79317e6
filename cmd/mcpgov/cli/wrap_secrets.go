package cli

import (
	"context"
	"fmt"
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
			if !store {
				_, ref := govern.MovedSecretRef(s.Client, s.Name, name)
				return ref, nil
			}
			v, err := open()
			if err != nil {
				return "", err
			}
			return moveSecret(ctx, v, s, name, value)
		}
	}
	return func() { closeFn() }
}

// moveSecret stores value under the entry's reference and returns it. Two
// entries of one client may share a name (a user-scope and a project-scope
// "keys", or two projects' "notes"): a reference that already holds another
// value is never overwritten — that would launch one server with the
// other's secret and lose the first for good — so the entry takes the
// next free one ("keys~2", …). The same value reuses its reference, so a
// wrap after an unwrap writes the same file again.
func moveSecret(ctx context.Context, v *vault.Vault, s scan.Server, name, value string) (string, error) {
	for i := 1; i <= 100; i++ {
		entry := s.Name
		if i > 1 {
			entry = fmt.Sprintf("%s~%d", s.Name, i)
		}
		server, ref := govern.MovedSecretRef(s.Client, entry, name)
		exists, same, err := v.SecretHolds(ctx, server, name, value)
		switch {
		case err != nil:
			return "", err
		case !exists:
			return ref, v.SetSecret(ctx, server, name, value)
		case same:
			return ref, nil
		}
	}
	return "", fmt.Errorf("the vault holds 100 other secrets named %s for %s entries called %q: remove the stale ones with mcpgov creds delete", name, s.Client, s.Name)
}
