package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
)

// Keys of the consents in flight: the record by its state, the current
// state of a user and server, and the states in flight of a user (all by
// a hash, so no state, user name or server id is a key or a value).
const (
	consentKey        = Prefix + "consent:"
	consentCurrentKey = Prefix + "consent-current:"
	consentUserKey    = Prefix + "consent-user:"
	consentOwnerKey   = Prefix + "consent-owner:"
)

// MaxConsentsPerUser bounds the consents in flight of one user across the
// replicas (one per server at most, as a new one supersedes the user's
// previous one for that server): a caller cannot fill the store.
const MaxConsentsPerUser = 64

// ErrTooManyConsents is Put's answer when the user already has
// MaxConsentsPerUser consents in flight.
var ErrTooManyConsents = errors.New("too many consents in flight for this user")

// Consents is the store's oauthuser.PendingStore: the per-user OAuth
// consents in flight, shared by the replicas, so the browser's redirect
// may reach a replica other than the one that made the link. A state is
// taken with GETDEL: it works once even when two replicas get it. A new
// consent of a user for a server deletes the one it supersedes. Made from
// the vault (Vault.Consents), the records, which hold the PKCE verifier,
// are sealed with the vault's key and bound to their state.
type Consents struct {
	r      *Redis
	sealer *vault.Sealer
}

var _ oauthuser.PendingStore = Consents{}

// Consents is r as the consents' store, records in the clear; prefer the
// vault's (Vault.Consents), which seals them.
func (r *Redis) Consents() Consents { return Consents{r: r} }

// Consents is the consents' store of the vault's Redis, sealing each
// record with the vault's key.
func (v *Vault) Consents() Consents { return Consents{r: v.r, sealer: v.sealer} }

func stateHash(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:16])
}

func currentKey(user, server string) string {
	h := sha256.Sum256([]byte(user + "\x00" + server))
	return consentCurrentKey + hex.EncodeToString(h[:16])
}

func userKey(user string) string {
	h := sha256.Sum256([]byte(user))
	return consentUserKey + hex.EncodeToString(h[:16])
}

// consentSealKey is what a sealed record is bound to: its state's hash.
func consentSealKey(hash string) vault.Key {
	return vault.Key{User: "consent", Server: hash, Name: "pending"}
}

// seal is what the store keeps for record under the state hash.
func (c Consents) seal(hash string, record []byte) ([]byte, error) {
	if c.sealer == nil {
		return record, nil
	}
	se, err := c.sealer.Seal(vault.Entry{Key: consentSealKey(hash), Kind: "consent", Secret: string(record)})
	if err != nil {
		return nil, err
	}
	return json.Marshal(se)
}

// open is the record the store keeps under the state hash.
func (c Consents) open(hash string, b []byte) ([]byte, error) {
	if c.sealer == nil {
		return b, nil
	}
	var se vault.Sealed
	if err := strictUnmarshal(b, &se); err != nil {
		return nil, fmt.Errorf("a consent record in the store is damaged: %w", err)
	}
	if se.Key != consentSealKey(hash) || se.Kind != "consent" {
		return nil, fmt.Errorf("a consent record in the store is bound to another state: %w", vault.ErrTampered)
	}
	e, err := c.sealer.Open(se)
	if err != nil {
		return nil, fmt.Errorf("a consent record in the store: %w", err)
	}
	return []byte(e.Secret), nil
}

// putScript stores a consent: it deletes the consent the new one
// supersedes (KEYS[2] names its state's hash), refuses when the user
// (KEYS[3], a sorted set of state hashes by expiry) has ARGV[5] others in
// flight, and sets the record (KEYS[1]), the current state and the user's
// set, and the record's owner (the user's set, so Take can leave it),
// each expiring with the consent. ARGV: record, ttl ms, state hash, now
// ms, cap, prefix of the records' keys, prefix of the owners' keys.
var putScript = redis.NewScript(`
local old = redis.call('GET', KEYS[2])
if old and old ~= ARGV[3] then
  redis.call('DEL', ARGV[6] .. old, ARGV[7] .. old)
  redis.call('ZREM', KEYS[3], old)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
if redis.call('ZSCORE', KEYS[3], ARGV[3]) == false and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
redis.call('SET', ARGV[7] .. ARGV[3], KEYS[3], 'PX', ttl)
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + ttl, ARGV[3])
if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
return 1
`)

// Put implements oauthuser.PendingStore.
func (c Consents) Put(ctx context.Context, state, user, server string, record []byte, ttl time.Duration) error {
	hash := stateHash(state)
	stored, err := c.seal(hash, record)
	if err != nil {
		return err
	}
	now, err := c.r.c.Time(ctx).Result()
	if err != nil {
		return c.r.unavailable(err)
	}
	ok, err := putScript.Run(ctx, c.r.c, []string{consentKey + hash, currentKey(user, server), userKey(user)},
		stored, ttl.Milliseconds(), hash, now.UnixMilli(), MaxConsentsPerUser, consentKey, consentOwnerKey).Int()
	if err != nil {
		return c.r.unavailable(err)
	}
	if ok == 0 {
		return fmt.Errorf("%w (%d); retry once some are done or expired", ErrTooManyConsents, MaxConsentsPerUser)
	}
	return nil
}

// takeConsentScript removes and returns a consent's record (KEYS[1]), and takes
// it out of its user's consents in flight (KEYS[2] names that set); ARGV:
// the state's hash.
var takeConsentScript = redis.NewScript(`
local rec = redis.call('GETDEL', KEYS[1])
local owner = redis.call('GETDEL', KEYS[2])
if owner then redis.call('ZREM', owner, ARGV[1]) end
return rec
`)

// Take implements oauthuser.PendingStore.
func (c Consents) Take(ctx context.Context, state string) ([]byte, error) {
	hash := stateHash(state)
	b, err := takeConsentScript.Run(ctx, c.r.c, []string{consentKey + hash, consentOwnerKey + hash}, hash).Text()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	return c.open(hash, []byte(b))
}

// Current implements oauthuser.PendingStore: the current state's record,
// if it is still there (not taken, not expired).
func (c Consents) Current(ctx context.Context, user, server string) ([]byte, error) {
	hash, err := c.r.c.Get(ctx, currentKey(user, server)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	if len(hash) != 32 || strings.Trim(hash, "0123456789abcdef") != "" {
		return nil, oauthuser.ErrNoPending // written by an earlier version (the state itself): make a new one
	}
	return c.peek(ctx, hash)
}

// Peek implements oauthuser.PendingPeeker: the record of state, left in
// the store (the person check reads it before the redirect takes it).
func (c Consents) Peek(ctx context.Context, state string) ([]byte, error) {
	return c.peek(ctx, stateHash(state))
}

// peek is the record whose state hashes to hash, left in the store.
func (c Consents) peek(ctx context.Context, hash string) ([]byte, error) {
	b, err := c.r.c.Get(ctx, consentKey+hash).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	return c.open(hash, b)
}
