package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/vault"
)

// Vault is the token vault's store in the shared store: the replicas'
// outbound credentials (per-user keys, shared secrets, OAuth grants)
// sealed exactly as in the embedded file (vault.Sealer: AES-256-GCM, bound
// to user, server, name and kind), so Redis holds ciphertext only and a
// value moved to another entry does not open. One hash holds every entry,
// its field the SHA-256 of the entry's key (no personal value in a field
// name); a refresh's lock is a key with an expiry, so a replica that dies
// holding it does not hold the others up longer than LockTTL.
//
// Each write of an entry is a new generation, sealed with it (the AAD), so
// anyone who can write to Redis but lacks the key-encryption key cannot
// raise it. A Vault remembers the highest generation it has read or
// written of each entry and refuses an older one (vault.ErrTampered): an
// older sealed copy put back (a rotated-out refresh token, a revoked key)
// does not open on a replica that has seen a newer one. What it cannot
// catch: a copy put back before this replica read the newer entry, or
// after it restarted (the memory is the replica's; a counter kept in
// Redis would be rolled back with the entry). Generations are the store's
// clock in microseconds, or one more than the last when that is higher, so
// they keep rising when the store loses its data and starts again.
type Vault struct {
	r      *Redis
	sealer *vault.Sealer

	mu   sync.Mutex
	seen map[string]uint64 // field -> highest generation read or written
	// LockTTL is how long a refresh lock holds when its holder does not
	// release it (a replica killed mid-refresh); 30 s when zero.
	LockTTL time.Duration
	// LockPoll is how often a caller waiting for a lock tries again; 10 ms
	// when zero.
	LockPoll time.Duration
}

var _ vault.Store = (*Vault)(nil)

// Keys of the vault.
const (
	vaultKey     = Prefix + "vault"
	vaultGenKey  = Prefix + "vault-gen" // field -> the entry's last generation
	vaultLockKey = Prefix + "vault-lock:"
)

// Vault returns the vault store on r, sealing with kek.
func (r *Redis) Vault(kek []byte) (*Vault, error) {
	s, err := vault.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	return &Vault{r: r, sealer: s}, nil
}

// field is an entry's field in the vault hash.
func field(k vault.Key) string {
	b, _ := json.Marshal([]string{k.User, k.Server, k.Name})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// decode reads one stored entry, refusing unknown and duplicate members
// (a value a decision depends on: what opens is what was sealed).
func decode(b []byte) (vault.Sealed, error) {
	var se vault.Sealed
	if err := strictUnmarshal(b, &se); err != nil {
		return se, fmt.Errorf("vault entry in the store: %w", err)
	}
	return se, nil
}

// Get implements vault.Store.
func (v *Vault) Get(ctx context.Context, k vault.Key) (vault.Entry, error) {
	b, err := v.r.c.HGet(ctx, vaultKey, field(k)).Bytes()
	if errors.Is(err, redis.Nil) {
		return vault.Entry{}, fmt.Errorf("vault has no entry %s: %w", k, vault.ErrNotFound)
	}
	if err != nil {
		return vault.Entry{}, v.r.unavailable(err)
	}
	se, err := decode(b)
	if err != nil {
		return vault.Entry{}, fmt.Errorf("%s: %w", k, vault.ErrTampered)
	}
	if se.Key != k { // an entry copied under another entry's field
		return vault.Entry{}, fmt.Errorf("%s: %w", k, vault.ErrTampered)
	}
	e, err := v.sealer.Open(se) // authenticates se.Gen
	if err != nil {
		return vault.Entry{}, err
	}
	if last := v.note(field(k), se.Gen); se.Gen < last {
		return vault.Entry{}, fmt.Errorf("%s: %w: generation %d is older than generation %d, which this replica has read (an older copy of the entry was put back in the store)", k, vault.ErrTampered, se.Gen, last)
	}
	return e, nil
}

// note records that generation gen of field was read or written and
// returns the highest one seen before.
func (v *Vault) note(f string, gen uint64) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]uint64{}
	}
	last := v.seen[f]
	if gen > last {
		v.seen[f] = gen
	}
	return last
}

// nextGenScript hands out an entry's next generation: the store's clock
// in microseconds, or one more than the last generation when that is
// higher (two writes within a microsecond, a clock set back).
var nextGenScript = redis.NewScript(`
local t = redis.call('TIME')
local g = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if last >= g then g = last + 1 end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', g))
return g
`)

// putNewerScript stores an entry unless the field holds a later
// generation already (two replicas writing one entry at once: the later
// generation stays, whichever write lands last).
var putNewerScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' and type(d.gen) == 'number' and d.gen >= tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// Put implements vault.Store.
func (v *Vault) Put(ctx context.Context, e vault.Entry) error {
	f := field(e.Key)
	n, err := nextGenScript.Run(ctx, v.r.c, []string{vaultGenKey}, f).Int64()
	if err != nil {
		return v.r.unavailable(err)
	}
	if n <= 0 {
		return fmt.Errorf("vault entry %s: the store handed out generation %d", e.Key, n)
	}
	gen := uint64(n)
	se, err := v.sealer.SealGen(e, gen)
	if err != nil {
		return err
	}
	b, err := json.Marshal(se)
	if err != nil {
		return err
	}
	if err := putNewerScript.Run(ctx, v.r.c, []string{vaultKey}, f, b, strconv.FormatUint(gen, 10)).Err(); err != nil {
		return v.r.unavailable(err)
	}
	v.note(f, gen)
	return nil
}

