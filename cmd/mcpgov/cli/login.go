package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login"
)

// LoginOptions are the inputs of `mcpgov login`.
type LoginOptions struct {
	IO      *IOStreams
	Factory *Factory

	Issuer    string
	ClientID  string
	Scopes    []string
	Profile   string
	Web       bool
	NoBrowser bool
	WithToken bool
}

func newLoginCmd(f *Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "login",
		GroupID: "identity",
		Short:   "Log in to your organisation's identity provider",
		Long: `Log in with OpenID Connect so every tool call the shim relays is tied to you.

By default this runs the device flow (RFC 8628): mcpgov prints a URL and a
one-time code on stderr, opens the browser when there is a display and a
terminal, and waits until you approve. --web uses a browser redirect to a
one-shot listener on 127.0.0.1 instead (authorization code with PKCE), for
identity providers that block the device flow. --with-token stores a
personal token read from stdin.

The ID token is verified (issuer, audience, signature, expiry). The refresh
token goes to the OS keyring; without a usable keyring it is written to a
0600 file and a warning names it. Issuer, client id and scopes come from the
flags or the config profile ([profiles.NAME] in config.toml); a managed
config can fix issuer and client id.`,
		Example: `  mcpgov login --issuer https://idp.example.com --client-id mcpgov-cli
  mcpgov login --web
  mcpgov login --profile work --no-browser
  echo "$TOKEN" | mcpgov login --with-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.WithToken && (opts.Web || len(opts.Scopes) > 0) {
				return flagErrorf("--with-token reads a token from stdin; it takes neither --web nor --scopes")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Issuer, "issuer", "", "OpenID issuer URL (default: the profile's issuer)")
	cmd.Flags().StringVar(&opts.ClientID, "client-id", "", "OAuth client ID of mcpgov at the identity provider (default: the profile's)")
	cmd.Flags().StringSliceVar(&opts.Scopes, "scopes", nil, "scopes to request (default: the profile's, else openid,profile,email,groups,offline_access)")
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "login profile (default: MCPGOV_PROFILE, the config's profile, or \"default\")")
	cmd.Flags().BoolVar(&opts.Web, "web", false, "log in through a browser redirect to 127.0.0.1 (PKCE) instead of the device flow")
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "never open a browser; only print the URL")
	cmd.Flags().BoolVar(&opts.WithToken, "with-token", false, "read a personal token from stdin and store it")
	return cmd
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	f := opts.Factory
	c, err := f.Config()
	if err != nil {
		return err
	}
	ls, err := resolveLogin(f, opts.Profile, opts.Issuer, opts.ClientID, opts.Scopes)
	if err != nil {
		return err
	}
	if ls.Issuer == "" {
		return &FlagError{Err: withHint(fmt.Errorf("no issuer: pass --issuer or set issuer in [profiles.%s] of %s", ls.Profile, c.User.Path()),
			"servers that list no groups (the starter bundle's) need no login; `mcpgov help config` describes the profile keys")}
	}
	if err := login.ValidIssuer(ls.Issuer); err != nil {
		return &FlagError{Err: err}
	}
	if ls.ClientID == "" && !opts.WithToken {
		return flagErrorf("no client id: pass --client-id or set client_id in [profiles.%s] of %s", ls.Profile, c.User.Path())
	}
	m, err := loginManager(f, ls)
	if err != nil {
		return err
	}
	var s *login.Session
	switch {
	case opts.WithToken:
		raw, rerr := io.ReadAll(io.LimitReader(opts.IO.In, 64<<10))
		if rerr != nil {
			return fmt.Errorf("read token from stdin: %w", rerr)
		}
		s, err = m.LoginToken(ctx, string(raw))
	case opts.Web:
		s, err = m.LoginLoopback(ctx, func(p login.BrowserPrompt) {
			opts.IO.Notef("open this URL to log in:\n%s", p.URL)
			openBrowser(opts, p.URL)
			opts.IO.Notef("waiting for the browser to finish the login…")
		})
	default:
		s, err = m.LoginDevice(ctx, func(p login.DevicePrompt) {
			open, also := p.VerificationURI, ""
			if p.VerificationURIComplete != "" {
				open, also = p.VerificationURIComplete, fmt.Sprintf(" (or open %s)", p.VerificationURIComplete)
			}
			opts.IO.Notef("first copy your one-time code: %s\nthen open %s and enter it%s", p.UserCode, p.VerificationURI, also)
			openBrowser(opts, open)
			opts.IO.Notef("waiting for approval (the code expires at %s)…", p.Expiry.Local().Format(time.Kitchen))
		})
	}
	if err != nil {
		return loginError(fmt.Errorf("login to %s failed: %w", ls.Issuer, err), ls.Profile)
	}
	if kerr := m.KeyringFallback(); kerr != nil {
		opts.IO.Warnf("no usable keyring: %v; the login is stored in plain text in %s (mode 0600): anyone who can read your files can use it", kerr, m.SessionPath())
	}
	who := firstNonEmpty(s.Identity.Email, s.Identity.Name, s.Identity.Subject, "a personal token")
	groups := ""
	if len(s.Identity.Groups) > 0 {
		groups = " (groups: " + strings.Join(s.Identity.Groups, ", ") + ")"
	}
	opts.IO.Notef("logged in to %s as %s%s; profile %q, stored in the %s", s.Issuer, who, groups, s.Profile, s.Storage)
	return nil
}

// openBrowser opens url only when someone can use it: not with
// --no-browser, not over SSH, not on a Linux box without a display, and
// only when stdin and stdout are a terminal. The URL is always printed
// first; a failure to open is only a note.
func openBrowser(opts *LoginOptions, url string) {
	getenv := opts.Factory.Getenv
	if opts.NoBrowser || getenv("SSH_CONNECTION") != "" || !opts.IO.CanPrompt() {
		return
	}
	if runtime.GOOS == "linux" && getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return
	}
	open := opts.Factory.OpenBrowser
	if open == nil {
		return
	}
	done := make(chan error, 1)
	go func() { done <- open(url) }()
	select {
	case err := <-done:
		if err != nil {
			opts.IO.Warnf("could not open a browser: %v", errors.Unwrap(err))
		}
	case <-time.After(2 * time.Second):
		// A text-mode browser may hold the terminal; do not wait for it.
	}
}
