package oauthuser

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrNoToken is what a TokenStore returns when it holds nothing for a key.
var ErrNoToken = errors.New("no stored token")

// Key names one grant: a user's tokens for one upstream server.
type Key struct {
	// User is the stable identity of the person (for example issuer and
	// subject of their mcpgov login), never a display name.
	User string
	// Server is the catalog id of the upstream server.
	Server string
}

// Token is one user's grant for one server. Its String and GoString mask
// the secrets, so a Token printed by mistake leaks nothing.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	// Issuer is the authorization server that issued the grant: its
	// issuer, or the token endpoint of one pinned by its endpoints (no
	// issuer configured). ClientID is the client it was issued to. The
	// grant is refreshed and revoked there only: a server that names
	// another authorization server later gets a new consent, never this
	// grant's refresh token. Empty in a grant stored before they were
	// recorded (see Manager.bound).
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// String describes t without its secrets.
func (t Token) String() string {
	s := "oauthuser.Token{access: " + mask(t.AccessToken) + ", refresh: " + mask(t.RefreshToken)
	if !t.Expiry.IsZero() {
		s += ", expiry: " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return s + "}"
}

// GoString is String, so %#v masks too.
func (t Token) GoString() string { return t.String() }

func mask(secret string) string {
	if secret == "" {
		return "none"
	}
	return "***"
}

// TokenStore keeps tokens per user and server. Get returns ErrNoToken (or
// an error wrapping it) when there is nothing stored; Delete of a missing
// key is not an error. Implementations must be safe for concurrent use.
// The gateway's encrypted vault and the shim's OS keyring implement it.
type TokenStore interface {
	Get(ctx context.Context, k Key) (Token, error)
	Put(ctx context.Context, k Key, t Token) error
	Delete(ctx context.Context, k Key) error
}

// Locker is a TokenStore that can lock one grant for every process that
// shares the store, not only those on one host: the gateway's vault on a
// shared Redis, where replicas on several hosts hold the same grants.
// When the Store implements it, the Manager takes that lock (instead of a
// lock file in LockDir) around a refresh and Reject, then re-reads the
// grant. unlock releases it; a lock whose holder dies must lapse by itself.
type Locker interface {
	Lock(ctx context.Context, k Key) (unlock func(), err error)
}

// MemoryStore is a TokenStore in process memory, for tests and a gateway
// that keeps no grant across restarts.
type MemoryStore struct {
	mu sync.Mutex
	m  map[Key]Token
}

var _ TokenStore = (*MemoryStore)(nil)

// Get returns the token stored for k.
func (s *MemoryStore) Get(_ context.Context, k Key) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[k]
	if !ok {
		return Token{}, ErrNoToken
	}
	t.Scopes = slices.Clone(t.Scopes)
	return t, nil
}

// Put stores t for k.
func (s *MemoryStore) Put(_ context.Context, k Key, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[Key]Token{}
	}
	t.Scopes = slices.Clone(t.Scopes)
	s.m[k] = t
	return nil
}

// Delete forgets k.
func (s *MemoryStore) Delete(_ context.Context, k Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}
