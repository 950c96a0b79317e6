package cli

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

// shimIdentity returns the verified identity the shim attaches to every
// policy input and audit record. It never prompts, opens a browser or
// writes to stdout (the MCP protocol stream). When the access token is
// still fresh it reads two config files and the session file and makes no
// network or keyring call; otherwise it refreshes under the profile's lock.
//
// Without a usable login it returns Identity{Method: "none"} and an error
// saying what is wrong and to run `mcpgov login`.
func shimIdentity(ctx context.Context, f *Factory) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	ls, err := resolveForAuth(f, "")
	if err != nil {
		return none, fmt.Errorf("identity: %w", err)
	}
	if tok := envToken(f); tok != "" {
		return envIdentity(ctx, f, ls, tok)
	}
	s, err := loginManager(f, ls).Token(ctx)
	if err != nil {
		return none, shimLoginError(err, ls.Profile)
	}
	method := "oidc"
	if s.Kind == login.KindToken {
		method = "token"
	}
	return auditIdentity(s.Identity, method), nil
}

// envIdentity is the identity of MCPGOV_TOKEN: verified against the
// profile's issuer when it is a JWT and an issuer is configured; an opaque
// token is anonymous here (the gateway that issued it knows whose it is).
func envIdentity(ctx context.Context, f *Factory, ls loginSettings, tok string) (audit.Identity, error) {
	if !login.IsJWT(tok) || ls.Issuer == "" {
		return audit.Identity{Method: "token", Issuer: ls.Issuer}, nil
	}
	id, _, err := loginManager(f, ls).VerifyToken(ctx, tok)
	if err != nil {
		return audit.Identity{Method: "none"}, fmt.Errorf("MCPGOV_TOKEN: %w; unset it or set a valid token", err)
	}
	return auditIdentity(id, "token"), nil
}

func auditIdentity(id login.Identity, method string) audit.Identity {
	return audit.Identity{
		Subject: id.Subject, Email: id.Email, Name: id.Name, Groups: id.Groups, Issuer: id.Issuer, Method: method,
	}
}

// shimLoginError phrases a login failure for the shim's refusal messages,
// which reach the AI client: what is wrong, then what to run.
func shimLoginError(err error, profile string) error {
	run := "mcpgov login"
	if profile != "default" {
		run += " --profile " + profile
	}
	if errors.Is(err, login.ErrKeyringUnavailable) || login.NeedsLogin(err) {
		return &AuthError{Err: &shimLoginErr{err: err, run: run}}
	}
	return &shimLoginErr{err: fmt.Errorf("identity: %w", err), run: run}
}

// shimLoginErr is a login failure plus what to run about it.
type shimLoginErr struct {
	err error
	run string
}

func (e *shimLoginErr) Error() string { return fmt.Sprintf("%v; run `%s`", e.err, e.run) }
func (e *shimLoginErr) Unwrap() error { return e.err }

// shimUpstreamHeaders returns the Authorization header for an HTTP
// upstream: the user's access token, for the gateway's audience, only when
// upstreamURL is the profile's gateway_url. Every other upstream gets nil:
// a user's token is never forwarded to a server it was not issued for.
func shimUpstreamHeaders(ctx context.Context, f *Factory, upstreamURL string) (http.Header, error) {
	ls, err := resolveForAuth(f, "")
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if ls.GatewayURL == "" || !sameURL(ls.GatewayURL, upstreamURL) {
		return nil, nil
	}
	var token string
	if tok := envToken(f); tok != "" {
		token = tok
	} else {
		s, err := loginManager(f, ls).Token(ctx)
		if err != nil {
			return nil, shimLoginError(err, ls.Profile)
		}
		if err := checkGatewayAudience(s, ls); err != nil {
			return nil, err
		}
		token = s.AccessToken
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return h, nil
}

// sameURL compares two URLs as the same endpoint: scheme and host case-
// insensitively, default ports dropped, and a trailing slash ignored.
func sameURL(a, b string) bool {
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

// shimIdentityConfig is what the shim puts in enforce.Config: the identity,
// and the reason there is none when one is required. A login is required
// once one is configured (the profile names an issuer, or a login was
// stored); without any, the shim runs unauthenticated as before and
// records calls with Method "none".
//
// The identity is also named in one diagnostic line on stderr, so a user
// reading the client's server log sees whom the calls are attributed to.
func shimIdentityConfig(ctx context.Context, f *Factory) (audit.Identity, error) {
	id, err := shimIdentity(ctx, f)
	if err == nil && id.Authenticated() {
		fmt.Fprintf(f.IO.ErrOut, "mcpgov: identity: %s\n", describeIdentity(id))
	}
	if err == nil || !loginConfigured(f) {
		return id, nil
	}
	var cause *shimLoginErr
	if errors.As(err, &cause) {
		return id, cause.err // the core adds its own "run `mcpgov login`"
	}
	return id, err
}

// loginConfigured reports whether this user is meant to be logged in.
func loginConfigured(f *Factory) bool {
	ls, err := resolveForAuth(f, "")
	if err != nil || ls.Issuer != "" {
		return true
	}
	_, err = os.Stat(filepath.Join(login.Dir(f.Getenv), ls.Profile+".json"))
	return err == nil
}

// describeIdentity is an identity on one line: who, subject, groups, issuer
// and how it was established. It holds no secret.
func describeIdentity(id audit.Identity) string {
	who := firstNonEmpty(id.Email, id.Name, id.Subject, "anonymous token")
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
