package oauthuser

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/oauth2"
)

// Config is how one upstream server's authorization server is reached.
// Secrets in it are already resolved by the caller.
type Config struct {
	// Issuer is the authorization server; its RFC 8414 or OpenID metadata
	// gives the endpoints. AuthURL and TokenURL, when set, win over it.
	// Without either, the issuer is the first authorization server named
	// by the Resource's RFC 9728 protected-resource metadata.
	Issuer        string
	AuthURL       string
	TokenURL      string
	RevocationURL string
	// ClientID and ClientSecret identify mcpgov at the authorization
	// server; an empty secret makes a public client (PKCE only). Without
	// a ClientID, mcpgov registers itself (RFC 7591) when the server
	// offers it; that registration lives as long as the Manager.
	ClientID     string
	ClientSecret string
	// ClientMetadataURL, when set and no ClientID is, is an https URL
	// where mcpgov's client metadata document is published: used as the
	// client id at authorization servers that support Client ID Metadata
	// Documents, instead of registering.
	ClientMetadataURL string
	// Scopes to ask for; when empty, those the resource's metadata lists
	// as supported (as MCP clients do), else none.
	Scopes []string
	// RedirectURL is the address of RedirectHandler as the browser
	// reaches it; it must be registered with the authorization server.
	RedirectURL string
	// Resource is the upstream server's canonical URL, sent as the RFC
	// 8707 resource parameter so tokens are bound to it.
	Resource string
	// ResourceMetadataURL is where the resource's RFC 9728 metadata is,
	// when known (the resource_metadata of its 401 WWW-Authenticate
	// challenge); tried before the well-known locations.
	ResourceMetadataURL string
}

