package govern

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login"
)

// IdentitySource tells who is behind a connection. The shim's is the
// local login (LocalLogin), fixed for the life of its one connection; a
// gateway's verifies the bearer token of each request.
type IdentitySource interface {
	// Identity returns the verified identity, or Identity{Method: "none"}
	// and why there is none.
	Identity(ctx context.Context) (audit.Identity, error)
	// Required reports whether an identity is required: without one, an
	// error from Identity is no reason to refuse calls.
	Required() bool
}

// LocalLogin is the identity of the user's stored login (`mcpgov login`),
// or of MCPGOV_TOKEN. It never prompts, opens a browser or writes
// anything. When the access token is still fresh it reads the session
// file and makes no network or keyring call; otherwise it refreshes under
// the profile's lock.
type LocalLogin struct {
	Env     Env
	Configs Configs
	// Secrets is the token store (the OS keyring); tests give a fake.
	Secrets login.SecretStore
}

var _ IdentitySource = (*LocalLogin)(nil)

// LoginDir is where session files and locks live: the state directory's
// login.
func LoginDir(env Env) (string, error) { return StateDir(env, "login") }

// Settings resolves the login profile (no flags).
func (l *LocalLogin) Settings() (LoginSettings, error) {
	return ResolveLogin(l.Env, l.Configs, LoginFlags{})
}

// Manager is the login manager of a resolved profile; an error when there
// is no state directory to keep the login in.
func (l *LocalLogin) Manager(ls LoginSettings) (*login.Manager, error) {
	dir, err := LoginDir(l.Env)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	m := &login.Manager{
		Profile:  ls.Profile,
		Issuer:   ls.Issuer,
		ClientID: ls.ClientID,
		Scopes:   ls.Scopes,
		Audience: ls.GatewayAudience,
		Dir:      dir,
		Secrets:  l.Secrets,
		Now:      l.Env.Now,
	}
	m.OnLockWait = OnLockWait
	return m, nil
}

// OnLockWait, when set, is called when a login refresh finds the
// profile's lock held. Only a test binary sets it, from Go code run
// before the command (the concurrent-refresh test notes each waiting
// process, instead of holding the first refresh for a fixed time); no
// configuration or environment variable of the shipped binary can.
var OnLockWait func()

// Identity is the verified identity attached to every policy input and
// audit record. Without a usable login it returns Identity{Method:
// "none"} and a *LoginError saying what is wrong and what to run.
func (l *LocalLogin) Identity(ctx context.Context) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	ls, err := l.Settings()
	if err != nil {
		return none, fmt.Errorf("identity: %w", err)
	}
	if tok := l.Env.getenv("MCPGOV_TOKEN"); tok != "" {
		return l.envIdentity(ctx, ls, tok)
	}
	m, err := l.Manager(ls)
	if err != nil {
		return none, fmt.Errorf("identity: %w", err)
	}
	s, err := m.Token(ctx)
	if err != nil {
		return none, NewLoginError(err, ls.Profile)
	}
	method := "oidc"
	if s.Kind == login.KindToken {
		method = "token"
	}
	return AuditIdentity(s.Identity, method), nil
}

// envIdentity is the identity of MCPGOV_TOKEN: verified against the
// profile's issuer when it is a JWT and an issuer is configured; an opaque
// token is anonymous here (the gateway that issued it knows whose it is).
func (l *LocalLogin) envIdentity(ctx context.Context, ls LoginSettings, tok string) (audit.Identity, error) {
	if !login.IsJWT(tok) || ls.Issuer == "" {
		return audit.Identity{Method: "token", Issuer: ls.Issuer}, nil
	}
	m, err := l.Manager(ls)
	if err != nil {
		return audit.Identity{Method: "none"}, fmt.Errorf("MCPGOV_TOKEN: %w", err)
	}
	id, _, err := m.VerifyToken(ctx, tok)
	if err != nil {
		return audit.Identity{Method: "none"}, fmt.Errorf("MCPGOV_TOKEN: %w; unset it or set a valid token", err)
	}
	return AuditIdentity(id, "token"), nil
}

