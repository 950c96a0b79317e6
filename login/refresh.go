package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/oauth2"
)

// lockWait bounds how long a process waits for another one's refresh.
const lockWait = 30 * time.Second

// Load returns the profile's stored session without refreshing it or
// touching the network (for `auth status`).
func (m *Manager) Load() (*Session, error) { return m.readSession() }

// Token returns the profile's session with an access token that is valid
// for at least the leeway, refreshing it when needed. The fast path (a
// fresh token) reads one file and makes no network or keyring call.
func (m *Manager) Token(ctx context.Context) (*Session, error) {
	s, err := m.readSession()
	if err != nil {
		return nil, err
	}
	if s.Kind == KindToken {
		return m.personalToken(s)
	}
	if m.fresh(s) {
		return s, nil
	}
	return m.refresh(ctx)
}

func (m *Manager) fresh(s *Session) bool {
	return s.AccessToken != "" && m.now().Add(m.leeway()).Before(s.Expiry)
}

func (m *Manager) personalToken(s *Session) (*Session, error) {
	if !s.Expiry.IsZero() && !m.now().Before(s.Expiry) {
		return nil, wrap(ErrExpired, "the token of profile %q expired at %s", s.Profile, s.Expiry.Format(time.RFC3339))
	}
	secret, err := m.getSecret(s)
	if err != nil {
		return nil, err
	}
	s.AccessToken = secret
	return s, nil
}

// refresh renews the access token under the profile's lock file. Every
// process re-reads the session once it holds the lock, so when many
// refresh at once only the first uses the refresh token; the others find
// its result. Identity providers rotate refresh tokens and may revoke the
// whole login when a rotated one is presented again.
func (m *Manager) refresh(ctx context.Context) (*Session, error) {
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.Dir, err)
	}
	lock := flock.New(m.lockPath(), flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	ok, err := lock.TryLock()
	if err == nil && !ok {
		if m.OnLockWait != nil {
			m.OnLockWait()
		}
		ok, err = lock.TryLockContext(lctx, 20*time.Millisecond)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("lock %s for refresh: another mcpgov has held it for %s: %v", m.lockPath(), lockWait, err)
	}
	defer lock.Unlock()

	s, err := m.readSession()
	if err != nil {
		return nil, err
	}
	if m.fresh(s) {
		return s, nil
	}
	rt, err := m.getSecret(s)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, wrap(ErrExpired, "the login of profile %q expired at %s and holds no refresh token", s.Profile, s.Expiry.Format(time.RFC3339))
	}
	// The stored session, not the configuration, says where it came from.
	m.Issuer, m.ClientID, m.Scopes = s.Issuer, s.ClientID, s.Scopes
	p, err := m.discover(ctx, s.Issuer)
	if err != nil {
		return nil, err
	}
	tok, err := m.oauthConfig(p, "").TokenSource(p.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return nil, tokenError(s.Issuer, "refresh", err)
	}
	if err := m.apply(ctx, p, s, tok); err != nil {
		return nil, err
	}
	s.RefreshedAt = m.now().UTC()
	if tok.RefreshToken != "" && tok.RefreshToken != rt {
		// Rotated: the old one is dead now, so the new one must be kept
		// even if the keyring has gone away meanwhile.
		if _, err := m.putSecret(s, tok.RefreshToken); err != nil {
			return nil, err
		}
	}
	if err := m.writeSession(s); err != nil {
		return nil, err
	}
	return s, nil
}

// ErrNoRevocation: the identity provider advertises no RFC 7009
// revocation endpoint, so `logout --revoke` can only forget the login.
var ErrNoRevocation = errors.New("the identity provider offers no token revocation endpoint")

// Logout forgets the profile's login: the keyring item and the session
// file. With revoke it first asks the identity provider to revoke the
// refresh token; when the provider cannot, the local login is still
// removed and the returned error matches ErrNoRevocation.
func (m *Manager) Logout(ctx context.Context, revoke bool) (*Session, error) {
	s, err := m.readSession()
	if err != nil {
		return nil, err
	}
	var revokeErr error
	if revoke {
		revokeErr = m.revoke(ctx, s)
		if revokeErr != nil && !errors.Is(revokeErr, ErrNoRevocation) {
			// Keep the login, so the revocation can be retried.
			return s, fmt.Errorf("%w (the login was kept; retry, or log out without --revoke)", revokeErr)
		}
	}
	if s.Storage == StorageKeyring {
		if err := m.Secrets.Delete(keyringService(s.Issuer), s.Profile); err != nil {
			return s, fmt.Errorf("remove the login from the keyring: %w", err)
		}
	}
	if err := os.Remove(m.sessionPath()); err != nil {
		return s, fmt.Errorf("remove %s: %w", m.sessionPath(), err)
	}
	_ = os.Remove(m.lockPath())
	return s, revokeErr
}

func (m *Manager) revoke(ctx context.Context, s *Session) error {
	secret, err := m.getSecret(s)
	if err != nil || secret == "" {
		return err
	}
	m.ClientID = s.ClientID
	p, err := m.discover(ctx, s.Issuer)
	if err != nil {
		return err
	}
	if p.doc.RevokeURL == "" {
		return wrap(ErrNoRevocation, "%s offers no token revocation endpoint; the login was removed here but its refresh token stays valid at the identity provider until it expires", s.Issuer)
	}
	hint := "refresh_token"
	if s.Kind == KindToken {
		hint = "access_token"
	}
	form := url.Values{"token": {secret}, "token_type_hint": {hint}, "client_id": {s.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.doc.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.httpClient().Do(req)
	if err != nil {
		return unreachable(s.Issuer, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke at %s: %s", p.doc.RevokeURL, resp.Status)
	}
	return nil
}
