package oauthuser

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Paths of the person check's endpoints, beside the redirect endpoint.
const (
	StartPath  = "/oauth/start"
	SigninPath = "/oauth/signin"
)

// PersonCheck binds a consent to the person it was made for: the link a
// client is given leads to StartPath, which signs the browser in at the
// gateway's own identity provider (OpenID Connect authorization code with
// PKCE), checks that the person signing in is the consent's user, binds
// the browser to the consent with a cookie, and only then sends it to the
// upstream's authorization server; the redirect endpoint takes the code
// only from that browser. Without it, whoever opens a consent link grants
// their upstream account to the user the link was made for (a link passed
// on, or sent on purpose: consent phishing).
type PersonCheck struct {
	// Issuer, ClientID and ClientSecret are the gateway's OpenID client at
	// its identity provider; BaseURL is the gateway's public URL, whose
	// SigninPath the provider must allow as a redirect URI.
	Issuer, ClientID, ClientSecret, BaseURL string
	// UserOf names the person an ID token's claims are (the same name the
	// gateway gives the caller: email, else subject); the e-mail is passed
	// only when the token says it is verified (email_verified true), else "".
	UserOf func(subject, email string) string
	// HTTPClient reaches the identity provider (nil: the default).
	HTTPClient *http.Client
	// Key signs the cookies (32 bytes or more). Replicas behind one
	// balancer share it: the sign-in may come back to another replica.
	// Nil: a random key of this process.
	Key []byte

	key      []byte
	provider *oidc.Provider
}

// Install makes m hand out links to StartPath and check, at its redirect
// endpoint, the browser the check bound; it returns the handler of
// StartPath and SigninPath. The identity provider is discovered now: a
// gateway configured to check people does not start without it.
func (p *PersonCheck) Install(ctx context.Context, m *Manager) (http.Handler, error) {
	if p.Issuer == "" || p.ClientID == "" || p.BaseURL == "" || p.UserOf == nil {
		return nil, errors.New("the person check needs an issuer, a client id, the public URL and UserOf")
	}
	p.key = p.Key
	if len(p.key) < 32 {
		p.key = make([]byte, 32)
		_, _ = rand.Read(p.key)
	}
	c := p.HTTPClient
	if c == nil {
		c = http.DefaultClient
	}
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, c), p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover the identity provider %s that signs people in to consent: %w", p.Issuer, err)
	}
	p.provider = prov
	m.mu.Lock()
	m.startURL = strings.TrimRight(p.BaseURL, "/") + StartPath
	m.mu.Unlock()
	m.CheckUser = p.checkCookie
	mux := http.NewServeMux()
	mux.HandleFunc(StartPath, func(w http.ResponseWriter, r *http.Request) { p.start(w, r, m) })
	mux.HandleFunc(SigninPath, func(w http.ResponseWriter, r *http.Request) { p.signin(w, r, m) })
	return mux, nil
}

func (p *PersonCheck) oauth() *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: p.provider.Endpoint(),
		RedirectURL: strings.TrimRight(p.BaseURL, "/") + SigninPath, Scopes: []string{oidc.ScopeOpenID, "email"}}
}

func (p *PersonCheck) mac(parts ...string) string {
	h := hmac.New(sha256.New, p.key)
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// signinCookie carries a sign-in in flight: its state, PKCE verifier and
// nonce, and the consent it is for, bound by a MAC.
type signinCookie struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Nonce    string    `json:"n"`
	Consent  string    `json:"c"`
	Expires  time.Time `json:"e"`
}

const (
	signinCookieName  = "mcpgov_signin"
	consentCookieName = "mcpgov_consent"
	signinTTL         = 10 * time.Minute
)

// cookieName is the name of the sign-in (or consent) cookie of one
// sign-in's (or consent's) state: one per consent in flight, so a person
// handed two links signs in for both in one browser without either
// overwriting the other's cookie. The MAC keeps the state out of the name.
func (p *PersonCheck) cookieName(kind, state string) string {
	return kind + "_" + p.mac(kind+"-name", state)[:16]
}

