package login

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// claims are the ID and access token claims mcpgov reads.
type claims struct {
	Email             string   `json:"email"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

func (c claims) identity(issuer, subject string) Identity {
	name := c.Name
	if name == "" {
		name = c.PreferredUsername
	}
	return Identity{Subject: subject, Email: c.Email, Name: name, Groups: c.Groups, Issuer: issuer}
}

// jwtAudience reads the aud claim of a JWT without verifying it; nil for an
// opaque token. It is used only to refuse sending a token to a gateway it
// was not issued for; the gateway verifies the signature itself.
func jwtAudience(raw string) []string {
	var p struct {
		Aud json.RawMessage `json:"aud"`
	}
	if !decodeJWTPayload(raw, &p) || len(p.Aud) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(p.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(p.Aud, &many)
	return many
}

func decodeJWTPayload(raw string, v any) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// IsJWT reports whether raw has the shape of a JWT.
func IsJWT(raw string) bool {
	var v map[string]any
	return decodeJWTPayload(raw, &v)
}

// VerifyToken verifies a bearer token that is a JWT against the configured
// issuer's keys: issuer, signature, expiry, and the audience (m.Audience
// when set, else the client ID). It returns the identity it names.
func (m *Manager) VerifyToken(ctx context.Context, raw string) (Identity, time.Time, error) {
	p, err := m.discover(ctx, m.Issuer)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	v := oidc.NewVerifier(p.doc.Issuer, oidc.NewRemoteKeySet(p.ctx, p.doc.JWKSURL),
		&oidc.Config{SkipClientIDCheck: true, Now: m.now})
	t, err := v.Verify(p.ctx, raw)
	if err != nil {
		return Identity{}, time.Time{}, wrap(ErrInvalidToken, "token failed verification against %s: %v", p.doc.Issuer, err)
	}
	want := m.Audience
	if want == "" {
		want = m.ClientID
	}
	if want != "" && !contains(t.Audience, want) {
		return Identity{}, time.Time{}, wrap(ErrWrongAudience, "the token is for %s, not %q", audienceList(t.Audience), want)
	}
	var c claims
	if err := t.Claims(&c); err != nil {
		return Identity{}, time.Time{}, wrap(ErrInvalidToken, "decode token claims: %v", err)
	}
	return c.identity(t.Issuer, t.Subject), t.Expiry, nil
}

// LoginToken stores a personal token (from --with-token). A JWT is verified
// first and its identity kept; an opaque token is stored as given (the
// gateway that issued it checks it).
func (m *Manager) LoginToken(ctx context.Context, raw string) (*Session, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, wrap(ErrInvalidToken, "no token on standard input")
	}
	s := &Session{Profile: m.Profile, Kind: KindToken, Issuer: m.Issuer, ClientID: m.ClientID, ObtainedAt: m.now().UTC()}
	if IsJWT(raw) {
		id, exp, err := m.VerifyToken(ctx, raw)
		if err != nil {
			return nil, err
		}
		s.Identity, s.Expiry, s.Audience = id, exp.UTC(), jwtAudience(raw)
	}
	m.forgetPrevious(s)
	if _, err := m.putSecret(s, raw); err != nil {
		return nil, err
	}
	if err := m.writeSession(s); err != nil {
		return nil, err
	}
	return s, nil
}
