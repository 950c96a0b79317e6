package login

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// SecretStore holds long-lived secrets (refresh tokens, personal tokens).
// Implementations return ErrKeyringUnavailable when they cannot be used and
// ErrSecretNotFound when the item is missing.
type SecretStore interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

// ErrSecretNotFound: the keyring has no such item.
var ErrSecretNotFound = errors.New("secret not found")

// keyringTimeout bounds every keyring call: a Secret Service can block on
// an unlock prompt nobody will answer (a shim has no terminal).
const keyringTimeout = 3 * time.Second

// Keyring is the OS keyring through go-keyring, with a timeout on every
// call and, on Linux, no D-Bus autolaunch: without a session bus it reports
// ErrKeyringUnavailable instead of spawning daemons that outlive mcpgov.
type Keyring struct {
	Getenv  func(string) string
	Timeout time.Duration
}

func (k Keyring) available() error {
	if k.Getenv("MCPGOV_KEYRING") == "off" {
		return wrap(ErrKeyringUnavailable, "keyring disabled by MCPGOV_KEYRING=off")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" {
		return nil
	}
	if k.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	if rd := k.Getenv("XDG_RUNTIME_DIR"); rd != "" {
		if _, err := os.Stat(filepath.Join(rd, "bus")); err == nil {
			return nil
		}
	}
	return wrap(ErrKeyringUnavailable, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)")
}

func (k Keyring) call(op string, f func() (string, error)) (string, error) {
	if err := k.available(); err != nil {
		return "", err
	}
	timeout := k.Timeout
	if timeout == 0 {
		timeout = keyringTimeout
	}
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := f()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		switch {
		case r.err == nil:
			return r.s, nil
		case errors.Is(r.err, keyring.ErrNotFound):
			return "", ErrSecretNotFound
		case errors.Is(r.err, keyring.ErrSetDataTooBig):
			return "", wrap(ErrKeyringUnavailable, "keyring %s: secret too large for this keyring", op)
		}
		// go-keyring's other errors are untyped (no bus, no Secret
		// Service, locked collection): all mean "use the fallback".
		return "", wrap(ErrKeyringUnavailable, "keyring %s: %v", op, r.err)
	case <-time.After(timeout):
		return "", wrap(ErrKeyringUnavailable, "keyring %s: no answer within %s (locked?)", op, timeout)
	}
}

// Get reads a secret.
func (k Keyring) Get(service, user string) (string, error) {
	return k.call("read", func() (string, error) { return keyring.Get(service, user) })
}

// Set stores a secret.
func (k Keyring) Set(service, user, secret string) error {
	_, err := k.call("write", func() (string, error) { return "", keyring.Set(service, user, secret) })
	return err
}

// Delete removes a secret; a missing one is not an error.
func (k Keyring) Delete(service, user string) error {
	_, err := k.call("delete", func() (string, error) { return "", keyring.Delete(service, user) })
	if errors.Is(err, ErrSecretNotFound) {
		return nil
	}
	return err
}

// keyringService names the keyring item of a login: one per issuer and
// profile.
func keyringService(issuer string) string { return "mcpgov:" + issuer }

// putSecret stores s's secret in the keyring, or in the session file when
// no keyring is usable. It reports whether it fell back to the file.
func (m *Manager) putSecret(s *Session, secret string) (fellBack bool, err error) {
	s.Secret = ""
	if secret == "" {
		s.Storage = StorageFile
		return false, nil
	}
	err = m.Secrets.Set(keyringService(s.Issuer), s.Profile, secret)
	if err == nil {
		s.Storage = StorageKeyring
		return false, nil
	}
	if !errors.Is(err, ErrKeyringUnavailable) {
		return false, err
	}
	m.keyringErr = err
	s.Storage = StorageFile
	s.Secret = secret
	return true, nil
}

// getSecret reads s's secret from where putSecret put it.
func (m *Manager) getSecret(s *Session) (string, error) {
	if s.Storage != StorageKeyring {
		return s.Secret, nil
	}
	secret, err := m.Secrets.Get(keyringService(s.Issuer), s.Profile)
	if errors.Is(err, ErrSecretNotFound) {
		return "", wrap(ErrNotLoggedIn, "the keyring no longer holds the login of profile %q", s.Profile)
	}
	if err != nil {
		return "", fmt.Errorf("read login secret: %w", err)
	}
	return secret, nil
}
