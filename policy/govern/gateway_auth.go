package govern

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/state"
)

// GatewayAuthConfig are the [gateway] keys of the gateway's inbound
// authentication: the identity providers whose tokens it accepts, and
// the limit on repeated authentication failures per client address.
// Personal and service tokens need no setting: they live in the state
// directory (`mcpgov gateway token`).
type GatewayAuthConfig struct {
	// Issuers are the identity providers ([[gateway.issuers]]).
	Issuers []IssuerConfig `toml:"issuers"`
	// ClockSkew is how far an IdP's clock may be ahead or behind ("1m").
	ClockSkew string `toml:"clock_skew"`
	// AuthFailures is how many failed authentications one client address
	// may make in AuthFailureWindow before it gets 429.
	AuthFailures int `toml:"auth_failures"`
	// AuthFailureWindow is the window of AuthFailures ("1m").
	AuthFailureWindow string `toml:"auth_failure_window"`
}

// IssuerConfig is one [[gateway.issuers]] table: an OpenID Connect
// provider whose JWT access tokens the gateway accepts.
type IssuerConfig struct {
	// URL is the issuer, exactly as the tokens' iss claim names it.
	URL string `toml:"url"`
	// Audience must be among a token's audiences: the gateway's own
	// client or API identifier at the provider.
	Audience string `toml:"audience"`
	// GroupsClaim names the claim holding the caller's groups ("groups",
	// the default); a dotted path reaches into an object
	// ("realm_access.roles").
	GroupsClaim string `toml:"groups_claim"`
	// RolesClaim, when set, names a claim whose values are groups too
	// (Entra ID app roles: "roles").
	RolesClaim string `toml:"roles_claim"`
}

// Default limits of the gateway's authentication.
const (
	DefaultClockSkew         = time.Minute
	DefaultAuthFailures      = 20
	DefaultAuthFailureWindow = time.Minute
)

// GatewayAuth is the resolved authentication settings.
type GatewayAuth struct {
	Issuers       []IssuerConfig
	ClockSkew     time.Duration
	MaxFailures   int
	FailureWindow time.Duration
	// From names the config file the settings came from.
	From string
}

// ResolveGatewayAuth reads the [gateway] authentication keys: the managed
// config's when it names any issuer (an organisation's gateway trusts the
// IdPs it chose), else the user's.
func ResolveGatewayAuth(c Configs) (GatewayAuth, error) {
	cfg, from := c.User.Gateway.GatewayAuthConfig, c.User.Path()
	if len(c.Managed.Gateway.Issuers) > 0 {
		cfg, from = c.Managed.Gateway.GatewayAuthConfig, c.Managed.Path()
	}
	a := GatewayAuth{ClockSkew: DefaultClockSkew, MaxFailures: DefaultAuthFailures, FailureWindow: DefaultAuthFailureWindow, From: from}
	bad := func(format string, args ...any) (GatewayAuth, error) {
		return a, WithHint(fmt.Errorf("config %s: [gateway] "+format, append([]any{from}, args...)...), "see `mcpgov help config`")
	}
	var err error
	if cfg.ClockSkew != "" {
		if a.ClockSkew, err = time.ParseDuration(cfg.ClockSkew); err != nil || a.ClockSkew < 0 || a.ClockSkew > time.Hour {
			return bad("clock_skew %q: want a duration up to 1h, such as \"1m\"", cfg.ClockSkew)
		}
	}
	if cfg.AuthFailureWindow != "" {
		if a.FailureWindow, err = time.ParseDuration(cfg.AuthFailureWindow); err != nil || a.FailureWindow <= 0 {
			return bad("auth_failure_window %q: want a positive duration, such as \"1m\"", cfg.AuthFailureWindow)
		}
	}
	if cfg.AuthFailures < 0 {
		return bad("auth_failures %d: want a positive count", cfg.AuthFailures)
	}
	if cfg.AuthFailures > 0 {
		a.MaxFailures = cfg.AuthFailures
	}
	seen := map[string]bool{}
	for i, is := range cfg.Issuers {
		u, err := url.Parse(is.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return bad("issuers[%d] url %q: want the issuer's https URL", i, is.URL)
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			return bad("issuers[%d] url %q: an issuer's keys must come over https (http is accepted on loopback only)", i, is.URL)
		}
		if is.Audience == "" {
			return bad("issuers[%d] (%s) has no audience: without one the gateway would accept tokens issued for any application", i, is.URL)
		}
		if seen[is.URL] {
			return bad("issuer %s is listed twice", is.URL)
		}
		seen[is.URL] = true
		if is.GroupsClaim == "" {
			is.GroupsClaim = "groups"
		}
		a.Issuers = append(a.Issuers, is)
	}
	return a, nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

// Authenticator names the caller of each gateway request from its
// Authorization header: a token the gateway issued (TokenStore), else a
// JWT of a configured identity provider. A request without a token is
// anonymous only when AllowAnonymous says so; a request with a token that
// fails is refused even then, never served as anonymous.
type Authenticator struct {
	JWT            *JWTVerifier // nil: no identity provider
	Tokens         TokenStore   // nil: no issued tokens
	AllowAnonymous bool
	// TokenIssuer is the issuer recorded for issued tokens.
	TokenIssuer string
}

// Identify implements the gateway's Identify hook.
func (a *Authenticator) Identify(r *http.Request) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		if a.AllowAnonymous {
			return audit.Identity{Method: "anonymous"}, nil
		}
		return none, ErrNoToken
	}
	scheme, raw, ok := strings.Cut(h[0], " ")
	raw = strings.TrimSpace(raw)
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return none, fmt.Errorf("%w: the Authorization header must be one \"Bearer TOKEN\"", ErrBadToken)
	}
	if IsIssuedToken(raw) {
		if a.Tokens == nil {
			return none, fmt.Errorf("%w: this gateway issues no tokens", ErrTokenUnknown)
		}
		t, err := a.Tokens.Verify(r.Context(), raw)
		if err != nil {
			return none, err
		}
		return t.Identity(a.TokenIssuer), nil
	}
	if a.JWT == nil || len(a.JWT.Issuers) == 0 {
		return none, fmt.Errorf("%w: this gateway trusts no identity provider; use a token from `mcpgov gateway token create`", ErrUnknownIssuer)
	}
	return a.JWT.Verify(r.Context(), raw)
}

