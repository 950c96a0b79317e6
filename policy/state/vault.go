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
// older sealed copy put back (a rotated-out refresh token) does not open
// on a replica that has seen a newer one. A deletion (a revocation,
// logout, offboarding) takes a generation too, the entry's tombstone: the
// deleting replica remembers it, and the store keeps it in the vault-gen
// hash until the entry is granted again, so a revoked copy put back is
// refused by every replica that reads while the tombstone is there. What
// it cannot catch: a copy put back, with the tombstone or the newer entry
// removed, before this replica read the newer entry, or after it
// restarted (the memory is the replica's; a counter kept in Redis can be
// rolled back with the entry). Generations are the store's clock in
// microseconds, or one more than the last when that is higher, so they
// keep rising when the store loses its data and starts again; one at
// 2^53 or beyond (past what the store's Lua numbers count exactly) is
// refused.
type Vault struct {
	r      *Redis
	sealer *vault.Sealer

	mu      sync.Mutex
	seen    map[string]uint64 // field -> highest generation read or written
	deleted map[string]uint64 // field -> highest generation at which it was deleted
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
	vaultKey = Prefix + "vault"
	// vaultGenKey maps a field to the generation last handed out for it
	// while a write is under way (removed when the write is stored), or to
	// "d" and the tombstone's generation of a deleted entry (kept until the
	// entry is written again: a revoked sealed copy can be put back at any
	// time, so the tombstone matters as long as the entry is gone). The
	// hash holds, then, one field per entry deleted and not granted again,
	// and one per write interrupted between its two steps.
	vaultGenKey  = Prefix + "vault-gen"
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
	f := field(k)
	// What this replica knew before this read began is what the read is
	// checked against: a newer generation or a deletion that another
	// read of this replica notes meanwhile raced the same write as this
	// one (the store moved on after this read took its copy), which is no
	// sign of an older copy put back.
	lastBefore, deadBefore := v.seenGen(f), v.deletedAt(f)
	// The entry and its tombstone are read in one transaction: read apart,
	// a deletion landing between the two reads (an atomic script) showed
	// the entry from before it beside the tombstone from after it, a
	// logout racing a read taken for a revoked copy put back.
	var entry, gen *redis.StringCmd
	if _, err := v.r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		entry = p.HGet(ctx, vaultKey, f)
		gen = p.HGet(ctx, vaultGenKey, f)
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return vault.Entry{}, v.r.unavailable(err)
	}
	b, err := entry.Bytes()
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
	dead := deadBefore
	if t, ok := tombstone(gen.Val()); ok {
		v.noteDeleted(f, t)
		dead = max(dead, t)
	}
	if dead != 0 && se.Gen <= dead {
		return vault.Entry{}, fmt.Errorf("%s: %w: generation %d was deleted (revoked) at generation %d (a revoked copy of the entry was put back in the store)", k, vault.ErrTampered, se.Gen, dead)
	}
	v.note(f, se.Gen)
	if se.Gen < lastBefore {
		return vault.Entry{}, fmt.Errorf("%s: %w: generation %d is older than generation %d, which this replica has read (an older copy of the entry was put back in the store)", k, vault.ErrTampered, se.Gen, lastBefore)
	}
	return e, nil
}

// tombstone reads a vault-gen value: the generation at which the entry
// was deleted, when it is a tombstone ("d" and the generation).
func tombstone(s string) (uint64, bool) {
	rest, ok := strings.CutPrefix(s, "d")
	if !ok {
		return 0, false
	}
	g, err := strconv.ParseUint(rest, 10, 64)
	return g, err == nil && g > 0
}

// noteDeleted records that field was deleted at generation gen: no copy
// of a generation up to gen opens on this replica again.
func (v *Vault) noteDeleted(f string, gen uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.deleted == nil {
		v.deleted = map[string]uint64{}
	}
	if gen > v.deleted[f] {
		v.deleted[f] = gen
	}
}

