// Package vault holds outbound credentials — per-user API keys, shared
// secrets, and OAuth tokens (access, refresh, expiry, scopes) per user and
// server — encrypted at rest, refreshed ahead of expiry with one refresh
// per token across processes, revoked per entry or per user, and audited
// (grant, refresh, use, revoke) without ever recording a value.
//
// Vault is the service; Store is where entries live. FileStore, one
// encrypted file, is the embedded default; a shared store for replicas
// implements the same interface.
package vault

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcpgov/mcpgov/login/secretref"
)

// Kinds of entries.
const (
	KindAPIKey = "api_key"     // a person's own key for a server
	KindSecret = "secret"      // a shared secret ("vault:NAME" references)
	KindToken  = "oauth_token" // OAuth tokens
)

// Names of the entries a server's credentials are kept under.
const (
	NameAPIKey = "api_key"
	NameOAuth  = "oauth"
)

// Key names an entry: whose (User; "" for shared), for which server ("" for
// a shared secret), and which (Name).
type Key struct {
	User   string `json:"user"`
	Server string `json:"server"`
	Name   string `json:"name"`
}

func (k Key) String() string {
	u := k.User
	if u == "" {
		u = "(shared)"
	}
	return fmt.Sprintf("%s/%s/%s", u, k.Server, k.Name)
}

// Token is an OAuth grant, as held for one user and server.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	// Issuer and ClientID are the authorization server that issued the
	// grant and the client it was issued to (login/oauthuser: a grant is
	// refreshed and revoked only there).
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// Entry is one credential. Key and Kind are stored in the clear (so
// entries can be listed and revoked without the key-encryption key) and
// bound to the sealed part, so an entry moved or relabelled is refused.
type Entry struct {
	Key
	Kind    string    `json:"kind"`
	Secret  string    `json:"-"`
	Token   *Token    `json:"-"`
	Updated time.Time `json:"updated"`
}

// Info is what listing shows of an entry: never its value.
type Info struct {
	Key
	Kind    string    `json:"kind"`
	Updated time.Time `json:"updated"`
	Expiry  time.Time `json:"expiry,omitzero"`
}

// Errors.
var (
	ErrNotFound = secretref.ErrNotFound
	// ErrTampered: an entry does not open under the key-encryption key
	// (changed, moved, or sealed under another key). It is never used.
	ErrTampered = errors.New("vault entry fails authentication (tampered, moved, or sealed under another key)")
)

// Store keeps entries. Implementations are safe across processes.
type Store interface {
	Get(ctx context.Context, k Key) (Entry, error)
	Put(ctx context.Context, e Entry) error
	Delete(ctx context.Context, k Key) error
	// List returns the entries of user ("" for every user's and the
	// shared ones), without values.
	List(ctx context.Context, user string) ([]Info, error)
	// DeleteUser removes every entry of user and returns how many. An
	// entry it cannot read does not stop the removal of the others: it
	// returns how many it removed and an error naming that entry.
	DeleteUser(ctx context.Context, user string) (int, error)
	// Lock takes k's exclusive lock, across processes, for a refresh.
	Lock(ctx context.Context, k Key) (func(), error)
}

// Actions audited.
const (
	ActionGrant   = "grant"
	ActionRefresh = "refresh"
	ActionUse     = "use"
	ActionRevoke  = "revoke"
	ActionRefused = "refused" // an entry that did not open
)

// Event is one audited action on an entry; it never holds a value.
type Event struct {
	Action string
	Key
	Kind   string
	Reason string // for refused, and a refresh's or revocation's cause
}

// Refresher obtains a fresh token given the current one (zero when there is
// none yet: the client-credentials grant fetches one).
type Refresher func(ctx context.Context, current Token) (Token, error)

// Vault is the credential service over a Store.
type Vault struct {
	Store Store
	// Audit receives every grant, refresh, use and revocation.
	Audit func(Event)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Ahead is how long before its expiry a token is refreshed; one
	// minute when zero.
	Ahead time.Duration

	mu       sync.Mutex
	inflight map[Key]*sync.Mutex
}

