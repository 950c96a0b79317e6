package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// LogoutOptions are the inputs of `mcpgov logout`.
type LogoutOptions struct {
	IO      *IOStreams
	Factory *Factory
	Profile string
	Revoke  bool
}

func newLogoutCmd(f *Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "logout",
		GroupID: "identity",
		Short:   "Forget the stored login",
		Long: `Remove the profile's login from the keyring and its session file, and
the OAuth grants and registered clients mcpgov shim --url keeps in the
keyring for the remote servers it fronted (removed locally, not revoked at
their authorization servers).

With --revoke, first ask the identity provider to revoke the refresh token
(RFC 7009). Providers without a revocation endpoint (Dex among them) cannot:
the local login is still removed and a warning says the token stays valid at
the provider until it expires. Exit 4 when there is no login to remove.`,
		Example: `  mcpgov logout
  mcpgov logout --revoke --profile work`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "login profile (default: MCPGOV_PROFILE, the config's profile, or \"default\")")
	cmd.Flags().BoolVar(&opts.Revoke, "revoke", false, "revoke the refresh token at the identity provider first")
	return cmd
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	ls, err := resolveForAuth(opts.Factory, opts.Profile)
	if err != nil {
		return err
	}
	m, err := loginManager(opts.Factory, ls)
	if err != nil {
		return err
	}
	user, actor := credsUser(ctx, opts.Factory, "")
	s, err := m.Logout(ctx, opts.Revoke)
	if s == nil && login.NeedsLogin(err) {
		// Logging out twice is not an error: the wanted state holds.
		opts.IO.Notef("not logged in (profile %q); nothing to do", ls.Profile)
		logoutShim(ctx, opts)
		return nil
	}
	if s == nil {
		return loginError(err, ls.Profile)
	}
	if err != nil && !errors.Is(err, login.ErrNoRevocation) {
		return fmt.Errorf("logout of profile %q: %w", ls.Profile, err)
	}
	if err != nil {
		opts.IO.Warnf("%v", err)
	}
	opts.IO.Notef("logged out of %s (profile %q)", s.Issuer, s.Profile)
	logoutVault(ctx, opts, user, actor)
	logoutShim(ctx, opts)
	return nil
}

// logoutShim removes the grants and registered clients `mcpgov shim --url`
// keeps in the OS keyring for the remote servers it fronted (the servers
// its index lists). They are removed locally only: the authorization
// servers are not asked to revoke them (their endpoints are discovered per
// server by the shim), so a refresh token stays valid there until it
// expires.
func logoutShim(ctx context.Context, opts *LogoutOptions) {
	kr := shimKeyring(opts.Factory)
	if kr.Index == "" {
		return
	}
	done, err := kr.Forget(ctx, shimOAuthUser)
	if len(done) > 0 {
		opts.IO.Notef("removed from the keyring the shim's OAuth grants and registered clients for %s (not revoked at their authorization servers)", strings.Join(done, ", "))
	}
	if err != nil {
		opts.IO.Warnf("remove the shim's OAuth grants: %v", err)
	}
}

// logoutVault revokes the OAuth grants the vault holds for the person who
// logged out (their own keys stay: they stored them). A vault that cannot
// be opened holds nothing of theirs to revoke.
func logoutVault(ctx context.Context, opts *LogoutOptions, user string, actor audit.Identity) {
	c, err := opts.Factory.Config()
	if err != nil {
		return
	}
	v, closeFn, err := govern.OpenVaultAudited(ctx, opts.Factory.Env(), c, opts.Factory.Secrets(), false, actor, func(string) {})
	if err != nil {
		return
	}
	defer closeFn()
	n, err := v.RevokeTokens(ctx, user, "logout")
	if err != nil {
		opts.IO.Warnf("revoke the vault's tokens of %s: %v", user, err)
		return
	}
	if n > 0 {
		opts.IO.Notef("revoked %d OAuth grants of %s in the vault", n, user)
	}
}