// deletedAt is the generation at which this replica knows field was last
// deleted, 0 when it knows of none.
func (v *Vault) deletedAt(f string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.deleted[f]
}

// seenGen is the highest generation of field this replica has read or
// written, 0 when none.
func (v *Vault) seenGen(f string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen[f]
}

// note records that generation gen of field was read or written.
func (v *Vault) note(f string, gen uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]uint64{}
	}
	if gen > v.seen[f] {
		v.seen[f] = gen
	}
}

// genLua is the Lua both the generation and the deletion scripts use:
// nextgen(vault, gens, field) is the field's next generation, the store's
// clock in microseconds, or one more than the highest the field has had
// (handed out, a tombstone, or the stored entry's) when that is higher
// (two writes within a microsecond, a clock set back). A generation at
// 2^53 or beyond is refused: Lua numbers are doubles, and past 2^53 one
// more is the same number, so generations would stop rising.
const genLua = `
local limit = 9007199254740992
local function lastgen(vkey, gkey, f)
  local last = 0
  local raw = redis.call('HGET', gkey, f)
  if raw then
    last = tonumber((string.gsub(raw, '^d', '')))
    if not last then return nil, 'field ' .. f .. ' of ' .. gkey .. ' is not a generation' end
  end
  local cur = redis.call('HGET', vkey, f)
  if cur then
    local ok, d = pcall(cjson.decode, cur)
    if ok and type(d) == 'table' and type(d.gen) == 'number' and d.gen > last then last = d.gen end
  end
  return last
end
local function nextgen(vkey, gkey, f)
  local last, err = lastgen(vkey, gkey, f)
  if not last then return nil, err end
  local t = redis.call('TIME')
  local g = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if last >= g then g = last + 1 end
  if g >= limit then
    return nil, 'generation of field ' .. f .. ' would be ' .. string.format('%.0f', g) .. ', at or past 2^53 (a generation set in the store by hand or by an attacker: remove it with redis-cli HDEL ' .. gkey .. ' ' .. f .. ' after checking the entry)'
  end
  return g
end
`

// nextGenScript hands out an entry's next generation and notes it in the
// vault-gen hash (replacing a tombstone: the entry is granted again).
var nextGenScript = redis.NewScript(genLua + `
local g, err = nextgen(KEYS[1], KEYS[2], ARGV[1])
if not g then return redis.error_reply(err) end
redis.call('HSET', KEYS[2], ARGV[1], string.format('%.0f', g))
return g
`)

// putNewerScript stores an entry unless the field holds a later
// generation already (two replicas writing one entry at once: the later
// generation stays, whichever write lands last) or the entry was deleted
// at a later generation (a revocation while the write was under way); it
// returns 1 when it stored the entry, 0 when a later entry is stored, -1
// when a later deletion stands. Once stored, the vault-gen field is
// removed when it still holds this write's generation (no later write
// under way): the entry carries its generation.
var putNewerScript = redis.NewScript(`
local gen = tonumber(ARGV[3])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' and type(d.gen) == 'number' and d.gen >= gen then return 0 end
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if raw and string.sub(raw, 1, 1) == 'd' and (tonumber(string.sub(raw, 2)) or 0) >= gen then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if raw and tonumber(raw) == gen then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`)

// maxGen is the first generation refused: 2^53.
const maxGen = 1 << 53

// Put implements vault.Store. A write that did not land (a later write
// or a deletion of the entry won the race) is an error: the caller's
// value is not in the store.
func (v *Vault) Put(ctx context.Context, e vault.Entry) error {
	gen, err := v.nextGen(ctx, e.Key)
	if err != nil {
		return err
	}
	return v.putGen(ctx, e, gen)
}

