package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
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
end the OAuth grants mcpgov shim --url keeps in the keyring for the remote
servers it fronted: each is revoked at its authorization server (RFC 7009)
when that server names a revocation endpoint, as the client the shim
registered or the one a client's config gives it (--oauth-client-id), then
removed with the registered client. A grant that cannot be revoked there
(no revocation endpoint, its client unknown, the server unreachable) is
still removed here, and a warning says it stays valid there until it
expires. Grants stored before the shim kept an index of them are found
through the remote servers mcpgov wrap put behind a shim and the --url of
every mcpgov shim entry in the clients' configs.

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

// logoutShim ends the grants `mcpgov shim --url` keeps in the OS keyring
// (or the session's sealed store) for the remote servers it fronted: each is revoked at its authorization
// server (RFC 7009) when that server names a revocation endpoint, then
// removed with the registered client. The servers are those the shim's
// index lists and, for grants stored before the index existed, the remote
// URLs wrap put behind a shim (its manifest) and the --url of every shim
// entry in the clients' configs. A grant that could not be
// revoked there is still removed here, with a warning saying why.
func logoutShim(ctx context.Context, opts *LogoutOptions) {
	// The grants are in the OS keyring, or, without one, in the session's
	// sealed store: the same place the shim keeps them.
	kr, _ := shimGrantKeyring(ctx, opts.Factory, "")
	if kr.Index == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var fronted []oauthuser.Fronted
	for _, u := range wrappedRemotes(opts.Factory) {
		fronted = append(fronted, oauthuser.Fronted{URL: u})
	}
	fronted = append(fronted, configuredRemotes(ctx, opts.Factory)...)
	revoked, err := kr.RevokeAll(ctx, shimOAuthUser, http.DefaultClient, fronted)
	for _, r := range revoked {
		if r.AtIssuer {
			opts.IO.Notef("revoked the shim's OAuth grant for %s at its authorization server and removed it from the keyring", r.Server)
			continue
		}
		opts.IO.Warnf("removed the shim's OAuth grant for %s from the keyring, but did not revoke it: %s", r.Server, r.LocalOnly)
	}
	if err != nil {
		opts.IO.Warnf("remove the shim's OAuth grants: %v", err)
	}
}

// configuredRemotes are the --url servers of the `mcpgov shim` entries
// the clients' configs hold (scan), wrap's or written by hand, each with
// the OAuth client its --oauth-client-id and --oauth-client-secret name
// (the secret's reference, resolved by RevokeAll only when a grant is
// revoked as that client); nil when the scan fails.
func configuredRemotes(ctx context.Context, f *Factory) []oauthuser.Fronted {
	home, err := f.HomeDir()
	if err != nil {
		return nil
	}
	rep, err := scan.Scan(ctx, scan.Options{Env: scan.Env{OS: runtime.GOOS, Home: home, Getenv: f.Getenv}, Now: f.Now})
	if err != nil {
		return nil
	}
	resolver := &secretref.Resolver{Getenv: f.Getenv, Keyring: f.Secrets()}
	var out []oauthuser.Fronted
	for _, srv := range rep.Servers {
		if !slices.Contains(srv.Args, "shim") {
			continue
		}
		fr := oauthuser.Fronted{URL: flagValue(srv.Args, "--url"), ClientID: flagValue(srv.Args, "--oauth-client-id"), Issuer: flagValue(srv.Args, "--oauth-issuer")}
		if fr.ClientID != "" {
			// Resolved by RevokeAll only for a grant revoked as this
			// client, not for every entry scanned.
			fr.SecretRef, fr.Resolve = flagValue(srv.Args, "--oauth-client-secret"), resolver.Resolve
		}
		if fr.URL != "" {
			out = append(out, fr)
		}
	}
	return out
}

// flagValue is the value of flag in args ("--flag V" or "--flag=V"),
// before any "--".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// wrappedRemotes are the remote URLs wrap put behind a shim (its
// manifest); nil when there is none or it cannot be read.
func wrappedRemotes(f *Factory) []string {
	dir, err := stateDir(f, "wrap")
	if err != nil {
		return nil
	}
	m, err := wrap.LoadManifest(dir)
	if err != nil {
		return nil
	}
	var urls []string
	for _, r := range m.Entries {
		if r.URL != "" && !slices.Contains(urls, r.URL) {
			urls = append(urls, r.URL)
		}
	}
	return urls
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
