package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/policy/govern"
)

func newAuthCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "auth <command>",
		GroupID: "identity",
		Short:   "Inspect the stored login and print access tokens",
		Long: `Inspect the login "mcpgov login" stored and hand its access token to
scripts. MCPGOV_TOKEN, when set, overrides the stored login (for CI).`,
		Example: `  mcpgov auth status
  mcpgov auth status --json
  curl -H "Authorization: Bearer $(mcpgov auth token)" https://gateway.example.com/mcp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return flagErrorf("missing subcommand: status or token")
		},
	}
	cmd.AddCommand(newAuthStatusCmd(f, nil), newAuthTokenCmd(f, nil))
	return cmd
}

// loginManager builds the login manager of a resolved profile.
func loginManager(f *Factory, ls govern.LoginSettings) (*login.Manager, error) {
	l := &govern.LocalLogin{Env: f.Env(), Secrets: f.Secrets()}
	m, err := l.Manager(ls)
	if err != nil {
		return nil, withHint(err, "set HOME, or XDG_STATE_HOME to an absolute directory")
	}
	return m, nil
}

// loginError turns the login package's "a login is needed" errors into
// AuthError (exit 4) with a hint saying what to run.
func loginError(err error, profile string) error {
	if err == nil || !login.NeedsLogin(err) {
		return err
	}
	hint := "run `mcpgov login`"
	if profile != "" && profile != "default" {
		hint = fmt.Sprintf("run `mcpgov login --profile %s`", profile)
	}
	switch {
	case errors.Is(err, login.ErrIdPUnreachable):
		hint = "check the issuer URL and your network, then " + hint
	case errors.Is(err, login.ErrIssuerMismatch), errors.Is(err, login.ErrNotIdP):
		hint = "fix the issuer (--issuer or issuer in the config profile), then " + hint
	}
	return &AuthError{Err: withHint(err, hint)}
}

// envToken is MCPGOV_TOKEN: a bearer token that overrides the stored login.
func envToken(f *Factory) string { return f.Getenv("MCPGOV_TOKEN") }

// resolveForAuth loads the configs and resolves the profile for commands
// that use an existing login.
func resolveForAuth(f *Factory, profileFlag string) (govern.LoginSettings, error) {
	return resolveLogin(f, profileFlag, "", "", nil)
}

// freshSession returns the profile's session with a usable access token,
// refreshing it when needed.
func freshSession(ctx context.Context, f *Factory, ls govern.LoginSettings) (*login.Session, error) {
	m, err := loginManager(f, ls)
	if err != nil {
		return nil, err
	}
	s, err := m.Token(ctx)
	return s, loginError(err, ls.Profile)
}
