package oauthuser

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Revoke removes user's grant for server, or for every registered server
// when server is "", and drops their consents in flight (logout,
// offboarding). When the authorization server offers RFC 7009 revocation
// the refresh token (else the access token) is revoked there first. The
// local grant is removed even when that fails, so an offboarded user
// cannot use it from here; the returned error then says the token may
// stay valid at the authorization server.
func (m *Manager) Revoke(ctx context.Context, user, serverID string) error {
	var ids []string
	m.mu.Lock()
	if serverID == "" {
		for id := range m.servers {
			ids = append(ids, id)
		}
	} else {
		ids = []string{serverID}
	}
	m.mu.Unlock()
	var errs []error
	store := m.pendingStore()
	for _, id := range ids {
		// A consent in flight for the user dies with the grant.
		if rec, err := store.Current(ctx, user, id); err == nil {
			if p, err := decodePending(rec); err == nil {
				_, _ = store.Take(ctx, p.State)
			}
		}
	}
	for _, id := range ids {
		if err := m.revokeOne(ctx, user, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) revokeOne(ctx context.Context, user, serverID string) error {
	s, err := m.server(serverID)
	if err != nil {
		return err
	}
	k := Key{User: user, Server: serverID}
	l := m.keyLock(k) // not while a refresh is rotating the token
	l.Lock()
	defer l.Unlock()
	t, err := m.Store.Get(ctx, k)
	if errors.Is(err, ErrNoToken) {
		return nil
	}
	if err != nil {
		return err
	}
	var issuerErr error
	atIssuer := false
	if oc, err := m.config(ctx, s); err != nil {
		issuerErr = err
	} else if bt, ok := m.bound(s, t, oc); !ok {
		// Revoked only where it was issued: the server's authorization
		// server (or client) is now another one.
		issuerErr = fmt.Errorf("it was issued by %s, and the server's authorization server is now %s (or another client): it is not sent there", bt.Issuer, s.authServer())
	} else if s.revokeURL != "" {
		issuerErr = m.revokeAt(ctx, s, oc.ClientID, oc.ClientSecret, bt)
		atIssuer = issuerErr == nil
	}
	if err := m.Store.Delete(ctx, k); err != nil {
		return err
	}
	m.emit(ctx, Event{Kind: EventRevoke, User: user, Server: serverID, AtIssuer: atIssuer})
	if issuerErr != nil {
		return fmt.Errorf("the grant for server %q was removed here, but revoking it at the authorization server failed (it may stay valid there until it expires): %w", serverID, issuerErr)
	}
	return nil
}

func (m *Manager) revokeAt(ctx context.Context, s *server, clientID, secret string, t Token) error {
	tok, hint := t.RefreshToken, "refresh_token"
	if tok == "" {
		tok, hint = t.AccessToken, "access_token"
	}
	form := url.Values{"token": {tok}, "token_type_hint": {hint}}
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.revokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := m.client().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke at %s: %s", s.revokeURL, resp.Status)
	}
	return nil
}