// Required reports whether this user is meant to be logged in: the
// profile names an issuer, or a login was stored. Without either, calls
// run unauthenticated and are recorded with Method "none".
func (l *LocalLogin) Required() bool {
	ls, err := l.Settings()
	if err != nil || ls.Issuer != "" {
		return true
	}
	dir, err := LoginDir(l.Env)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, ls.Profile+".json"))
	return err == nil
}

// UpstreamHeaders returns the Authorization header for an HTTP upstream:
// the user's access token, for the gateway's audience, only when
// upstreamURL is the profile's gateway_url. Every other upstream gets nil:
// a user's token is never forwarded to a server it was not issued for.
func (l *LocalLogin) UpstreamHeaders(ctx context.Context, upstreamURL string) (http.Header, error) {
	ls, err := l.Settings()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if ls.GatewayURL == "" || !IsGatewayEndpoint(ls.GatewayURL, upstreamURL) {
		return nil, nil
	}
	var token string
	if tok := l.Env.getenv("MCPGOV_TOKEN"); tok != "" {
		token = tok
	} else {
		m, err := l.Manager(ls)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		s, err := m.Token(ctx)
		if err != nil {
			return nil, NewLoginError(err, ls.Profile)
		}
		if err := CheckGatewayAudience(s, ls); err != nil {
			return nil, err
		}
		token = s.AccessToken
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return h, nil
}

// CheckGatewayAudience refuses a token the gateway would reject: one
// whose audiences lack the profile's gateway_audience.
func CheckGatewayAudience(s *login.Session, ls LoginSettings) error {
	if ls.GatewayAudience == "" || s.Kind == login.KindToken && len(s.Audience) == 0 {
		return nil
	}
	for _, a := range s.Audience {
		if a == ls.GatewayAudience {
			return nil
		}
	}
	aud := "no audience"
	if len(s.Audience) > 0 {
		aud = fmt.Sprintf("audience %v", s.Audience)
	}
	return fmt.Errorf("%w: the stored token has %s, not the gateway's %q", login.ErrWrongAudience, aud, ls.GatewayAudience)
}

// AuditIdentity is a login identity as audit records carry it.
func AuditIdentity(id login.Identity, method string) audit.Identity {
	return audit.Identity{
		Subject: id.Subject, Email: id.Email, Name: id.Name, Groups: id.Groups, Issuer: id.Issuer, Method: method,
	}
}

// LoginError is a login failure plus what to run about it. NeedsLogin is
// set when only a (new) login helps: the CLI exits with its
// authentication code then.
type LoginError struct {
	Err        error
	Run        string
	NeedsLogin bool
}

func (e *LoginError) Error() string { return fmt.Sprintf("%v; run `%s`", e.Err, e.Run) }
func (e *LoginError) Unwrap() error { return e.Err }

// NewLoginError phrases a login failure for refusal messages, which reach
// the AI client: what is wrong, then what to run.
func NewLoginError(err error, profile string) *LoginError {
	run := "mcpgov login"
	if profile != "default" {
		run += " --profile " + profile
	}
	if errors.Is(err, login.ErrKeyringUnavailable) || login.NeedsLogin(err) {
		return &LoginError{Err: err, Run: run, NeedsLogin: true}
	}
	return &LoginError{Err: fmt.Errorf("identity: %w", err), Run: run}
}

// SameURL compares two URLs as the same endpoint: scheme and host case-
// insensitively, default ports dropped, and a trailing slash ignored.
func SameURL(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	norm := func(u *url.URL) string {
		host := strings.ToLower(u.Host)
		host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[strings.ToLower(u.Scheme)])
		return strings.ToLower(u.Scheme) + "://" + host + strings.TrimSuffix(u.EscapedPath(), "/") + "?" + u.RawQuery
	}
	return norm(ua) == norm(ub)
}

// DescribeIdentity is an identity on one line: who, subject, groups,
// issuer and how it was established. It holds no secret.
func DescribeIdentity(id audit.Identity) string {
	who := FirstNonEmpty(id.Email, id.Name, id.Subject, "anonymous token")
	var parts []string
	if id.Subject != "" {
		parts = append(parts, "subject "+id.Subject)
	}
	if len(id.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(id.Groups, ","))
	}
	if id.Issuer != "" {
		parts = append(parts, "issuer "+id.Issuer)
	}
	parts = append(parts, "via "+id.Method)
	return who + " (" + strings.Join(parts, "; ") + ")"
}