// ErrNoSignin: the browser that came back to the redirect did not sign in
// for this consent (it carries no consent cookie for it).
var ErrNoSignin = errors.New("the browser did not sign in for this consent")

func (p *PersonCheck) start(w http.ResponseWriter, r *http.Request, m *Manager) {
	if r.Method != http.MethodGet {
		writePage(w, http.StatusMethodNotAllowed, "Method not allowed", "This address is only visited by your browser.")
		return
	}
	state := r.URL.Query().Get("state")
	if _, err := m.peek(r.Context(), state); err != nil {
		m.emit(r.Context(), Event{Kind: EventConsentFailed, Reason: "unknown_state"})
		writePage(w, http.StatusBadRequest, "This consent link is no longer valid",
			"It was used already or has expired. Retry the tool call to get a new link.")
		return
	}
	c := signinCookie{State: randomString(), Verifier: oauth2.GenerateVerifier(), Nonce: randomString(), Consent: state, Expires: m.now().Add(signinTTL)}
	raw, _ := json.Marshal(c)
	v := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(signinCookieName, c.State), Value: v + "." + p.mac("signin", v), Path: p.publicPath(SigninPath),
		HttpOnly: true, Secure: strings.HasPrefix(p.BaseURL, "https://"), SameSite: http.SameSiteLaxMode, MaxAge: int(signinTTL / time.Second)})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth().AuthCodeURL(c.State, oauth2.S256ChallengeOption(c.Verifier), oidc.Nonce(c.Nonce)), http.StatusFound)
}

func (p *PersonCheck) readSignin(r *http.Request, now time.Time) (*signinCookie, error) {
	ck, err := r.Cookie(p.cookieName(signinCookieName, r.URL.Query().Get("state")))
	if err != nil {
		return nil, errors.New("no sign-in in flight in this browser")
	}
	v, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(p.mac("signin", v))) {
		return nil, errors.New("the sign-in cookie was not made here")
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, err
	}
	var c signinCookie
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if !now.Before(c.Expires) || c.State != r.URL.Query().Get("state") {
		return nil, errors.New("the sign-in expired or is another one")
	}
	return &c, nil
}

func (p *PersonCheck) signin(w http.ResponseWriter, r *http.Request, m *Manager) {
	c, err := p.readSignin(r, m.now())
	if err != nil {
		m.emit(r.Context(), Event{Kind: EventConsentFailed, Reason: "signin_invalid"})
		writePage(w, http.StatusBadRequest, "This sign-in is not valid", "Open the consent link again.")
		return
	}
	ctx := oidc.ClientContext(r.Context(), p.HTTPClient)
	if p.HTTPClient == nil {
		ctx = r.Context()
	}
	tok, err := p.oauth().Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(c.Verifier))
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	var idt *oidc.IDToken
	if err == nil {
		raw, _ := tok.Extra("id_token").(string)
		idt, err = p.provider.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(ctx, raw)
	}
	if err == nil && idt.Nonce != c.Nonce {
		err = errors.New("the ID token's nonce is not this sign-in's")
	}
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil {
		m.emit(r.Context(), Event{Kind: EventConsentFailed, Reason: "signin_failed"})
		writePage(w, http.StatusBadGateway, "Sign-in failed", "mcpgov could not sign you in at "+p.Issuer+". Open the consent link again.")
		return
	}
	// The e-mail names the person only when the provider says it checked
	// it: one that lets people set their own address and does not say
	// would let anyone sign in as anyone's address.
	email := ""
	if claims.EmailVerified != nil && *claims.EmailVerified {
		email = claims.Email
	}
	person := p.UserOf(idt.Subject, email)
	rec, err := m.peek(r.Context(), c.Consent)
	if err != nil {
		m.emit(r.Context(), Event{Kind: EventConsentFailed, Reason: "unknown_state"})
		writePage(w, http.StatusBadRequest, "This consent link is no longer valid",
			"It was used already or has expired. Retry the tool call to get a new link.")
		return
	}
	if person != rec.User {
		// The link is burnt: whoever passed it on gets a new one by
		// retrying, and a phishing link does not stay usable.
		m.take(r.Context(), c.Consent)
		m.emit(r.Context(), Event{Kind: EventConsentFailed, User: rec.User, Server: rec.Server, ElicitationID: rec.ElicitationID, Reason: "other_user"})
		writePage(w, http.StatusForbidden, "This consent link is for someone else",
			"You signed in as "+person+", and the link was made for another person. Nothing was granted and the link no longer works. If you need "+rec.Server+", retry the tool call yourself to get your own link.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(signinCookieName, c.State), Value: "", Path: p.publicPath(SigninPath), MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(consentCookieName, c.Consent), Value: p.mac("consent", c.Consent, rec.User), Path: p.callbackPath(m, rec.Server),
		HttpOnly: true, Secure: strings.HasPrefix(p.BaseURL, "https://"), SameSite: http.SameSiteLaxMode, MaxAge: int(signinTTL / time.Second)})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, rec.URL, http.StatusFound)
}

