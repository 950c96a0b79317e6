package oauthuser

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// Revoked is what RevokeAll did with one server's grant.
type Revoked struct {
	Server string
	// AtIssuer: the authorization server revoked the grant (RFC 7009)
	// before it was removed here.
	AtIssuer bool
	// LocalOnly, when not AtIssuer, says why the grant was removed here
	// only: it may stay valid at the authorization server until it
	// expires.
	LocalOnly string
}

// RevokeAll ends user's grants the shim keeps in the keyring: each is
// revoked at its authorization server (RFC 7009, when the server's
// metadata names a revocation_endpoint), then removed with the
// registered client, as Forget does. The servers are those of the index
// and also, for grants stored before the index existed, each of also
// whose keyring holds a grant (the remote URLs `mcpgov wrap` put behind a
// shim). A grant whose revocation fails is still removed here; its
// Revoked says why. hc reaches the authorization servers.
func (s IndexedKeyring) RevokeAll(ctx context.Context, user string, hc *http.Client, also []string) ([]Revoked, error) {
	indexed, err := s.Servers()
	if err != nil {
		return nil, err
	}
	var out []Revoked
	var errs []error
	var extra []string
	for _, srv := range append(slices.Clone(indexed), also...) {
		if slices.ContainsFunc(out, func(r Revoked) bool { return r.Server == srv }) {
			continue
		}
		t, err := s.KeyringStore.Get(ctx, Key{User: user, Server: srv})
		if errors.Is(err, ErrNoToken) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.Contains(indexed, srv) {
			extra = append(extra, srv)
		}
		out = append(out, s.revokeRemote(ctx, user, srv, t, hc))
	}
	for _, srv := range extra {
		e1 := s.KeyringStore.Delete(ctx, Key{User: user, Server: srv})
		e2 := s.Secrets.Delete(clientService(srv), "client")
		if e := errors.Join(e1, e2); e != nil {
			errs = append(errs, fmt.Errorf("remove the grant for server %q from the keyring: %w", srv, e))
		}
	}
	if _, err := s.Forget(ctx, user); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// revokeRemote asks server's authorization server to revoke t, as the
// client that obtained it: the registration the keyring keeps. The
// endpoints are discovered again (the registration's issuer, else the
// server's protected-resource metadata); nothing is registered.
func (s IndexedKeyring) revokeRemote(ctx context.Context, user, server string, t Token, hc *http.Client) Revoked {
	r := Revoked{Server: server}
	reg, err := s.GetClient(ctx, server)
	if errors.Is(err, ErrNoClient) || err == nil && reg.ClientID == "" {
		r.LocalOnly = "the client the grant was issued to is not in the keyring (one given with --oauth-client-id), so it cannot ask for the revocation"
		return r
	}
	if err != nil {
		r.LocalOnly = err.Error()
		return r
	}
	redirect := reg.RedirectURL
	if redirect == "" {
		redirect = "http://127.0.0.1/unused" // never visited: nothing is authorized here
	}
	var atIssuer bool
	m := &Manager{Store: &MemoryStore{}, HTTPClient: hc, Sink: SinkFunc(func(_ context.Context, e Event) {
		if e.Kind == EventRevoke {
			atIssuer = e.AtIssuer
		}
	})}
	if err := m.AddServer(server, Config{Issuer: reg.Issuer, Resource: server, ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURL: redirect}); err != nil {
		r.LocalOnly = err.Error()
		return r
	}
	_ = m.Store.Put(ctx, Key{User: user, Server: server}, t)
	if err := m.Revoke(ctx, user, server); err != nil {
		r.LocalOnly = err.Error()
		return r
	}
	r.AtIssuer = atIssuer
	if !atIssuer {
		r.LocalOnly = "its authorization server offers no revocation endpoint (RFC 7009), so the grant stays valid there until it expires"
	}
	return r
}
