package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// AuthTokenOptions are the inputs of `mcpgov auth token`.
type AuthTokenOptions struct {
	IO      *IOStreams
	Factory *Factory
	Profile string
	// HeaderJSON prints {"Authorization": "Bearer TOKEN"} instead of the
	// token (a client's header helper, such as Claude Code's headersHelper).
	HeaderJSON bool
}

func newAuthTokenCmd(f *Factory, runF func(context.Context, *AuthTokenOptions) error) *cobra.Command {
	opts := &AuthTokenOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a fresh access token for the stored login",
		Long: `Print the login's access token on stdout, refreshing it first when it
expires within a minute. Many processes may run this at once: refreshes are
serialised by a lock file, so a rotated refresh token is never used twice.

With MCPGOV_TOKEN set, print that instead. When the profile names a
gateway_audience, a token issued for another audience is refused. Exit 4
when there is no usable login.`,
		Example: `  mcpgov auth token
  curl -H "Authorization: Bearer $(mcpgov auth token)" https://gateway.example.com/mcp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return authTokenRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "login profile (default: MCPGOV_PROFILE, the config's profile, or \"default\")")
	cmd.Flags().BoolVar(&opts.HeaderJSON, "header-json", false, "print {\"Authorization\": \"Bearer TOKEN\"}, for a client's header helper (Claude Code's headersHelper)")
	return cmd
}

func authTokenRun(ctx context.Context, opts *AuthTokenOptions) error {
	if tok := envToken(opts.Factory); tok != "" {
		return printToken(opts, tok)
	}
	ls, err := resolveForAuth(opts.Factory, opts.Profile)
	if err != nil {
		return err
	}
	s, err := freshSession(ctx, opts.Factory, ls)
	if err != nil {
		return err
	}
	if err := checkGatewayAudience(s, ls); err != nil {
		return err
	}
	return printToken(opts, s.AccessToken)
}

// printToken prints the token, or the header helper's JSON object.
func printToken(opts *AuthTokenOptions, tok string) error {
	if opts.HeaderJSON {
		b, err := json.Marshal(map[string]string{"Authorization": "Bearer " + tok})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(opts.IO.Out, tok)
	return err
}

// checkGatewayAudience refuses a token the gateway would reject: one
// whose audiences lack the profile's gateway_audience.
func checkGatewayAudience(s *login.Session, ls govern.LoginSettings) error {
	return loginError(govern.CheckGatewayAudience(s, ls), ls.Profile)
}
