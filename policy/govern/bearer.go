package govern

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login"
)

// TokenVerifier verifies a bearer token against the issuer's keys
// (*login.Manager does).
type TokenVerifier interface {
	VerifyToken(ctx context.Context, raw string) (login.Identity, time.Time, error)
}

// BearerToken is the identity of one request's bearer token: a gateway
// makes one per request, where the shim's LocalLogin is fixed for its one
// connection. An identity is always required: a request without a valid
// token is refused, never run anonymously.
type BearerToken struct {
	Verifier TokenVerifier
	Token    string
}

var _ IdentitySource = BearerToken{}

// ErrNoToken is returned for a request that carries no bearer token.
var ErrNoToken = errors.New("no bearer token")

// Identity verifies the token.
func (b BearerToken) Identity(ctx context.Context) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	if b.Token == "" {
		return none, ErrNoToken
	}
	id, _, err := b.Verifier.VerifyToken(ctx, b.Token)
	if err != nil {
		return none, fmt.Errorf("bearer token: %w", err)
	}
	return AuditIdentity(id, "token"), nil
}

// Required is true: a gateway serves no one it cannot name.
func (BearerToken) Required() bool { return true }

// Errors of inbound authentication, for errors.Is. Each error's text says
// precisely what was wrong; none carries the token.
var (
	ErrUnknownIssuer = errors.New("unknown issuer")
	ErrTokenExpired  = errors.New("token expired")
	ErrAudience      = errors.New("wrong audience")
	ErrBadToken      = errors.New("invalid token")
	ErrIdPDown       = errors.New("identity provider unreachable")
	// ErrGroupsOverage: the token says the caller's groups are elsewhere
	// (Entra ID's group overage), so what they may use cannot be told.
	ErrGroupsOverage = errors.New("the token does not carry the caller's groups")
)

// JWTVerifier verifies JWT access tokens from the configured identity
// providers: the token's iss picks the provider (an issuer not configured
// is refused before any network call), whose discovery document and keys
// are fetched on first use and again every keySetMaxAge (so a withdrawn
// key stops counting); go-oidc also refetches the key set when a token
// names a key it does not know, so key rotation needs no restart.
// Signature, issuer, audience and expiry (with ClockSkew) are checked,
// then the provider's group claims are read.
type JWTVerifier struct {
	Issuers   []IssuerConfig
	ClockSkew time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Client fetches discovery documents and keys (http.DefaultClient
	// when nil).
	Client *http.Client

	mu        sync.Mutex
	verifiers map[string]*issuerVerifier
	verified  map[[32]byte]cachedJWT // by the token's SHA-256
}

// issuerVerifier is one provider's verifier and when its discovery
// document and key set were fetched.
type issuerVerifier struct {
	ver     *oidc.IDTokenVerifier
	fetched time.Time
}

// cachedJWT is a verified token's identity, good until until: its expiry
// (with the skew), or jwtCacheFor after it was verified when that comes
// first, so that a key the provider withdrew stops counting soon.
type cachedJWT struct {
	id    audit.Identity
	until time.Time
}

// jwtCacheFor bounds how long a verification is reused; jwtCacheMax how
// many are kept. A signature check costs about 0.3 ms, a lookup well
// under a microsecond: clients send the same token with every request.
const (
	jwtCacheFor = 5 * time.Minute
	jwtCacheMax = 10000
)

// keySetMaxAge is how long a provider's key set is used before it is
// fetched again. go-oidc fetches it anew only for a token that names a key
// it does not know, so without this a key the provider withdrew (say, a
// leaked one) would keep verifying tokens until the gateway restarts.
// keySetRetry is the wait before another try when a refetch fails; the
// keys already fetched keep serving meanwhile, so a provider's outage
// does not lock everyone out.
const (
	keySetMaxAge = 5 * time.Minute
	keySetRetry  = 30 * time.Second
)

func (v *JWTVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks raw and returns the caller's identity (Method "jwt").
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	key := sha256.Sum256([]byte(raw))
	now := v.now()
	v.mu.Lock()
	c, ok := v.verified[key]
	v.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.id, nil
	}
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return none, err
	}
	var cfg *IssuerConfig
	for i := range v.Issuers {
		if v.Issuers[i].URL == iss {
			cfg = &v.Issuers[i]
		}
	}
	if cfg == nil {
		return none, fmt.Errorf("%w: the token was issued by %q, which is not one of the gateway's identity providers", ErrUnknownIssuer, iss)
	}
	ver, err := v.verifier(ctx, cfg)
	if err != nil {
		return none, err
	}
	t, err := ver.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return none, fmt.Errorf("%w at %s (issuer %s)", ErrTokenExpired, exp.Expiry.UTC().Format(time.RFC3339), iss)
		}
		return none, fmt.Errorf("%w: verification against %s failed: %v", ErrBadToken, iss, err)
	}
	if !slices.Contains(t.Audience, cfg.Audience) {
		return none, fmt.Errorf("%w: the token is for %s, not the gateway's %q (issuer %s)", ErrAudience, audiences(t.Audience), cfg.Audience, iss)
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return none, fmt.Errorf("%w: claims: %v", ErrBadToken, err)
	}
	id := audit.Identity{Method: "jwt", Subject: t.Subject, Issuer: t.Issuer}
	id.Email, _ = claims["email"].(string)
	id.Name, _ = claims["name"].(string)
	if id.Name == "" {
		id.Name, _ = claims["preferred_username"].(string)
	}
	if overage(claims, cfg.GroupsClaim) {
		// Refused rather than served with no groups: a caller who
		// belongs to many groups would otherwise lose access silently.
		return none, fmt.Errorf("%w: its %q claim is replaced by a reference to another source (Entra ID sends one past 200 groups, or \"hasgroups\"); emit only the groups assigned to the application (groupMembershipClaims \"ApplicationGroup\") or use app roles with roles_claim (issuer %s)", ErrGroupsOverage, cfg.GroupsClaim, iss)
	}
	id.Groups = ClaimGroups(claims, cfg.GroupsClaim)
	if cfg.RolesClaim != "" {
		for _, g := range ClaimGroups(claims, cfg.RolesClaim) {
			if !slices.Contains(id.Groups, g) {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	until := now.Add(jwtCacheFor)
	if exp := t.Expiry.Add(v.ClockSkew); exp.Before(until) {
		until = exp
	}
	v.remember(key, id, until, now)
	return id, nil
}

func (v *JWTVerifier) remember(key [32]byte, id audit.Identity, until, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= jwtCacheMax {
		for k, c := range v.verified {
			if !now.Before(c.until) {
				delete(v.verified, k)
			}
		}
		if len(v.verified) >= jwtCacheMax {
			clear(v.verified)
		}
	}
	if v.verified == nil {
		v.verified = map[[32]byte]cachedJWT{}
	}
	v.verified[key] = cachedJWT{id: id, until: until}
}

// verifier is the issuer's verifier, discovering it on first use and
// again once its key set is keySetMaxAge old. A failed first discovery is
// not kept: the next request tries again. A failed refresh keeps the
// verifier it had and tries again after keySetRetry.
func (v *JWTVerifier) verifier(ctx context.Context, cfg *IssuerConfig) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	cur := v.verifiers[cfg.URL]
	if cur != nil && now.Sub(cur.fetched) < keySetMaxAge {
		return cur.ver, nil
	}
	ver, err := v.discover(ctx, cfg)
	if err != nil {
		if cur != nil {
			cur.fetched = now.Add(keySetRetry - keySetMaxAge)
			return cur.ver, nil
		}
		return nil, err
	}
	if v.verifiers == nil {
		v.verifiers = map[string]*issuerVerifier{}
	}
	v.verifiers[cfg.URL] = &issuerVerifier{ver: ver, fetched: now}
	return ver, nil
}

// discover fetches the issuer's discovery document and makes a verifier
// with a new key set (fetched on its first use).
func (v *JWTVerifier) discover(ctx context.Context, cfg *IssuerConfig) (*oidc.IDTokenVerifier, error) {
	hc := v.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: discover %s: %v", ErrIdPDown, cfg.URL, err)
	}
	skew := v.ClockSkew
	return p.Verifier(&oidc.Config{
		SkipClientIDCheck: true, // the audience is checked after, with a precise error
		// Expiry with leeway: a token counts as expired skew after its exp.
		Now: func() time.Time { return v.now().Add(-skew) },
	}), nil
}

