package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/google/renameio/v2/maybe"
)

// Storage backends a login's secret can live in, as `auth status` names them.
const (
	StorageKeyring = "keyring"
	StorageFile    = "file"
	StorageEnv     = "env"
)

// Kinds of login.
const (
	KindOIDC  = "oidc"  // device flow or loopback PKCE; refreshable
	KindToken = "token" // a personal token given with --with-token
)

// Identity is the verified person behind a login.
type Identity struct {
	Subject string   `json:"subject"`
	Email   string   `json:"email,omitempty"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Issuer  string   `json:"issuer,omitempty"`
}

// Session is one profile's login. The session file holds everything but the
// long-lived secret (refresh token or personal token), which lives in the
// keyring; only when no keyring is usable does Secret sit in the file too.
//
// The access token is kept in the file on purpose: it is short-lived, and
// reading it without a keyring round trip keeps the shim's fast path cheap.
type Session struct {
	Profile     string    `json:"profile"`
	Kind        string    `json:"kind"`
	Issuer      string    `json:"issuer"`
	ClientID    string    `json:"clientId,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	AccessToken string    `json:"accessToken,omitempty"`
	IDToken     string    `json:"idToken,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"` // access token expiry
	Audience    []string  `json:"audience,omitempty"`
	Identity    Identity  `json:"identity"`
	Storage     string    `json:"storage"`
	Secret      string    `json:"secret,omitempty"` // only with Storage == StorageFile
	ObtainedAt  time.Time `json:"obtainedAt"`
	RefreshedAt time.Time `json:"refreshedAt,omitzero"`
}

var profileName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
})

// ValidProfile checks a profile name: it becomes a file name.
func ValidProfile(name string) error {
	if !profileName().MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

func (m *Manager) sessionPath() string { return filepath.Join(m.Dir, m.Profile+".json") }
func (m *Manager) lockPath() string    { return filepath.Join(m.Dir, m.Profile+".lock") }

// SessionPath is the profile's session file.
func (m *Manager) SessionPath() string { return m.sessionPath() }

// readSession reads the profile's session file; ErrNotLoggedIn when there
// is none.
func (m *Manager) readSession() (*Session, error) {
	b, err := os.ReadFile(m.sessionPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wrap(ErrNotLoggedIn, "not logged in (profile %q)", m.Profile)
	}
	if err != nil {
		return nil, fmt.Errorf("read login %s: %w", m.sessionPath(), err)
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, wrap(ErrNotLoggedIn, "login file %s is damaged (%v)", m.sessionPath(), err)
	}
	return &s, nil
}

// writeSession replaces the session file atomically with mode 0600 in a
// 0700 directory: it may hold tokens.
func (m *Manager) writeSession(s *Session) error {
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", m.Dir, err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := maybe.WriteFile(m.sessionPath(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write login %s: %w", m.sessionPath(), err)
	}
	return nil
}
