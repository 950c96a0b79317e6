package govern

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// The [gateway] table decodes strictly, issuers included, and bad values
// are errors naming the key.
func TestGatewayAuthConfig(t *testing.T) {
	cfg, err := ParseConfig("/etc/mcpgov/config.toml", []byte(`
[gateway]
clock_skew = "30s"
auth_failures = 5
[[gateway.issuers]]
url = "https://idp.example.com"
audience = "mcpgov-gateway"
roles_claim = "roles"
[[gateway.issuers]]
url = "http://127.0.0.1:5556/dex"
audience = "gw"
groups_claim = "realm_access.roles"
`))
	if err != nil {
		t.Fatal(err)
	}
	ga, err := ResolveGatewayAuth(Configs{User: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(ga.Issuers) != 2 || ga.Issuers[0].GroupsClaim != "groups" || ga.Issuers[1].GroupsClaim != "realm_access.roles" ||
		ga.ClockSkew != 30*time.Second || ga.MaxFailures != 5 || ga.FailureWindow != time.Minute {
		t.Fatalf("%+v", ga)
	}
	if _, err := ParseConfig("c.toml", []byte("[gateway]\n[[gateway.issuers]]\nurl = \"https://x\"\naudiences = \"y\"\n")); err == nil || !strings.Contains(err.Error(), "gateway.issuers.audiences") {
		t.Fatalf("unknown key: %v", err)
	}
	for text, want := range map[string]string{
		"[[gateway.issuers]]\nurl = \"https://idp\"\n":                              "has no audience",
		"[[gateway.issuers]]\nurl = \"http://idp.example.com\"\naudience = \"a\"\n": "over https",
		"[gateway]\nclock_skew = \"soon\"\n":                                        "clock_skew",
	} {
		c, err := ParseConfig("c.toml", []byte(text))
		if err == nil {
			_, err = ResolveGatewayAuth(Configs{User: c})
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

func TestClaimGroups(t *testing.T) {
	claims := map[string]any{
		"groups":       []any{"eng", "ops", 3},
		"roles":        "Admin Reader",
		"realm_access": map[string]any{"roles": []any{"kc-role"}},
		// Okta and Auth0 custom claims are named by URLs.
		"https://example.com/groups": []any{"okta-eng"},
	}
	for name, want := range map[string][]string{
		"groups": {"eng", "ops"}, "roles": {"Admin", "Reader"}, "realm_access.roles": {"kc-role"}, "missing": nil, "groups.x": nil,
		"https://example.com/groups": {"okta-eng"},
	} {
		if got := ClaimGroups(claims, name); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// idp is an OpenID provider on loopback (go-oidc's test server).
type idp struct {
	URL  string
	key  *ecdsa.PrivateKey
	kid  string
	srv  *oidctest.Server
	hits int
}

func newIdP(t *testing.T) *idp {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &idp{key: key, kid: "k1"}
	p.srv = &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: "ES256"}}, Algorithms: []string{"ES256"}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.hits++; p.srv.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	p.srv.SetIssuer(hs.URL)
	return p
}

func (p *idp) token(claims string) string {
	return oidctest.SignIDToken(p.key, p.kid, "ES256", claims)
}

// rotate replaces the signing key, as a provider rotating keys does.
func (p *idp) rotate() {
	p.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.kid = "k2"
	p.srv.PublicKeys = []oidctest.PublicKey{{PublicKey: p.key.Public(), KeyID: "k2", Algorithm: "ES256"}}
}

func TestJWTVerifier(t *testing.T) {
	p := newIdP(t)
	now := time.Now()
	v := &JWTVerifier{Issuers: []IssuerConfig{{URL: p.URL, Audience: "gw", GroupsClaim: "groups", RolesClaim: "roles"}}, ClockSkew: time.Minute, Now: func() time.Time { return now }}
	claims := func(aud string, exp time.Time) string {
		return fmt.Sprintf(`{"iss":%q,"sub":"u1","aud":%q,"exp":%d,"iat":%d,"email":"ann@example.com","groups":["eng"],"roles":["Admin"]}`, p.URL, aud, exp.Unix(), now.Unix())
	}
	ctx := context.Background()
	id, err := v.Verify(ctx, p.token(claims("gw", now.Add(time.Hour))))
	if err != nil || id.Method != "jwt" || id.Subject != "u1" || id.Issuer != p.URL || !slices.Equal(id.Groups, []string{"eng", "Admin"}) || id.Email != "ann@example.com" {
		t.Fatalf("%+v %v", id, err)
	}
	// Within the clock skew a just-expired token passes; past it, not.
	if _, err := v.Verify(ctx, p.token(claims("gw", now.Add(-30*time.Second)))); err != nil {
		t.Errorf("within skew: %v", err)
	}
	for name, c := range map[string]struct {
		tok  string
		want error
		text string
	}{
		"expired":             {p.token(claims("gw", now.Add(-2*time.Minute))), ErrTokenExpired, "token expired at"},
		"wrong audience":      {p.token(claims("other-app", now.Add(time.Hour))), ErrAudience, `not the gateway's "gw"`},
		"unknown issuer":      {p.token(strings.Replace(claims("gw", now.Add(time.Hour)), p.URL, "https://evil.example.com", 1)), ErrUnknownIssuer, `"https://evil.example.com"`},
		"not a JWT":           {"abc", ErrBadToken, "not a JWT"},
		"Entra group overage": {p.token(strings.Replace(claims("gw", now.Add(time.Hour)), `"groups":["eng"],`, `"_claim_names":{"groups":"src1"},"_claim_sources":{"src1":{"endpoint":"https://graph.microsoft.com/v1.0/users/u1/getMemberObjects"}},`, 1)), ErrGroupsOverage, "ApplicationGroup"},
		"Entra hasgroups":     {p.token(strings.Replace(claims("gw", now.Add(time.Hour)), `"groups":["eng"],`, `"hasgroups":true,`, 1)), ErrGroupsOverage, "roles_claim"},
		"forged":              {p.token(claims("gw", now.Add(time.Hour)))[:20] + "x" + p.token(claims("gw", now.Add(time.Hour)))[21:], ErrBadToken, ""},
	} {
		id, err := v.Verify(ctx, c.tok)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || id.Authenticated() {
			t.Errorf("%s: %+v %v, want %v", name, id, err, c.want)
		}
	}
	// A key the provider withdraws without a successor stops counting
	// once the key set is keySetMaxAge old, though no token named a new
	// key; the tokens verified before keep their cached verification no
	// longer than jwtCacheFor.
	unseen := p.token(claims("gw", now.Add(time.Hour)))
	withdrawn := p.key
	p.srv.PublicKeys = nil
	now = now.Add(keySetMaxAge + time.Second)
	if _, err := v.Verify(ctx, unseen); !errors.Is(err, ErrBadToken) {
		t.Errorf("a token of a withdrawn key, after the key set's refresh: %v; want ErrBadToken", err)
	}
	// Key rotation: a token signed with a new key verifies without a
	// restart (the key set is fetched again for the unknown kid). The
	// clock moves on first, so this fetch is not joined to the one just
	// made for the withdrawn key (go-oidc shares a fetch in flight, and
	// can hand a caller one that finished a moment ago).
	p.rotate()
	if p.key == withdrawn {
		t.Fatal("rotate kept the key")
	}
	now = now.Add(keySetMaxAge + time.Second)
	tok := p.token(claims("gw", now.Add(time.Hour)))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	// A verification is reused, but never past the token's expiry.
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("again: %v", err)
	}
	now = now.Add(time.Hour + 2*time.Minute)
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("cached past expiry: %v", err)
	}
}

func TestFileTokenStore(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &FileTokenStore{Path: filepath.Join(t.TempDir(), "gateway", "tokens.json"), Now: func() time.Time { return now }}
	ctx := context.Background()
	raw, rec, err := s.Create(ctx, TokenSpec{Kind: TokenPersonal, Subject: "ann", Groups: []string{"eng"}, TTL: time.Hour})
	if err != nil || !strings.HasPrefix(raw, "mcpgov_pat_") || len(raw) < 50 || strings.Contains(rec.Hash, raw) {
		t.Fatalf("%q %+v %v", raw, rec, err)
	}
	svc, _, err := s.Create(ctx, TokenSpec{Kind: TokenService, Subject: "ci", TTL: 2 * time.Hour})
	if err != nil || !strings.HasPrefix(svc, "mcpgov_svc_") {
		t.Fatal(svc, err)
	}
	// A second store (the CLI beside a running gateway) sees the tokens.
	other := &FileTokenStore{Path: s.Path, Now: s.Now}
	got, err := other.Verify(ctx, raw)
	if err != nil || got.Subject != "ann" || got.Identity("gw").Method != "pat" {
		t.Fatalf("%+v %v", got, err)
	}
	if got, _ := other.Verify(ctx, svc); got.Identity("gw").Method != "service" {
		t.Fatalf("service: %+v", got)
	}
	list, _ := s.List(ctx)
	if len(list) != 2 || list[0].LastUsed == nil {
		t.Fatalf("last use not kept: %+v", list)
	}
	if _, err := other.Verify(ctx, "mcpgov_pat_nope"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, raw); !errors.Is(err, ErrTokenRevoked) || !strings.Contains(err.Error(), "revoked at 2026-01-01T00:00:00Z") {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := s.Revoke(ctx, rec.ID); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := s.Revoke(ctx, "nope"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("revoke unknown: %v", err)
	}
	now = now.Add(3 * time.Hour)
	if _, err := other.Verify(ctx, svc); !errors.Is(err, ErrTokenExpired) || !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("expired: %v", err)
	}
}

func TestAuthenticator(t *testing.T) {
	s := &FileTokenStore{Path: filepath.Join(t.TempDir(), "tokens.json")}
	raw, _, _ := s.Create(context.Background(), TokenSpec{Kind: TokenPersonal, Subject: "ann", TTL: time.Hour})
	a := &Authenticator{Tokens: s, TokenIssuer: GatewayTokenIssuer}
	req := func(h ...string) *http.Request {
		r := httptest.NewRequest("POST", "/mcp", nil)
		for _, v := range h {
			r.Header.Add("Authorization", v)
		}
		return r
	}
	if _, err := a.Identify(req()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("none: %v", err)
	}
	if id, err := a.Identify(req("Bearer " + raw)); err != nil || id.Subject != "ann" || id.Issuer != GatewayTokenIssuer {
		t.Fatalf("pat: %+v %v", id, err)
	}
	if _, err := a.Identify(req("Basic abc")); !errors.Is(err, ErrBadToken) {
		t.Fatalf("basic: %v", err)
	}
	if _, err := a.Identify(req("Bearer eyJ.eyJ.x")); !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("jwt without issuers: %v", err)
	}
	a.AllowAnonymous = true
	if id, err := a.Identify(req()); err != nil || id.Method != "anonymous" {
		t.Fatalf("anonymous: %+v %v", id, err)
	}
	if _, err := a.Identify(req("Bearer mcpgov_pat_forged")); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("a bad token is never anonymous: %v", err)
	}
}

// BenchmarkIdentify is the per-request cost of naming the caller: a JWT
// of a provider (signature, claims) and a token the gateway issued.
func BenchmarkIdentify(b *testing.B) {
	t := &testing.T{}
	p := newIdP(t)
	now := time.Now()
	jwt := p.token(fmt.Sprintf(`{"iss":%q,"sub":"u1","aud":"gw","exp":%d,"groups":["eng"]}`, p.URL, now.Add(time.Hour).Unix()))
	s := &FileTokenStore{Path: filepath.Join(b.TempDir(), "tokens.json")}
	pat, _, _ := s.Create(context.Background(), TokenSpec{Kind: TokenPersonal, Subject: "ann", TTL: time.Hour})
	a := &Authenticator{Tokens: s, JWT: &JWTVerifier{Issuers: []IssuerConfig{{URL: p.URL, Audience: "gw", GroupsClaim: "groups"}}}}
	for name, tok := range map[string]string{"jwt": jwt, "jwt-first-use": jwt, "pat": pat} {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			for b.Loop() {
				if name == "jwt-first-use" {
					a.JWT.verified = nil
				}
				if _, err := a.Identify(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