// nextGen takes the next generation of k's entry from the store.
func (v *Vault) nextGen(ctx context.Context, k vault.Key) (uint64, error) {
	n, err := nextGenScript.Run(ctx, v.r.c, []string{vaultKey, vaultGenKey}, field(k)).Int64()
	if err != nil {
		if redis.HasErrorPrefix(err, "generation") || redis.HasErrorPrefix(err, "field") {
			return 0, fmt.Errorf("vault entry %s: %w", k, err)
		}
		return 0, v.r.unavailable(err)
	}
	if n <= 0 || n >= maxGen {
		return 0, fmt.Errorf("vault entry %s: the store handed out generation %d, want one in 1 to 2^53-1", k, n)
	}
	return uint64(n), nil
}

// putGen seals e with generation gen and stores it unless a later write
// or deletion of the entry landed meanwhile.
func (v *Vault) putGen(ctx context.Context, e vault.Entry, gen uint64) error {
	f := field(e.Key)
	se, err := v.sealer.SealGen(e, gen)
	if err != nil {
		return err
	}
	b, err := json.Marshal(se)
	if err != nil {
		return err
	}
	stored, err := putNewerScript.Run(ctx, v.r.c, []string{vaultKey, vaultGenKey}, f, b, strconv.FormatUint(gen, 10)).Int()
	if err != nil {
		return v.r.unavailable(err)
	}
	switch stored {
	case 1:
		v.note(f, gen)
		return nil
	case 0:
		return fmt.Errorf("vault entry %s not stored: a later write of it landed first (generation %d is older); read it again", e.Key, gen)
	default:
		return fmt.Errorf("vault entry %s not stored: it was deleted (revoked) while this write of generation %d was under way", e.Key, gen)
	}
}

// Delete implements vault.Store: the entry is removed and its tombstone
// left (see Vault).
func (v *Vault) Delete(ctx context.Context, k vault.Key) error {
	n, err := v.deleteFields(ctx, field(k), "")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("vault has no entry %s: %w", k, vault.ErrNotFound)
	}
	return nil
}

// deleteFieldsScript deletes the fields whose values are still the ones
// read (an entry put again meanwhile is kept: it is a new grant; an empty
// value read deletes whatever is there), leaving for each a tombstone in
// the vault-gen hash, and returns each deleted field and its tombstone's
// generation.
var deleteFieldsScript = redis.NewScript(genLua + `
local out = {}
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and (ARGV[i + 1] == '' or cur == ARGV[i + 1]) then
    local g, err = nextgen(KEYS[1], KEYS[2], ARGV[i])
    if not g then
      -- A generation that cannot rise: the tombstone is the limit, which
      -- no entry reaches.
      g = limit - 1
    end
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HSET', KEYS[2], ARGV[i], 'd' .. string.format('%.0f', g))
    table.insert(out, ARGV[i])
    table.insert(out, g)
  end
end
return out
`)

// deleteFields runs deleteFieldsScript on field/value pairs and notes
// each tombstone; it returns how many fields it deleted.
func (v *Vault) deleteFields(ctx context.Context, pairs ...string) (int, error) {
	args := make([]any, len(pairs))
	for i, p := range pairs {
		args[i] = p
	}
	res, err := deleteFieldsScript.Run(ctx, v.r.c, []string{vaultKey, vaultGenKey}, args...).Slice()
	if err != nil {
		return 0, v.r.unavailable(err)
	}
	n := 0
	for i := 0; i+1 < len(res); i += 2 {
		f, _ := res[i].(string)
		g, _ := res[i+1].(int64)
		if f != "" && g > 0 {
			v.noteDeleted(f, uint64(g))
			n++
		}
	}
	return n, nil
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

// DeleteUser implements vault.Store. An entry that does not decode (whose
// user cannot be read) does not stop the others' removal: user's entries
// are deleted, and the error names each such entry and how to remove it.
func (v *Vault) DeleteUser(ctx context.Context, user string) (int, error) {
	m, err := v.r.c.HGetAll(ctx, vaultKey).Result()
	if err != nil {
		return 0, v.r.unavailable(err)
	}
	var args []string
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
		if n, err = v.deleteFields(ctx, args...); err != nil {
			return 0, err
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
