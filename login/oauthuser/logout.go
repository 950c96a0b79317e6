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

// Fronted is a remote server a shim fronts, as a client's config names it:
// its URL and the OAuth client its command line gives
// (--oauth-client-id, and the --oauth-client-secret reference), if any,
// and the authorization server it pins (--oauth-issuer).
// The reference is resolved (Resolve) only when a grant for URL is
// revoked as this client: the URL has a grant, the keyring holds no
// registration for it, and no other config names another client for it.
type Fronted struct {
	URL       string
	ClientID  string
	SecretRef string
	Issuer    string
	Resolve   func(ctx context.Context, ref string) (string, error)
}

// secret resolves f's client secret reference ("" without one).
func (f Fronted) secret(ctx context.Context) (string, error) {
	if f.SecretRef == "" || f.Resolve == nil {
		return "", nil
	}
	return f.Resolve(ctx, f.SecretRef)
}

// RevokeAll ends user's grants the shim keeps in the keyring: each is
// revoked at its authorization server (RFC 7009, when the server's
// metadata names a revocation_endpoint), then removed with the
// registered client, as Forget does. The servers are those of the index
// and also, for grants stored before the index existed, each of also
// whose keyring holds a grant (the remote servers the clients' shims
// front). A grant is revoked as the client the shim registered, else as
// the one also names for its server. A grant whose revocation fails is
// still removed here; its Revoked says why. hc reaches the authorization
// servers.
func (s IndexedKeyring) RevokeAll(ctx context.Context, user string, hc *http.Client, also []Fronted) ([]Revoked, error) {
	indexed, err := s.Servers()
	if err != nil {
		return nil, err
	}
	var out []Revoked
	var errs []error
	var extra []string
	named := map[string]Fronted{}
	clash := map[string]bool{} // configs naming different clients for a URL
	all := slices.Clone(indexed)
	for _, f := range also {
		if f.ClientID != "" {
			if g, ok := named[f.URL]; ok && g.ClientID != "" && (g.ClientID != f.ClientID || g.SecretRef != f.SecretRef) {
				clash[f.URL] = true
			}
			if g, ok := named[f.URL]; !ok || g.ClientID == "" {
				named[f.URL] = f
			}
		} else if _, ok := named[f.URL]; !ok {
			named[f.URL] = f
		}
		all = append(all, f.URL)
	}
	for u := range clash {
		// Which config's client got the grant is not known: none is
		// used, so no config's secret goes to the wrong client's
		// authorization server.
		named[u] = Fronted{URL: u, SecretRef: clashRef}
	}
	for _, srv := range all {
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
		out = append(out, s.revokeRemote(ctx, user, srv, t, hc, named[srv]))
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

// clashRef marks, in RevokeAll's named, a URL whose configs disagree on
// the client.
const clashRef = "\x00clash"

// revokeRemote asks server's authorization server to revoke t, as the
// client that obtained it: the registration the keyring keeps, else the
// client the config's --oauth-client-id names. The endpoints are
// discovered again (the registration's issuer, else the server's
// protected-resource metadata); nothing is registered.
func (s IndexedKeyring) revokeRemote(ctx context.Context, user, server string, t Token, hc *http.Client, f Fronted) Revoked {
	r := Revoked{Server: server}
	reg, err := s.GetClient(ctx, server)
	if errors.Is(err, ErrNoClient) || err == nil && reg.ClientID == "" {
		if f.SecretRef == clashRef {
			r.LocalOnly = "the clients' configs name different OAuth clients (--oauth-client-id, --oauth-client-secret) for this server, and which one the grant was issued to is not known, so none is used to ask for the revocation"
			return r
		}
		if f.ClientID == "" {
			r.LocalOnly = "the client the grant was issued to is known neither to the keyring nor to a client's config (--oauth-client-id), so it cannot ask for the revocation"
			return r
		}
		// Only here, for a grant with no registration in the keyring,
		// is the config's secret reference resolved.
		cs, rerr := f.secret(ctx)
		if rerr != nil {
			r.LocalOnly = fmt.Sprintf("the --oauth-client-secret reference of client %q does not resolve (%v), so it cannot ask for the revocation", f.ClientID, rerr)
			return r
		}
		reg, err = Registration{Issuer: f.Issuer, ClientID: f.ClientID, ClientSecret: cs}, nil
	}
	if err != nil {
		r.LocalOnly = err.Error()
		return r
	}
	// Revoked only where the grant was issued (its recorded issuer), and
	// as a client of that server: a configured secret goes only to the
	// issuer the config pins.
	issuer := reg.Issuer
	if t.Issuer != "" {
		if issuer != "" && issuer != t.Issuer {
			r.LocalOnly = fmt.Sprintf("the grant was issued by %s, not by %s where its client is registered, so it is not sent there", t.Issuer, issuer)
			return r
		}
		issuer = t.Issuer
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
	if err := m.AddServer(server, Config{Issuer: issuer, Resource: server, ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURL: redirect}); err != nil {
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