// ErrNoInboundAuth is returned when a gateway would start with nobody
// able to authenticate: no identity provider, no issued token and no
// --allow-anonymous.
var ErrNoInboundAuth = errors.New("the gateway has no way to authenticate callers")

// GatewayTokenIssuer is the issuer recorded for the gateway's own tokens.
const GatewayTokenIssuer = "mcpgov-gateway"

// NewGatewayAuthenticator assembles the gateway's authentication from
// the [gateway] settings and the token store in the state directory. It
// refuses (ErrNoInboundAuth) a gateway without an identity provider,
// without a live issued token and without allowAnonymous.
func NewGatewayAuthenticator(ctx context.Context, env Env, c Configs, allowAnonymous bool) (*Authenticator, GatewayAuth, error) {
	return NewReplicaAuthenticator(ctx, env, c, allowAnonymous, nil)
}

// NewReplicaAuthenticator is NewGatewayAuthenticator with the issued
// tokens in tokens (the store replicas share; nil: the state directory's
// file). A shared store that cannot be reached at start leaves the check
// for a live token out: the tokens are checked at each request.
func NewReplicaAuthenticator(ctx context.Context, env Env, c Configs, allowAnonymous bool, tokens TokenStore) (*Authenticator, GatewayAuth, error) {
	ga, err := ResolveGatewayAuth(c)
	if err != nil {
		return nil, ga, err
	}
	a := &Authenticator{AllowAnonymous: allowAnonymous, TokenIssuer: GatewayTokenIssuer}
	if len(ga.Issuers) > 0 {
		a.JWT = &JWTVerifier{Issuers: ga.Issuers, ClockSkew: ga.ClockSkew, Now: env.Now}
	}
	live := 0
	if tokens == nil {
		if path, err := TokenStorePath(env); err == nil {
			tokens = &FileTokenStore{Path: path, Now: env.Now}
		}
	}
	if tokens != nil {
		a.Tokens = tokens
		all, err := tokens.List(ctx)
		if errors.Is(err, state.ErrUnavailable) {
			all, live = nil, 1
		} else if err != nil {
			return nil, ga, err
		}
		now := time.Now()
		if env.Now != nil {
			now = env.Now()
		}
		for _, t := range all {
			if t.Revoked == nil && now.Before(t.Expires) {
				live++
			}
		}
	}
	if len(ga.Issuers) == 0 && live == 0 && !allowAnonymous {
		return nil, ga, WithHint(ErrNoInboundAuth,
			"add an identity provider ([[gateway.issuers]] url and audience in config.toml, see `mcpgov help config`), create a token with `mcpgov gateway token create`, or pass --allow-anonymous for a local trial")
	}
	return a, ga, nil
}

// OpenTokenStore is the gateway's token store in the state directory.
func OpenTokenStore(env Env) (*FileTokenStore, error) {
	path, err := TokenStorePath(env)
	if err != nil {
		return nil, err
	}
	return &FileTokenStore{Path: path, Now: env.Now}, nil
}