func (c Config) validate(server string) error {
	var missing []string
	if c.ClientID == "" && c.Issuer == "" && c.Resource == "" {
		missing = append(missing, "client_id (or an issuer or resource URL, to register one dynamically)")
	}
	if c.RedirectURL == "" {
		missing = append(missing, "redirect URL")
	}
	if c.Issuer == "" && c.Resource == "" && (c.AuthURL == "" || c.TokenURL == "") {
		missing = append(missing, "issuer (or the resource URL, or both authorization and token URLs)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("oauth_user server %q: missing %s", server, strings.Join(missing, ", "))
	}
	return c.pinned(server)
}

// Defaults of the Manager's tunables.
const (
	DefaultLeeway     = time.Minute
	DefaultConsentTTL = 10 * time.Minute
	lockWait          = 30 * time.Second
)

// Manager hands out per-user access tokens for upstream servers, refreshes
// them, and runs the consent flow when a user has none. Set the exported
// fields, then AddServer, before use; it is safe for concurrent use.
type Manager struct {
	// Store holds the grants (required).
	Store TokenStore
	// Sink receives an Event for every grant, refresh, use, revocation
	// and consent request; nil drops them.
	Sink Sink
	// LockDir, when set, holds one lock file per grant, so only one
	// process of this host refreshes a grant at a time (rotating refresh
	// tokens used twice may revoke the grant). A Store that is a Locker
	// (the gateway's vault) locks the grant itself, for every host sharing
	// it, and LockDir is not used. Without either only this process is
	// serialized.
	LockDir string
	// Leeway is how long before expiry an access token is refreshed.
	Leeway time.Duration
	// ConsentTTL is how long a consent URL stays usable.
	ConsentTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HTTPClient reaches the authorization servers (http.DefaultClient
	// when nil).
	HTTPClient *http.Client
	// CheckUser, when set, is asked by RedirectHandler, before the code is
	// redeemed, whether the browser that came back is the user the consent
	// was made for (the gateway checks its own login cookie). Without it,
	// whoever opens a consent link grants their upstream account to the
	// user who got the link: a user could pass theirs to a colleague.
	CheckUser func(r *http.Request, user string) error

	// Clients, when set, keeps the clients registered dynamically across
	// runs (the shim: the keyring); without it a registration lives as
	// long as the Manager.
	Clients ClientStore

	// ProbeChallenge, when set, makes discovery of a server with neither
	// an issuer nor a known metadata location ask the server first: an
	// unauthenticated request whose 401 challenge (RFC 9728) says where
	// its protected-resource metadata is and which scopes it wants. The
	// gateway sets it: it makes a person's consent link before it has
	// talked to the server (the shim learns the same from the server's
	// answer to the client's own first request).
	ProbeChallenge bool

	// Pending keeps the consents in flight (nil: this Manager's memory);
	// replicas of a gateway share one, so a redirect may reach any.
	Pending PendingStore

	mu           sync.Mutex
	servers      map[string]*server
	locks        map[Key]*sync.Mutex
	consentLocks map[Key]*sync.Mutex
	memPending   *MemoryPending
	completions  map[string]*completions // by elicitation id
	startURL     string                  // PersonCheck's StartPath: the links handed out
}

// server is one registered upstream with its lazily discovered endpoints.
type server struct {
	id   string
	cfg  Config // as configured, then filled in by discovery
	orig Config // as configured

	mu        sync.Mutex
	oc        *oauth2.Config
	revokeURL string
	// reg is the dynamically registered client oc is, nil for a
	// configured one: stored with each grant it gets (a grant is bound to
	// its client).
	reg *Registration
}

// AddServer registers an upstream server that uses per-user OAuth. The
// authorization server is discovered on first use, so an identity provider
// that is down at start-up does not stop the gateway.
func (m *Manager) AddServer(id string, cfg Config) error {
	if err := cfg.validate(id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.servers == nil {
		m.servers = map[string]*server{}
	}
	if _, dup := m.servers[id]; dup {
		return fmt.Errorf("oauth_user server %q registered twice", id)
	}
	m.servers[id] = &server{id: id, cfg: cfg, orig: cfg}
	return nil
}

// SetServer registers id, or replaces its configuration when it differs
// from the registered one (a reloaded bundle changed it): the new one is
// discovered afresh on first use. Grants already given stay in the Store.
// It reports whether anything changed.
func (m *Manager) SetServer(id string, cfg Config) (bool, error) {
	if err := cfg.validate(id); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.servers[id]; ok && reflect.DeepEqual(s.orig, cfg) {
		return false, nil
	}
	if m.servers == nil {
		m.servers = map[string]*server{}
	}
	m.servers[id] = &server{id: id, cfg: cfg, orig: cfg}
	return true, nil
}

// ErrUnknownServer: the server was not registered with AddServer.
var ErrUnknownServer = errors.New("server does not use per-user oauth")

func (m *Manager) server(id string) (*server, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.servers[id]
	if !ok {
		return nil, fmt.Errorf("server %q: %w", id, ErrUnknownServer)
	}
	return s, nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) client() *http.Client {
	if m.HTTPClient != nil {
		return m.HTTPClient
	}
	return http.DefaultClient
}

// oauthCtx carries the Manager's HTTP client into x/oauth2.
func (m *Manager) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, m.client())
}

func (m *Manager) emit(ctx context.Context, e Event) {
	if e.Kind == EventGrant && e.ElicitationID != "" {
		m.completed(e.ElicitationID)
	}
	if m.Sink == nil {
		return
	}
	e.Time = m.now().UTC()
	m.Sink.OAuthEvent(ctx, e)
}

func (m *Manager) fresh(t Token) bool {
	leeway := m.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	return t.AccessToken != "" && (t.Expiry.IsZero() || m.now().Add(leeway).Before(t.Expiry))
}

// Token returns an access token of user for server, valid for at least
// the leeway. It refreshes an expiring one (once per grant, across
// goroutines and, with a Locker store or LockDir, across processes). When the user has no
// usable grant it returns a *ConsentRequired error carrying the consent
// URL; other errors mean the call must fail (fail closed).
func (m *Manager) Token(ctx context.Context, user, serverID string) (string, error) {
	s, err := m.server(serverID)
	if err != nil {
		return "", err
	}
	k := Key{User: user, Server: serverID}
	t, err := m.Store.Get(ctx, k)
	if errors.Is(err, ErrNoToken) {
		return "", m.consentError(ctx, s, k)
	}
	if err != nil {
		return "", err
	}
	if !m.fresh(t) {
		if t, err = m.refresh(ctx, s, k); err != nil {
			return "", err
		}
	}
	m.emit(ctx, Event{Kind: EventUse, User: user, Server: serverID, Scopes: t.Scopes, Expiry: t.Expiry})
	return t.AccessToken, nil
}

// Reject marks accessToken, which the server refused before its expiry
// (revoked, or the server restarted with new keys), as spent: the next
// Token refreshes the grant, and a refused refresh makes it a consent.
// A grant already holding another token is left alone (someone refreshed
// it meanwhile).
func (m *Manager) Reject(ctx context.Context, user, serverID, accessToken string) error {
	k := Key{User: user, Server: serverID}
	unlock, err := m.lockGrant(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	if c, ok := m.Store.(interface{ Forget(Key) }); ok {
		c.Forget(k) // what the store holds now, not a copy of the refused token
	}
	t, err := m.Store.Get(ctx, k)
	if errors.Is(err, ErrNoToken) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.AccessToken != accessToken {
		return nil
	}
	t.Expiry = m.now().Add(-time.Second)
	return m.Store.Put(ctx, k, t)
}

func (m *Manager) keyLock(k Key) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = map[Key]*sync.Mutex{}
	}
	l, ok := m.locks[k]
	if !ok {
		l = &sync.Mutex{}
		m.locks[k] = l
	}
	return l
}