// publicPath is path (one of the check's own) as the browser sees it:
// under BaseURL's path (a gateway published at https://host/gw serves
// SigninPath at /gw/oauth/signin).
func (p *PersonCheck) publicPath(path string) string {
	base := ""
	if u, err := url.Parse(p.BaseURL); err == nil {
		base = strings.TrimRight(u.Path, "/")
	}
	return base + path
}

// callbackPath is the path of the redirect endpoint server's consent
// returns to, as the browser sees it (the consent cookie's): the path of
// that server's redirect URL, else the public URL's path.
func (p *PersonCheck) callbackPath(m *Manager, server string) string {
	if s, err := m.server(server); err == nil {
		s.mu.Lock()
		redirect := s.cfg.RedirectURL
		s.mu.Unlock()
		if u, err := url.Parse(redirect); err == nil && u.Path != "" {
			return u.Path
		}
	}
	return p.publicPath("/")
}

// checkCookie is the Manager's CheckUser: the browser that came back
// carries the cookie the sign-in bound to this consent and its user.
func (p *PersonCheck) checkCookie(r *http.Request, user string) error {
	state := r.URL.Query().Get("state")
	ck, err := r.Cookie(p.cookieName(consentCookieName, state))
	if err != nil {
		return ErrNoSignin
	}
	if !hmac.Equal([]byte(ck.Value), []byte(p.mac("consent", state, user))) {
		return errors.New("the browser signed in for another consent or person")
	}
	return nil
}

// peek reads the consent in flight of state without taking it.
func (m *Manager) peek(ctx context.Context, state string) (*pendingRecord, error) {
	if state == "" {
		return nil, ErrNoPending
	}
	pk, ok := m.pendingStore().(PendingPeeker)
	if !ok {
		return nil, errors.New("the consents' store cannot be read without taking a consent")
	}
	rec, err := pk.Peek(ctx, state)
	if err != nil {
		return nil, err
	}
	p, err := decodePending(rec)
	if err != nil || p.State != state || !m.now().Before(p.Expires) {
		return nil, ErrNoPending
	}
	return p, nil
}

// PendingPeeker is a PendingStore that can read a consent by its state
// without taking it (the person check reads it before the redirect).
type PendingPeeker interface {
	Peek(ctx context.Context, state string) ([]byte, error)
}

// Peek implements PendingPeeker.
func (s *MemoryPending) Peek(_ context.Context, state string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byState[state]
	if !ok || !s.now().Before(p.expires) {
		return nil, ErrNoPending
	}
	return p.record, nil
}