// Delete implements vault.Store.
func (v *Vault) Delete(ctx context.Context, k vault.Key) error {
	n, err := v.r.c.HDel(ctx, vaultKey, field(k)).Result()
	if err != nil {
		return v.r.unavailable(err)
	}
	if n == 0 {
		return fmt.Errorf("vault has no entry %s: %w", k, vault.ErrNotFound)
	}
	return nil
}

// all returns every stored entry with its field.
func (v *Vault) all(ctx context.Context) (map[string]vault.Sealed, error) {
	m, err := v.r.c.HGetAll(ctx, vaultKey).Result()
	if err != nil {
		return nil, v.r.unavailable(err)
	}
	out := make(map[string]vault.Sealed, len(m))
	for f, b := range m {
		se, err := decode([]byte(b))
		if err != nil {
			return nil, malformed(f, err)
		}
		out[f] = se
	}
	return out, nil
}

// malformed is the error of a stored entry that does not decode: which
// one, and how to remove it.
func malformed(field string, err error) error {
	return fmt.Errorf("field %s of %s: %w (remove it with: redis-cli HDEL %s %s)", field, vaultKey, err, vaultKey, field)
}

// List implements vault.Store.
func (v *Vault) List(ctx context.Context, user string) ([]vault.Info, error) {
	all, err := v.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []vault.Info
	for _, se := range all {
		if user == "" || se.User == user {
			out = append(out, se.Info())
		}
	}
	sortInfos(out)
	return out, nil
}

// deleteFieldsScript deletes the fields whose values are still the ones
// read (an entry put again meanwhile is kept: it is a new grant) and
// returns how many it deleted.
var deleteFieldsScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n
`)

// DeleteUser implements vault.Store. An entry that does not decode (whose
// user cannot be read) does not stop the others' removal: user's entries
// are deleted, and the error names each such entry and how to remove it.
func (v *Vault) DeleteUser(ctx context.Context, user string) (int, error) {
	m, err := v.r.c.HGetAll(ctx, vaultKey).Result()
	if err != nil {
		return 0, v.r.unavailable(err)
	}
	var args []any
	var bad []error
	for _, f := range slices.Sorted(maps.Keys(m)) {
		b := m[f]
		se, err := decode([]byte(b))
		if err != nil {
			bad = append(bad, malformed(f, err))
			continue
		}
		if se.User == user {
			args = append(args, f, b)
		}
	}
	n := 0
	if len(args) > 0 {
		if n, err = deleteFieldsScript.Run(ctx, v.r.c, []string{vaultKey}, args...).Int(); err != nil {
			return 0, v.r.unavailable(err)
		}
	}
	if len(bad) > 0 {
		return n, fmt.Errorf("deleted %d entries of %s; %d entries could not be read, and may be theirs: %w", n, user, len(bad), errors.Join(bad...))
	}
	return n, nil
}

// unlockScript deletes a lock only when it still holds the holder's
// token: a lock that expired and was taken by another is not released.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// extendScript renews a lock's expiry only when it still holds the
// holder's token: a holder whose lock lapsed and was taken by another
// does not extend the other's.
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// Lock implements vault.Store: SET NX with an expiry, tried again every
// LockPoll until ctx is done. While the holder has not released it, the
// lock's expiry is renewed every LockTTL/3 (only while the key still holds
// this holder's token), so a refresh that outlasts LockTTL (a slow token
// endpoint, a stall) keeps it; a holder that dies stops renewing and the
// lock lapses LockTTL later.
func (v *Vault) Lock(ctx context.Context, k vault.Key) (func(), error) {
	ttl, poll := v.LockTTL, v.LockPoll
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	if poll <= 0 {
		poll = 10 * time.Millisecond
	}
	key := vaultLockKey + field(k)
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	holder := hex.EncodeToString(tok)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		ok, err := v.r.c.SetNX(ctx, key, holder, ttl).Result()
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("wait for the refresh lock of %s: %w", k, ctx.Err())
		}
		if err != nil {
			return nil, v.r.unavailable(err)
		}
		if ok {
			return v.hold(ctx, key, holder, ttl), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the refresh lock of %s: %w", k, ctx.Err())
		case <-t.C:
		}
	}
}

// hold renews the lock key held by holder every ttl/3 until the returned
// release is called; release stops the renewal, then deletes the key if
// it still holds holder. Renewal stops by itself once the key no longer
// holds holder (it lapsed and another took it).
func (v *Vault) hold(ctx context.Context, key, holder string, ttl time.Duration) func() {
	// Renewed and released even when the caller's context is done: the
	// lock must neither lapse under a running refresh nor outlive it.
	bg := context.WithoutCancel(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ext, cancel := context.WithTimeout(bg, min(ioTimeout, ttl/3+time.Millisecond))
			n, err := extendScript.Run(ext, v.r.c, []string{key}, holder, ttl.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				return // lapsed and taken (or deleted): not ours to renew
			}
			// A store error is tried again on the next tick: the key still
			// expires by itself if the store stays away.
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			rel, cancel := context.WithTimeout(bg, ioTimeout)
			defer cancel()
			_ = unlockScript.Run(rel, v.r.c, []string{key}, holder).Err()
		})
	}
}

// strictUnmarshal decodes b into v with exact member names, no unknown
// and no duplicate members.
func strictUnmarshal(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true))
}

// sortInfos orders a listing as the file store does: by key.
func sortInfos(l []vault.Info) {
	slices.SortFunc(l, func(a, b vault.Info) int { return strings.Compare(a.Key.String(), b.Key.String()) })
}