// consentLock is the mutex under which this process makes k's consent.
func (m *Manager) consentLock(k Key) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.consentLocks == nil {
		m.consentLocks = map[Key]*sync.Mutex{}
	}
	l, ok := m.consentLocks[k]
	if !ok {
		l = &sync.Mutex{}
		m.consentLocks[k] = l
	}
	return l
}

// lockFile names the grant's lock file by a hash, so no user name or
// server id lands in a file name.
func (m *Manager) lockFile(k Key) string {
	h := sha256.Sum256([]byte(k.User + "\x00" + k.Server))
	return filepath.Join(m.LockDir, "oauth-"+hex.EncodeToString(h[:12])+".lock")
}

// lockGrant takes k's lock for a read-modify-write of its grant: this
// process's mutex, then the Store's own lock when it is a Locker (shared
// by every replica on the store), else a lock file in LockDir (shared by
// the processes of this host). The caller re-reads the grant after it:
// whoever held the lock before may have changed it.
func (m *Manager) lockGrant(ctx context.Context, k Key) (func(), error) {
	l := m.keyLock(k)
	l.Lock()
	if lk, ok := m.Store.(Locker); ok {
		lctx, cancel := context.WithTimeout(ctx, lockWait)
		defer cancel()
		unlock, err := lk.Lock(lctx, k)
		if err != nil {
			l.Unlock()
			return nil, fmt.Errorf("lock the grant for server %q: %w", k.Server, err)
		}
		return func() { unlock(); l.Unlock() }, nil
	}
	if m.LockDir == "" {
		return l.Unlock, nil
	}
	if err := os.MkdirAll(m.LockDir, 0o700); err != nil {
		l.Unlock()
		return nil, fmt.Errorf("create the lock directory: %w", err)
	}
	fl := flock.New(m.lockFile(k), flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	if ok, err := fl.TryLockContext(lctx, 20*time.Millisecond); err != nil || !ok {
		l.Unlock()
		return nil, fmt.Errorf("lock %s to refresh the token for server %q: another process held it for %s: %v", m.lockFile(k), k.Server, lockWait, err)
	}
	return func() { _ = fl.Unlock(); l.Unlock() }, nil
}

// refresh renews k's access token. Holding the grant's lock, it re-reads
// the store first: whoever refreshed meanwhile (another goroutine,
// process or replica) left a fresh token there, and the refresh token it
// used is already spent.
func (m *Manager) refresh(ctx context.Context, s *server, k Key) (Token, error) {
	unlock, err := m.lockGrant(ctx, k)
	if err != nil {
		return Token{}, err
	}
	defer unlock()
	t, err := m.Store.Get(ctx, k)
	if errors.Is(err, ErrNoToken) {
		return Token{}, m.consentError(ctx, s, k)
	}
	if err != nil {
		return Token{}, err
	}
	if m.fresh(t) {
		return t, nil
	}
	if t.RefreshToken == "" {
		if err := m.Store.Delete(ctx, k); err != nil {
			return Token{}, err
		}
		return Token{}, m.consentError(ctx, s, k)
	}
	oc, err := m.config(ctx, s)
	if err != nil {
		return Token{}, err
	}
	t, ok := m.bound(s, t, oc)
	if !ok {
		// Another authorization server (or client) than the grant's: its
		// refresh token is not sent there. The grant stays (its own
		// server may come back); the person consents at the new one,
		// whose link shows it.
		m.emit(ctx, Event{Kind: EventOtherIssuer, User: k.User, Server: k.Server, Reason: "the server's authorization server is not the one that issued the grant"})
		return Token{}, m.consentError(ctx, s, k)
	}
	nt, err := oc.TokenSource(m.oauthCtx(ctx), &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
	if err != nil {
		if code, ok := rejected(err); ok {
			// Revoked, rotated away or expired: only a new consent helps.
			if err := m.Store.Delete(ctx, k); err != nil {
				return Token{}, err
			}
			m.emit(ctx, Event{Kind: EventRefreshRejected, User: k.User, Server: k.Server, Reason: code})
			return Token{}, m.consentError(ctx, s, k)
		}
		return Token{}, fmt.Errorf("refresh the token for server %q at %s: %w", k.Server, oc.Endpoint.TokenURL, err)
	}
	t = fromOAuth2(nt, t)
	if err := m.Store.Put(ctx, k, t); err != nil {
		return Token{}, err
	}
	m.emit(ctx, Event{Kind: EventRefresh, User: k.User, Server: k.Server, Scopes: t.Scopes, Expiry: t.Expiry})
	return t, nil
}

// bound reports whether grant t may be refreshed or revoked with s's
// configuration as discovered (oc): it was issued by the same
// authorization server (Token.Issuer) to the same client. A grant stored
// before grants recorded their issuer is bound to the authorization
// server and client in force when it is first refreshed or revoked: the
// one it was obtained from, unless the configuration changed in between
// (the shim binds it before it follows a challenge to new metadata:
// Remote.Challenged). The returned grant records them.
func (m *Manager) bound(s *server, t Token, oc *oauth2.Config) (Token, bool) {
	var ok bool
	t.Issuer, t.ClientID, ok = BindGrant(t.Issuer, t.ClientID, s.authServer(), oc.ClientID)
	return t, ok
}

// BindGrant is the rule for which authorization server and client a grant
// may be refreshed or revoked with, shared by this package and the
// gateway's outbound credentials (shim/creds) so that the two cannot
// drift apart. A grant that recorded its issuer (and client) is bound to
// them: it may be used with authorization server as and client clientID
// only when they are the ones recorded (a grant that recorded no client
// accepts any). A grant stored before grants recorded their issuer is
// bound to as and clientID, the ones in force when it is first used. It
// returns the grant's issuer and client after binding, and whether it
// may be used.
func BindGrant(issuer, client, as, clientID string) (string, string, bool) {
	if issuer == "" {
		return as, clientID, true
	}
	return issuer, client, issuer == as && (client == "" || client == clientID)
}

// bindLegacy records in user's grant for serverID, when it was stored
// before grants named their issuer, the authorization server and client
// in force now (see bound), before a change of configuration can move it.
func (m *Manager) bindLegacy(ctx context.Context, user, serverID string) error {
	s, err := m.server(serverID)
	if err != nil {
		return err
	}
	k := Key{User: user, Server: serverID}
	if t, err := m.Store.Get(ctx, k); err != nil || t.Issuer != "" {
		return nil
	}
	oc, err := m.config(ctx, s)
	if err != nil {
		return err
	}
	unlock, err := m.lockGrant(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	t, err := m.Store.Get(ctx, k)
	if err != nil || t.Issuer != "" {
		return nil
	}
	t, _ = m.bound(s, t, oc)
	return m.Store.Put(ctx, k, t)
}

// rejected reports whether err is the authorization server refusing the
// refresh token itself (RFC 6749 invalid_grant; Dex says invalid_request),
// rather than refusing mcpgov (invalid_client) or being unreachable.
func rejected(err error) (string, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return "", false
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_request":
		return re.ErrorCode, true
	}
	return "", false
}

// fromOAuth2 converts a token response, keeping what the response leaves
// out (servers need not resend the refresh token or the scopes).
func fromOAuth2(nt *oauth2.Token, prev Token) Token {
	t := Token{AccessToken: nt.AccessToken, RefreshToken: nt.RefreshToken, TokenType: nt.TokenType, Expiry: nt.Expiry, Scopes: prev.Scopes,
		Issuer: prev.Issuer, ClientID: prev.ClientID}
	if t.RefreshToken == "" {
		t.RefreshToken = prev.RefreshToken
	}
	if sc, ok := nt.Extra("scope").(string); ok && sc != "" {
		t.Scopes = strings.Fields(sc)
	}
	return t
}
