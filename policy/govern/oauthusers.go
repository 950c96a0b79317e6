package govern

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/shim/creds"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// OAuthUsers assembles per-user OAuth (auth type oauth_user) for the
// gateway: a consent flow per server of the bundle's catalog, its grants
// kept in the vault, its redirect endpoint at publicURL +
// gateway.OAuthCallbackPath, and each grant, refresh, use and revocation
// recorded (kind credential, never a token). With a vault it is made even
// when no server uses oauth_user yet, so that those a reloaded bundle adds
// work without a restart (Reload registers them); without a vault and
// without such servers it returns nil.
func (g *GatewayGovernance) OAuthUsers(ctx context.Context, env Env, publicURL string) (*oauthuser.Manager, error) {
	users := oauthUserServers(g.cur().bundle.Catalog)
	if g.Creds == nil || g.Creds.Vault == nil {
		if len(users) == 0 {
			return nil, nil
		}
		var why error = errors.New("no vault")
		if g.Creds != nil && g.Creds.VaultErr != nil {
			why = g.Creds.VaultErr
		}
		return nil, WithHint(fmt.Errorf("servers with auth type oauth_user keep each person's grant in the vault: %w", why),
			"set MCPGOV_VAULT_KEY to a secret reference holding 32 random bytes as base64")
	}
	lockDir, err := StateDir(env, "oauth")
	if err != nil {
		return nil, err
	}
	m := &oauthuser.Manager{Store: vaultTokens{g.Creds.Vault}, Sink: oauthRecorder(g.Store()), LockDir: lockDir, ProbeChallenge: true}
	if g.shared != nil {
		// Replicas share the consents in flight: the browser's redirect
		// may reach any of them. Those of the vault's store are sealed
		// with its key (the records hold the PKCE verifier).
		if sv, ok := g.Creds.Vault.Store.(*state.Vault); ok {
			m.Pending = sv.Consents()
			// And the clients mcpgov registered itself as (RFC 7591),
			// sealed too: replica B refreshes A's grants with A's client.
			m.Clients = sv.Clients()
		} else {
			m.Pending = g.shared.Store.Consents()
		}
	}
	redirect := strings.TrimRight(publicURL, "/") + gateway.OAuthCallbackPath
	if err := g.setOAuthServers(ctx, m, redirect, users); err != nil {
		return nil, err
	}
	g.oauthMu.Lock()
	g.oauth, g.oauthRedirect = m, redirect
	g.oauthMu.Unlock()
	return m, nil
}

func oauthUserServers(c *catalog.Catalog) []*catalog.Server {
	var users []*catalog.Server
	for _, s := range c.Servers {
		if s.Auth.Kind() == catalog.AuthOAuthUser {
			users = append(users, s)
		}
	}
	return users
}

// setOAuthServers registers (or updates) each oauth_user server with m.
func (g *GatewayGovernance) setOAuthServers(ctx context.Context, m *oauthuser.Manager, redirect string, users []*catalog.Server) error {
	for _, s := range users {
		a := s.Auth
		secret := ""
		if a.ClientSecret != "" {
			var err error
			if secret, err = g.Creds.Secrets.Resolve(ctx, a.ClientSecret); err != nil {
				return fmt.Errorf("server %s: auth.client_secret: %w", s.ID, err)
			}
		}
		resource := a.Resource
		if resource == "" {
			resource = s.Launch.URL
		}
		if _, err := m.SetServer(s.ID, oauthuser.Config{Issuer: a.Issuer, AuthURL: a.AuthorizationURL, TokenURL: a.TokenURL, RevocationURL: a.RevocationURL,
			ClientID: a.ClientID, ClientSecret: secret, ClientMetadataURL: a.ClientMetadataURL, Scopes: a.Scopes, RedirectURL: redirect, Resource: resource}); err != nil {
			return fmt.Errorf("server %s: %w", s.ID, err)
		}
	}
	return nil
}

// reloadOAuthUsers registers the oauth_user servers of a bundle that
// replaced the one in use (new ones, changed ones), so their consents work
// without a restart. A server whose client secret does not resolve is
// reported; its calls then fail with the reason.
func (g *GatewayGovernance) reloadOAuthUsers(st *gatewayState) []Notice {
	g.oauthMu.Lock()
	m, redirect := g.oauth, g.oauthRedirect
	g.oauthMu.Unlock()
	if m == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.setOAuthServers(ctx, m, redirect, oauthUserServers(st.bundle.Catalog)); err != nil {
		return []Notice{{"warning", "per-user OAuth: " + err.Error()}}
	}
	return nil
}