// unverifiedIssuer reads a JWT's iss claim before verification, only to
// pick the provider that verifies it; its payload is decoded with exact
// keys and duplicate members refused, so "iss" and "ISS" cannot disagree.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: not a JWT (want header.payload.signature) nor a token this gateway issued", ErrBadToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("%w: the JWT payload is not base64url", ErrBadToken)
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if err := jsonv2.Unmarshal(payload, &p, jsonv2.RejectUnknownMembers(false)); err != nil {
		return "", fmt.Errorf("%w: the JWT payload: %v", ErrBadToken, err)
	}
	if p.Iss == "" {
		return "", fmt.Errorf("%w: the JWT has no iss claim", ErrBadToken)
	}
	return p.Iss, nil
}

// ClaimGroups reads groups from claims[name], where name may be a dotted
// path into objects ("realm_access.roles"). The shapes providers use are
// understood: an array of strings (Dex, Okta and Entra ID "groups", Entra
// "roles"), a single string, or a space-separated string.
func ClaimGroups(claims map[string]any, name string) []string {
	// A claim named as a whole wins over a dotted path: Auth0 and Okta
	// custom claims are URLs ("https://example.com/groups") full of dots.
	cur, ok := claims[name]
	if !ok {
		cur = any(claims)
		for _, part := range strings.Split(name, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[part]
		}
	}
	var out []string
	switch v := cur.(type) {
	case string:
		out = strings.Fields(v)
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// overage reports whether claims say the groups claim name was left out
// for being too large: Entra ID's "_claim_names" pointing the claim to
// "_claim_sources" (JWTs past 200 groups), or "hasgroups" (implicit flow).
func overage(claims map[string]any, name string) bool {
	if _, present := claims[name]; present {
		return false
	}
	if names, ok := claims["_claim_names"].(map[string]any); ok {
		if _, ok := names[name]; ok {
			return true
		}
	}
	has, _ := claims["hasgroups"].(bool)
	return has && name == "groups"
}

func audiences(aud []string) string {
	if len(aud) == 0 {
		return "no audience"
	}
	return fmt.Sprintf("audience %q", strings.Join(aud, ","))
}
