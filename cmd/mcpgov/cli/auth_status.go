package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/login"
)

// AuthStatusOptions are the inputs of `mcpgov auth status`.
type AuthStatusOptions struct {
	IO      *IOStreams
	Factory *Factory
	Profile string
	JSON    bool
}

func newAuthStatusCmd(f *Factory, runF func(context.Context, *AuthStatusOptions) error) *cobra.Command {
	opts := &AuthStatusOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show who is logged in, until when, and where the login is stored",
		Long: `Show the stored login of a profile: issuer, subject, email, groups, when
the access token expires, and which storage holds the login (keyring, file,
or env for MCPGOV_TOKEN). Nothing is refreshed and no token is printed.

Exit 4 when not logged in (with --json the document still says so).`,
		Example: `  mcpgov auth status
  mcpgov auth status --json --profile work`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return authStatusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "login profile (default: MCPGOV_PROFILE, the config's profile, or \"default\")")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON document")
	return cmd
}

// authStatus is the --json document.
type authStatus struct {
	SchemaVersion int        `json:"schemaVersion"`
	Profile       string     `json:"profile"`
	LoggedIn      bool       `json:"loggedIn"`
	Kind          string     `json:"kind,omitempty"`
	Issuer        string     `json:"issuer,omitempty"`
	ClientID      string     `json:"clientId,omitempty"`
	Subject       string     `json:"subject,omitempty"`
	Email         string     `json:"email,omitempty"`
	Name          string     `json:"name,omitempty"`
	Groups        []string   `json:"groups,omitempty"`
	Audience      []string   `json:"audience,omitempty"`
	Expiry        *time.Time `json:"expiry,omitempty"`
	Expired       bool       `json:"expired"`
	Refreshable   bool       `json:"refreshable"`
	Storage       string     `json:"storage,omitempty"`
	StoragePath   string     `json:"storagePath,omitempty"`
	Error         string     `json:"error,omitempty"`
}

func authStatusRun(ctx context.Context, opts *AuthStatusOptions) error {
	f := opts.Factory
	ls, err := resolveForAuth(f, opts.Profile)
	if err != nil {
		return err
	}
	st := authStatus{SchemaVersion: 1, Profile: ls.Profile}
	m, err := loginManager(f, ls)
	if err != nil {
		return err
	}
	var s *login.Session
	if tok := envToken(f); tok != "" {
		st.Storage, st.StoragePath, st.Kind = login.StorageEnv, "MCPGOV_TOKEN", login.KindToken
		s = &login.Session{Kind: login.KindToken, Issuer: ls.Issuer}
		if login.IsJWT(tok) && ls.Issuer != "" {
			id, exp, verr := m.VerifyToken(ctx, tok)
			err = verr
			s.Identity, s.Expiry = id, exp
		}
	} else {
		s, err = m.Load()
		if s != nil {
			st.Storage = s.Storage
			if s.Storage == login.StorageFile {
				st.StoragePath = m.SessionPath()
			}
		}
	}
	if err == nil {
		st.LoggedIn = true
		st.Kind, st.Issuer, st.ClientID, st.Audience = s.Kind, s.Issuer, s.ClientID, s.Audience
		id := s.Identity
		st.Subject, st.Email, st.Name, st.Groups = id.Subject, id.Email, id.Name, id.Groups
		if !s.Expiry.IsZero() {
			exp := s.Expiry.UTC()
			st.Expiry = &exp
			st.Expired = !f.Now().Before(exp)
		}
		st.Refreshable = s.Kind == login.KindOIDC && (s.Storage == login.StorageKeyring || s.Secret != "")
		if st.Expired && !st.Refreshable {
			st.LoggedIn = false
			err = fmt.Errorf("%w: the token expired at %s", login.ErrExpired, s.Expiry.UTC().Format(time.RFC3339))
		}
	}
	if err != nil {
		st.LoggedIn = false
		st.Error = err.Error()
	}
	if opts.JSON {
		if werr := writeJSON(opts.IO.Out, st); werr != nil {
			return werr
		}
	} else if err == nil {
		printStatus(opts.IO, st)
	}
	if err != nil {
		if !login.NeedsLogin(err) && !errors.Is(err, login.ErrKeyringUnavailable) {
			return err
		}
		return loginError(err, ls.Profile)
	}
	return nil
}

func printStatus(io *IOStreams, st authStatus) {
	w := newTabWriter(io.Out)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s:\t%s\n", k, v)
		}
	}
	row("profile", st.Profile)
	row("issuer", st.Issuer)
	row("subject", st.Subject)
	row("email", st.Email)
	row("name", st.Name)
	row("groups", strings.Join(st.Groups, ", "))
	if st.Expiry != nil {
		state := "valid"
		switch {
		case st.Expired && st.Refreshable:
			state = "expired; refreshed on next use"
		case st.Expired:
			state = "expired"
		}
		row("token expiry", fmt.Sprintf("%s (%s)", st.Expiry.Format(time.RFC3339), state))
	}
	storage := st.Storage
	if st.StoragePath != "" {
		storage += " (" + st.StoragePath + ")"
	}
	row("storage", storage)
	_ = w.Flush()
}