func (v *Vault) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Vault) audit(e Event) {
	if v.Audit != nil {
		v.Audit(e)
	}
}

func (v *Vault) get(ctx context.Context, k Key) (Entry, error) {
	e, err := v.Store.Get(ctx, k)
	if errors.Is(err, ErrTampered) {
		v.audit(Event{Action: ActionRefused, Key: k, Reason: "entry fails authentication"})
	}
	return e, err
}

// SetAPIKey stores user's own key for server.
func (v *Vault) SetAPIKey(ctx context.Context, user, server, key string) error {
	return v.put(ctx, Entry{Key: Key{User: user, Server: server, Name: NameAPIKey}, Kind: KindAPIKey, Secret: key})
}

// SetSecret stores a shared secret, referenced as "vault:NAME" (server
// names the server it was moved from, "" when none).
func (v *Vault) SetSecret(ctx context.Context, server, name, value string) error {
	return v.put(ctx, Entry{Key: Key{Server: server, Name: name}, Kind: KindSecret, Secret: value})
}

// SecretHolds reports whether the shared secret server/name exists and
// whether it holds value, without recording a use: wrap asks before it
// stores a moved secret, so as never to overwrite another entry's.
func (v *Vault) SecretHolds(ctx context.Context, server, name, value string) (exists, same bool, err error) {
	e, err := v.get(ctx, Key{Server: server, Name: name})
	if errors.Is(err, ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, subtle.ConstantTimeCompare([]byte(e.Secret), []byte(value)) == 1, nil
}

// PutToken stores an OAuth grant for user and server.
func (v *Vault) PutToken(ctx context.Context, user, server string, t Token) error {
	return v.put(ctx, Entry{Key: Key{User: user, Server: server, Name: NameOAuth}, Kind: KindToken, Token: &t})
}

func (v *Vault) put(ctx context.Context, e Entry) error {
	if e.Secret == "" && (e.Token == nil || e.Token.AccessToken == "") {
		return fmt.Errorf("vault: empty value for %s", e.Key)
	}
	e.Updated = v.now().UTC()
	if err := v.Store.Put(ctx, e); err != nil {
		return fmt.Errorf("vault: store %s: %w", e.Key, err)
	}
	v.audit(Event{Action: ActionGrant, Key: e.Key, Kind: e.Kind})
	return nil
}

// APIKey returns user's own key for server.
func (v *Vault) APIKey(ctx context.Context, user, server string) (string, error) {
	return v.secret(ctx, Key{User: user, Server: server, Name: NameAPIKey})
}

func (v *Vault) secret(ctx context.Context, k Key) (string, error) {
	e, err := v.get(ctx, k)
	if err != nil {
		return "", err
	}
	if e.Secret == "" {
		return "", fmt.Errorf("vault entry %s holds no key: %w", k, ErrNotFound)
	}
	v.audit(Event{Action: ActionUse, Key: k, Kind: e.Kind})
	return e.Secret, nil
}

// Resolve implements secretref.Source for "vault:NAME" (a shared secret)
// and "vault:SERVER/NAME" (one moved from a server's config).
func (v *Vault) Resolve(ctx context.Context, ref secretref.Ref) (string, error) {
	k := Key{Name: ref.Name}
	for i := len(ref.Name) - 1; i >= 0; i-- {
		if ref.Name[i] == '/' {
			k = Key{Server: ref.Name[:i], Name: ref.Name[i+1:]}
			break
		}
	}
	return v.secret(ctx, k)
}

var _ secretref.Source = (*Vault)(nil)

// Token returns user's token for server, refreshed first when it expires
// within Ahead (or is missing, when refresh can fetch one: the
// client-credentials grant). Across processes sharing the store one
// refresh runs per token: the others wait for its lock and find the
// token fresh.
func (v *Vault) Token(ctx context.Context, user, server string, refresh Refresher) (Token, error) {
	k := Key{User: user, Server: server, Name: NameOAuth}
	e, err := v.get(ctx, k)
	if err == nil && e.Token != nil && v.fresh(*e.Token) {
		v.audit(Event{Action: ActionUse, Key: k, Kind: KindToken})
		return *e.Token, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) || refresh == nil {
		if err == nil {
			err = fmt.Errorf("vault token %s expired and cannot be refreshed", k)
		}
		return Token{}, err
	}
	// One refresh per token in this process, then across processes.
	m := v.keyLock(k)
	m.Lock()
	defer m.Unlock()
	unlock, err := v.Store.Lock(ctx, k)
	if err != nil {
		return Token{}, fmt.Errorf("vault: lock %s: %w", k, err)
	}
	defer unlock()
	var cur Token
	e, err = v.get(ctx, k)
	switch {
	case err == nil && e.Token != nil && v.fresh(*e.Token):
		v.audit(Event{Action: ActionUse, Key: k, Kind: KindToken})
		return *e.Token, nil // another process refreshed it
	case err == nil && e.Token != nil:
		cur = *e.Token
	case err != nil && !errors.Is(err, ErrNotFound):
		return Token{}, err
	}
	next, err := refresh(ctx, cur)
	if err != nil {
		return Token{}, fmt.Errorf("refresh token %s: %w", k, err)
	}
	if next.RefreshToken == "" {
		next.RefreshToken = cur.RefreshToken // servers may keep the old one valid
	}
	if next.AccessToken == "" {
		return Token{}, fmt.Errorf("refresh token %s: no access token in the answer", k)
	}
	if err := v.Store.Put(ctx, Entry{Key: k, Kind: KindToken, Token: &next, Updated: v.now().UTC()}); err != nil {
		return Token{}, fmt.Errorf("vault: store %s: %w", k, err)
	}
	v.audit(Event{Action: ActionRefresh, Key: k, Kind: KindToken})
	v.audit(Event{Action: ActionUse, Key: k, Kind: KindToken})
	return next, nil
}

func (v *Vault) fresh(t Token) bool {
	ahead := v.Ahead
	if ahead == 0 {
		ahead = time.Minute
	}
	return t.AccessToken != "" && (t.Expiry.IsZero() || v.now().Add(ahead).Before(t.Expiry))
}

func (v *Vault) keyLock(k Key) *sync.Mutex {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inflight == nil {
		v.inflight = map[Key]*sync.Mutex{}
	}
	m, ok := v.inflight[k]
	if !ok {
		m = &sync.Mutex{}
		v.inflight[k] = m
	}
	return m
}

// Delete revokes one entry.
func (v *Vault) Delete(ctx context.Context, k Key, reason string) error {
	if err := v.Store.Delete(ctx, k); err != nil {
		return err
	}
	v.audit(Event{Action: ActionRevoke, Key: k, Reason: reason})
	return nil
}

// RevokeUser revokes every entry of user (logout, offboarding) and
// returns how many there were. When the store could not read some entry,
// the ones it removed are still revoked (and audited), and the error says
// which entry is left.
func (v *Vault) RevokeUser(ctx context.Context, user, reason string) (int, error) {
	if user == "" {
		return 0, errors.New("vault: revoke: no user")
	}
	n, err := v.Store.DeleteUser(ctx, user)
	if n > 0 || err == nil {
		v.audit(Event{Action: ActionRevoke, Key: Key{User: user}, Reason: fmt.Sprintf("%s (%d entries)", reason, n)})
	}
	return n, err
}

// List returns user's entries ("" for all), without values.
func (v *Vault) List(ctx context.Context, user string) ([]Info, error) {
	return v.Store.List(ctx, user)
}

// Ref is a secret reference (secretref.Ref).
type Ref = secretref.Ref

// RevokeTokens revokes user's OAuth grants (logout), keeping the keys they
// stored themselves, and returns how many there were.
func (v *Vault) RevokeTokens(ctx context.Context, user, reason string) (int, error) {
	list, err := v.Store.List(ctx, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list {
		if e.User != user || e.Kind != KindToken {
			continue
		}
		if err := v.Delete(ctx, e.Key, reason); err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}