// vaultTokens is the vault as oauthuser's token store: each grant is the
// vault entry (user, server, "oauth"), encrypted at rest.
type vaultTokens struct{ v *vault.Vault }

var _ oauthuser.Locker = vaultTokens{}

func (s vaultTokens) key(k oauthuser.Key) vault.Key {
	return vault.Key{User: k.User, Server: k.Server, Name: vault.NameOAuth}
}

// Get implements oauthuser.TokenStore.
func (s vaultTokens) Get(ctx context.Context, k oauthuser.Key) (oauthuser.Token, error) {
	e, err := s.v.Store.Get(ctx, s.key(k))
	if errors.Is(err, vault.ErrNotFound) || err == nil && e.Token == nil {
		return oauthuser.Token{}, fmt.Errorf("%s: %w", s.key(k), oauthuser.ErrNoToken)
	}
	if err != nil {
		return oauthuser.Token{}, err
	}
	return oauthuser.Token(*e.Token), nil
}

// Put implements oauthuser.TokenStore.
func (s vaultTokens) Put(ctx context.Context, k oauthuser.Key, t oauthuser.Token) error {
	return s.v.PutToken(ctx, k.User, k.Server, vault.Token(t))
}

// Lock implements oauthuser.Locker with the vault's refresh lock (the
// same one vault.Vault.Token takes): a key in Redis when the vault is on
// the shared store, so one replica at a time refreshes or rejects a grant;
// a lock file next to the vault otherwise.
func (s vaultTokens) Lock(ctx context.Context, k oauthuser.Key) (func(), error) {
	return s.v.Store.Lock(ctx, s.key(k))
}

// Delete implements oauthuser.TokenStore.
func (s vaultTokens) Delete(ctx context.Context, k oauthuser.Key) error {
	err := s.v.Delete(ctx, s.key(k), "oauth grant withdrawn")
	if errors.Is(err, vault.ErrNotFound) {
		return nil
	}
	return err
}

// oauthRecorder records consent-flow events as credential records.
func oauthRecorder(store enforce.Store) oauthuser.Sink {
	return recordOAuth(store, func(e oauthuser.Event) audit.Identity { return audit.Identity{Subject: e.User, Method: "vault"} }, nil)
}

// recordOAuth records each event (kind credential, never a token) as
// the identity who returns says; server, when set, names the server.
func recordOAuth(store enforce.Store, who func(oauthuser.Event) audit.Identity, server *audit.ServerRef) oauthuser.Sink {
	return oauthuser.SinkFunc(func(ctx context.Context, e oauthuser.Event) {
		if store == nil {
			return
		}
		reason := string(e.Kind) + " oauth grant"
		if e.Reason != "" {
			reason += ": " + e.Reason
		}
		ref := audit.ServerRef{ID: e.Server}
		if server != nil {
			ref = *server
		}
		_ = store.Append(ctx, &audit.Record{
			Version: audit.SchemaVersion, Kind: audit.KindCredential, Time: time.Now().UTC(),
			Identity: who(e), Server: ref, Outcome: string(e.Kind), Reason: reason,
		})
	})
}

// OAuthSink records the shim's own OAuth events for its --url server (a
// grant, refresh, refusal or consent of the person's keyring grant) in
// the connection's audit store, as the connection's identity, never with
// a token; nil when there is no store.
func (e *Engine) OAuthSink() oauthuser.Sink {
	if e.store == nil {
		return nil
	}
	id, server := e.OAuthRecordsAs()
	return KeyringOAuthSink(e.store, id, server)
}

// OAuthRecordsAs is whom and which server OAuthSink's records name: the
// connection's identity (method keyring; "local" without a login) and the
// catalog entry, else the URL. The shim's redirect keeper, a process of
// its own, records as the shim would with them (KeyringOAuthSink).
func (e *Engine) OAuthRecordsAs() (audit.Identity, audit.ServerRef) {
	id := e.Config.Identity
	if id.Subject == "" {
		id = audit.Identity{Subject: "local"}
	}
	id.Method = "keyring"
	server := audit.ServerRef{ID: e.URL}
	if e.Config.Server != nil {
		server.ID = e.Config.Server.ID
	}
	return id, server
}

