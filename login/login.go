// Package login signs a person in to their organisation's OpenID Connect
// identity provider and keeps that login usable: the RFC 8628 device flow,
// a loopback authorization-code flow with PKCE, personal tokens, ID token
// verification, refresh-token storage in the OS keyring (or a 0600 file when
// there is none), and refresh ahead of expiry under a cross-process lock so
// many shims refreshing at once never reuse a rotated refresh token.
//
// Nothing here prompts or prints: callers (the CLI) get prompts through
// callbacks and decide what to show.
package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DefaultScopes are requested when the configuration names none.
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess}

// DefaultLeeway is how long before expiry an access token is refreshed, so
// a gateway never sees one expire mid-call.
const DefaultLeeway = 60 * time.Second

// Manager performs logins and hands out fresh tokens for one profile.
type Manager struct {
	Profile  string
	Issuer   string   // for new logins; stored sessions carry their own
	ClientID string   // for new logins
	Scopes   []string // for new logins; DefaultScopes when empty
	// Audience, when set, must be among the access token's audiences (the
	// gateway's); a login whose token lacks it fails with ErrWrongAudience.
	Audience string

	Dir     string      // session files and locks ($XDG_STATE_HOME/mcpgov/login)
	Secrets SecretStore // the keyring
	HTTP    *http.Client
	Now     func() time.Time
	Leeway  time.Duration
	// OnLockWait, when set, is called when a refresh finds the profile's
	// lock held by another process, before it waits for it: what shows
	// that a process has reached the lock (the concurrent-refresh test).
	OnLockWait func()

	keyringErr error // why the last putSecret fell back to the file
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) leeway() time.Duration {
	if m.Leeway > 0 {
		return m.Leeway
	}
	return DefaultLeeway
}

func (m *Manager) httpClient() *http.Client {
	if m.HTTP != nil {
		return m.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (m *Manager) scopes() []string {
	if len(m.Scopes) > 0 {
		return m.Scopes
	}
	return DefaultScopes
}

// KeyringFallback reports why the last login's secret went to the session
// file instead of the keyring (nil when it did not).
func (m *Manager) KeyringFallback() error { return m.keyringErr }

// discovery is the part of the OpenID discovery document mcpgov uses.
type discovery struct {
	Issuer        string   `json:"issuer"`
	AuthURL       string   `json:"authorization_endpoint"`
	TokenURL      string   `json:"token_endpoint"`
	DeviceAuthURL string   `json:"device_authorization_endpoint"`
	JWKSURL       string   `json:"jwks_uri"`
	UserInfoURL   string   `json:"userinfo_endpoint"`
	RevokeURL     string   `json:"revocation_endpoint"`
	Algorithms    []string `json:"id_token_signing_alg_values_supported"`
}

// provider is a discovered identity provider.
type provider struct {
	doc      discovery
	verifier *oidc.IDTokenVerifier
	ctx      context.Context // carries the HTTP client for go-oidc and x/oauth2
}

// discover fetches the issuer's discovery document itself (instead of
// oidc.NewProvider) so each failure gets its own precise error.
func (m *Manager) discover(ctx context.Context, issuer string) (*provider, error) {
	if issuer == "" {
		return nil, errors.New("no issuer configured: pass --issuer or set issuer in the config profile")
	}
	if err := ValidIssuer(issuer); err != nil {
		return nil, err
	}
	hc := m.httpClient()
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, unreachable(issuer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, unreachable(issuer, err)
	}
	if resp.StatusCode >= 500 {
		return nil, wrap(ErrIdPUnreachable, "the identity provider %s is unavailable: GET %s answered %s", issuer, wellKnown, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, wrap(ErrNotIdP, "%s is not an OpenID provider: GET %s answered %s", issuer, wellKnown, resp.Status)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil || d.Issuer == "" || d.TokenURL == "" || d.JWKSURL == "" {
		return nil, wrap(ErrNotIdP, "%s is not an OpenID provider: %s is not a discovery document", issuer, wellKnown)
	}
	if d.Issuer != issuer {
		return nil, wrap(ErrIssuerMismatch, "issuer mismatch: %s calls itself %q; use exactly that as the issuer", wellKnown, d.Issuer)
	}
	pctx := oidc.ClientContext(ctx, hc)
	pctx = context.WithValue(pctx, oauth2.HTTPClient, hc)
	p := (&oidc.ProviderConfig{
		IssuerURL: d.Issuer, AuthURL: d.AuthURL, TokenURL: d.TokenURL, DeviceAuthURL: d.DeviceAuthURL,
		UserInfoURL: d.UserInfoURL, JWKSURL: d.JWKSURL, Algorithms: d.Algorithms,
	}).NewProvider(pctx)
	return &provider{
		doc:      d,
		verifier: p.VerifierContext(pctx, &oidc.Config{ClientID: m.ClientID, Now: m.now}),
		ctx:      pctx,
	}, nil
}

// ValidIssuer checks that issuer has the shape of an issuer URL.
func ValidIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("invalid issuer %q: want an http(s) URL", issuer)
	}
	return nil
}

func unreachable(issuer string, err error) error {
	return wrap(ErrIdPUnreachable, "cannot reach the identity provider %s: %v", issuer, rootCause(err))
}

// rootCause drops url.Error's "Get \"…\":" prefix: the issuer is named already.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oauthConfig is the public-client configuration. AuthStyleInParams is set
// explicitly: auto-detection sends two requests per device poll, which
// draws slow_down from strict servers.
func (m *Manager) oauthConfig(p *provider, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: m.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL: p.doc.AuthURL, TokenURL: p.doc.TokenURL, DeviceAuthURL: p.doc.DeviceAuthURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirect,
		Scopes:      m.scopes(),
	}
}

// tokenError maps a token-endpoint failure to the package's errors.
func tokenError(issuer, during string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		desc := re.ErrorDescription
		if desc == "" {
			desc = re.ErrorCode
		}
		switch re.ErrorCode {
		case "access_denied":
			return wrap(ErrDenied, "%s: login denied at the identity provider (%s)", during, desc)
		case "expired_token":
			return wrap(ErrCodeExpired, "%s: the device code expired before it was approved", during)
		case "invalid_grant", "invalid_request", "invalid_token", "unauthorized_client":
			if during == "refresh" {
				return wrap(ErrRefreshRejected, "refresh: %s refused the refresh token (%s: %s)", issuer, re.ErrorCode, desc)
			}
		}
		return fmt.Errorf("%s: %s answered %s: %s", during, issuer, re.ErrorCode, desc)
	}
	if errors.Is(err, context.DeadlineExceeded) && during == "device login" {
		return wrap(ErrCodeExpired, "%s: the device code expired before it was approved", during)
	}
	return unreachable(issuer, err)
}
