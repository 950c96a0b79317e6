package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DevicePrompt is what the person must do to approve a device login.
type DevicePrompt struct {
	VerificationURI         string
	VerificationURIComplete string // may be empty
	UserCode                string
	Expiry                  time.Time
}

// LoginDevice runs the RFC 8628 device flow: prompt is called once with the
// code to show, then the token endpoint is polled until the person approves,
// denies, or the code expires.
func (m *Manager) LoginDevice(ctx context.Context, prompt func(DevicePrompt)) (*Session, error) {
	p, err := m.discover(ctx, m.Issuer)
	if err != nil {
		return nil, err
	}
	if p.doc.DeviceAuthURL == "" {
		return nil, fmt.Errorf("%s offers no device authorization endpoint; use --web", m.Issuer)
	}
	cfg := m.oauthConfig(p, "")
	da, err := cfg.DeviceAuth(p.ctx)
	if err != nil {
		return nil, tokenError(m.Issuer, "device authorization", err)
	}
	prompt(DevicePrompt{
		VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		UserCode: da.UserCode, Expiry: da.Expiry,
	})
	// Poll one second later than asked: strict servers answer slow_down
	// (and lengthen the interval) when a poll arrives exactly on time.
	if da.Interval == 0 {
		da.Interval = 5
	}
	da.Interval++
	tok, err := cfg.DeviceAccessToken(p.ctx, da)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, tokenError(m.Issuer, "device login", err)
	}
	return m.finish(ctx, p, tok)
}

// BrowserPrompt gives the URL the person must open for a loopback login.
type BrowserPrompt struct{ URL string }

// LoginLoopback runs the authorization-code flow with PKCE and a redirect
// to a one-shot listener on 127.0.0.1 (RFC 8252).
func (m *Manager) LoginLoopback(ctx context.Context, prompt func(BrowserPrompt)) (*Session, error) {
	p, err := m.discover(ctx, m.Issuer)
	if err != nil {
		return nil, err
	}
	if p.doc.AuthURL == "" {
		return nil, fmt.Errorf("%s offers no authorization endpoint", m.Issuer)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("open loopback listener: %w", err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	cfg := m.oauthConfig(p, redirect)
	verifier := oauth2.GenerateVerifier()
	state := randomString()

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case q.Get("state") != state:
			res.err = errors.New("loopback login: the redirect carried the wrong state (a stale or forged request)")
		case q.Get("error") == "access_denied":
			res.err = wrap(ErrDenied, "loopback login: denied at the identity provider (%s)", q.Get("error_description"))
		case q.Get("error") != "":
			res.err = fmt.Errorf("loopback login: the identity provider answered %s: %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("loopback login: the redirect carried no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != nil {
			fmt.Fprintf(w, "<p>mcpgov login failed: %s</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<p>mcpgov: login complete. You can close this window.</p>")
		}
		select {
		case done <- res:
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	prompt(BrowserPrompt{URL: cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))})
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := cfg.Exchange(p.ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError(m.Issuer, "loopback login", err)
	}
	return m.finish(ctx, p, tok)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// finish verifies a fresh token response and stores it as the profile's
// session.
func (m *Manager) finish(ctx context.Context, p *provider, tok *oauth2.Token) (*Session, error) {
	s := &Session{
		Profile: m.Profile, Kind: KindOIDC, Issuer: p.doc.Issuer, ClientID: m.ClientID, Scopes: m.scopes(),
		ObtainedAt: m.now().UTC(),
	}
	if err := m.apply(ctx, p, s, tok); err != nil {
		return nil, err
	}
	// A new login that the gateway would refuse is not stored. (A refresh
	// never fails on this: it has already spent the old refresh token.)
	if m.Audience != "" && !contains(s.Audience, m.Audience) {
		return nil, wrap(ErrWrongAudience, "the access token is for %s, not the gateway's audience %q (request it with the scopes in the profile)", audienceList(s.Audience), m.Audience)
	}
	m.forgetPrevious(s)
	if _, err := m.putSecret(s, tok.RefreshToken); err != nil {
		return nil, err
	}
	if err := m.writeSession(s); err != nil {
		return nil, err
	}
	return s, nil
}

// apply verifies tok's ID token (issuer, audience, signature, expiry) and
// copies the tokens and the verified identity into s.
func (m *Manager) apply(ctx context.Context, p *provider, s *Session, tok *oauth2.Token) error {
	raw, _ := tok.Extra("id_token").(string)
	switch {
	case raw != "":
		idt, err := p.verifier.Verify(p.ctx, raw)
		if err != nil {
			return wrap(ErrInvalidToken, "the identity provider's ID token failed verification: %v", err)
		}
		var c claims
		if err := idt.Claims(&c); err != nil {
			return wrap(ErrInvalidToken, "decode ID token claims: %v", err)
		}
		s.Identity = c.identity(idt.Issuer, idt.Subject)
		s.IDToken = raw
	case s.IDToken != "":
		// Refresh responses may omit the ID token; the identity stays.
	default:
		return wrap(ErrInvalidToken, "the identity provider returned no ID token (is the openid scope granted?)")
	}
	s.AccessToken = tok.AccessToken
	s.Expiry = tok.Expiry.UTC()
	if s.Expiry.IsZero() {
		s.Expiry = m.now().Add(5 * time.Minute).UTC()
	}
	s.Audience = jwtAudience(tok.AccessToken)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func audienceList(aud []string) string {
	if len(aud) == 0 {
		return "no audience (an opaque token)"
	}
	return "audience " + strings.Join(aud, ", ")
}

// forgetPrevious removes the keyring item of the login a new one replaces
// when it was filed under another issuer (keyring items are per issuer).
func (m *Manager) forgetPrevious(s *Session) {
	old, err := m.readSession()
	if err == nil && old.Storage == StorageKeyring && old.Issuer != s.Issuer {
		_ = m.Secrets.Delete(keyringService(old.Issuer), old.Profile)
	}
}