// KeyringOAuthSink records the OAuth events of a keyring grant in store
// (kind credential, never a token) as id, for server; a use is not
// recorded (each call's own record says it went through).
func KeyringOAuthSink(store enforce.Store, id audit.Identity, server audit.ServerRef) oauthuser.Sink {
	rec := recordOAuth(store, func(oauthuser.Event) audit.Identity { return id }, &server)
	return oauthuser.SinkFunc(func(ctx context.Context, ev oauthuser.Event) {
		if ev.Kind != oauthuser.EventUse {
			rec.OAuthEvent(ctx, ev)
		}
	})
}

// ConsentSignin is the gateway's OpenID client at its identity provider
// ([gateway] consent_issuer, consent_client_id, consent_client_secret, a
// reference); zero when unset.
type ConsentSignin struct{ Issuer, ClientID, ClientSecret string }

// CheckConsentPerson binds m's consents to the person each was made for
// when c is set: it returns the handler of the start and sign-in
// endpoints (login/oauthuser.PersonCheck). Without c it returns nil, and
// records once that consents are unchecked (a credential record).
func (g *GatewayGovernance) CheckConsentPerson(ctx context.Context, m *oauthuser.Manager, c ConsentSignin, publicURL string) (http.Handler, error) {
	if c.Issuer == "" {
		oauthRecorder(g.Store()).OAuthEvent(ctx, oauthuser.Event{Kind: oauthuser.EventConsentUnchecked, User: "mcpgov",
			Reason: "no [gateway] consent_issuer: a consent link works for whoever opens it", Time: time.Now().UTC()})
		return nil, nil
	}
	secret := ""
	if c.ClientSecret != "" {
		var err error
		if secret, err = g.Creds.Secrets.Resolve(ctx, c.ClientSecret); err != nil {
			return nil, fmt.Errorf("[gateway] consent_client_secret: %w", err)
		}
	}
	key, err := consentCookieKey(ctx, g.Creds.Vault)
	if err != nil {
		return nil, err
	}
	p := &oauthuser.PersonCheck{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret, BaseURL: publicURL, Key: key,
		UserOf: func(subject, email string) string {
			return creds.UserOf(audit.Identity{Subject: subject, Email: email, Method: "oidc"})
		}}
	return p.Install(ctx, m)
}

// consentCookieKey is the key the person check signs its cookies with,
// kept in the vault (a shared secret, sealed like the others), so every
// replica on the vault's store takes the cookies any of them set. The
// first replica to start makes it, under the entry's lock in the vault's
// store (a key in Redis on the shared store, a lock file next to a vault
// file), reading it again under the lock: replicas that start together
// make one key, and each takes the one stored.
func consentCookieKey(ctx context.Context, v *vault.Vault) ([]byte, error) {
	const server, name = "mcpgov-gateway", "consent-cookie-key"
	ref := secretref.Ref{Scheme: "vault", Name: server + "/" + name}
	s, err := v.Resolve(ctx, ref)
	if errors.Is(err, vault.ErrNotFound) {
		s, err = makeConsentCookieKey(ctx, v, server, name, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("read the consent cookies' key from the vault: %w", err)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("the vault entry %s/%s is not a consent cookie key; delete it to have a new one made", server, name)
	}
	return b, nil
}

// makeConsentCookieKey stores a new consent cookie key unless another
// replica has meanwhile, and returns the stored one.
func makeConsentCookieKey(ctx context.Context, v *vault.Vault, server, name string, ref secretref.Ref) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unlock, err := v.Store.Lock(lctx, vault.Key{Server: server, Name: name})
	if err != nil {
		return "", fmt.Errorf("lock the vault entry %s/%s to make the consent cookies' key: %w", server, name, err)
	}
	defer unlock()
	if s, err := v.Resolve(ctx, ref); !errors.Is(err, vault.ErrNotFound) {
		return s, err // another replica made it
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := v.SetSecret(ctx, server, name, base64.RawStdEncoding.EncodeToString(b)); err != nil {
		// A replica that does not take the lock (an older one) may
		// have written its own first: the stored one wins.
		if s, rerr := v.Resolve(ctx, ref); rerr == nil {
			return s, nil
		}
		return "", fmt.Errorf("keep the consent cookies' key in the vault: %w", err)
	}
	return v.Resolve(ctx, ref)
}
