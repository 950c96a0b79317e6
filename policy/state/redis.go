package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/policy/limit"
)

// Redis is the store several gateway replicas share: any server that
// speaks the Redis protocol (Redis 7+, Valkey, ElastiCache, Memorystore).
// Each operation on the hot path is one round trip: a rate-limit check is
// one script, a token check one GET.
type Redis struct {
	c       *redis.Client
	url     string // masked, for messages
	replica string // tells this process's counter entries from others'
	seq     atomic.Uint64
}

var _ limit.Store = (*Redis)(nil)

// Timeouts of one operation: the store is on the hot path of every call,
// so an unreachable one must fail fast (and the down mode decide), not
// hold the call.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
)

// OpenRedis connects to the store at url: redis://[user:password@]host:port[/db],
// rediss:// for TLS, or unix:///path/to/socket. It does not wait for the
// store to answer: a replica starts while its store is down, and the
// down mode applies until it is back.
func OpenRedis(url string) (*Redis, error) {
	if !strings.HasPrefix(url, "redis://") && !strings.HasPrefix(url, "rediss://") && !strings.HasPrefix(url, "unix://") {
		return nil, fmt.Errorf("store %q: want a redis://, rediss:// or unix:// URL", maskURL(url))
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("store %s: %w", maskURL(url), err)
	}
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	// One dial attempt: a store that is down is reported by the down mode
	// on every call, and retrying the dial would only hold each call.
	opt.DialerRetries = 1
	opt.DialTimeout = dialTimeout
	opt.ReadTimeout = ioTimeout
	opt.WriteTimeout = ioTimeout
	opt.MaxRetries = 1
	opt.ContextTimeoutEnabled = true
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &Redis{c: redis.NewClient(opt), url: maskURL(url), replica: hex.EncodeToString(id)}, nil
}

// quiet drops go-redis's own log lines (written to the process's stderr,
// where a store outage would print one per call): the down mode reports
// an outage once, through the gateway's diagnostics.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// String names the store (its password masked).
func (r *Redis) String() string { return r.url }

// Close closes the connections.
func (r *Redis) Close() error { return r.c.Close() }

// Ping checks that the store answers.
func (r *Redis) Ping(ctx context.Context) error {
	return r.unavailable(r.c.Ping(ctx).Err())
}

// unavailable wraps an error of the store in ErrUnavailable.
func (r *Redis) unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%s): %v", ErrUnavailable, r.url, err)
}

// takeScript is the sliding window of limit.Memory, run in the store: it
// drops each counter's calls older than the window, refuses when any
// counter is at its limit (returning that counter's index and the wait
// until its oldest counted call leaves the window), else records the call
// against every counter. The store's clock counts, so replicas whose
// clocks differ still share one window. It runs atomically: two replicas
// cannot both take the last call.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local worst, wait = 0, -1
for i, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
  local lim = tonumber(ARGV[i + 2])
  local n = redis.call('ZCARD', k)
  if n >= lim then
    local oldest = redis.call('ZRANGE', k, n - lim, n - lim, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then worst, wait = i, w end
  end
end
if worst > 0 then return {worst, wait} end
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, now, ARGV[2])
  redis.call('PEXPIRE', k, window)
end
return {0, 0}
`)

// Take implements limit.Store in one round trip (the script by its
// digest; its source only the first time the store has not seen it).
func (r *Redis) Take(ctx context.Context, keys []limit.Key) error {
	var live []limit.Key
	for _, k := range keys {
		if k.Limit > 0 {
			live = append(live, k)
		}
	}
	if len(live) == 0 {
		return nil
	}
	ids := make([]string, len(live))
	args := make([]any, 0, len(live)+2)
	args = append(args, limit.Window.Milliseconds(), fmt.Sprintf("%s-%d", r.replica, r.seq.Add(1)))
	for i, k := range live {
		ids[i] = counterKey(k)
		args = append(args, k.Limit)
	}
	res, err := takeScript.Run(ctx, r.c, ids, args...).Int64Slice()
	if err != nil {
		return r.unavailable(err)
	}
	if len(res) != 2 {
		return r.unavailable(fmt.Errorf("rate-limit script answered %v", res))
	}
	if i := res[0]; i > 0 && int(i) <= len(live) {
		return &limit.Exceeded{Key: live[i-1], RetryAfter: time.Duration(res[1]) * time.Millisecond}
	}
	return nil
}

// counterKey is the store key of one counter. The user is hashed (no
// personal value in key names, which monitoring tools show) and is the
// hash tag, so that on a Redis Cluster every counter of one call is in
// one slot and the script can take them together.
func counterKey(k limit.Key) string {
	u := sha256.Sum256([]byte(k.User))
	c := sha256.Sum256([]byte(k.Server + "\x00" + k.Tool))
	return Prefix + "rl:{" + hex.EncodeToString(u[:12]) + "}:" + hex.EncodeToString(c[:12])
}

// Token records: one string per token, keyed by the token's SHA-256 (a
// check is one GET), and one hash from token id to SHA-256 (revocation by
// id, listing).
const (
	tokenKey   = Prefix + "token:"
	tokenIndex = Prefix + "tokens"
)

// PutToken stores a new token's record under its hash, and its id.
func (r *Redis) PutToken(ctx context.Context, id, hash string, record []byte) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tokenKey+hash, record, 0)
		p.HSet(ctx, tokenIndex, id, hash)
		return nil
	})
	return r.unavailable(err)
}

// TokenByHash returns the record of the token with hash, nil when there
// is none.
func (r *Redis) TokenByHash(ctx context.Context, hash string) ([]byte, error) {
	b, err := r.c.Get(ctx, tokenKey+hash).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, r.unavailable(err)
}

// Tokens returns every token's record, in no particular order.
func (r *Redis) Tokens(ctx context.Context) ([][]byte, error) {
	idx, err := r.c.HGetAll(ctx, tokenIndex).Result()
	if err != nil {
		return nil, r.unavailable(err)
	}
	if len(idx) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(idx))
	for _, h := range idx {
		keys = append(keys, tokenKey+h)
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, r.unavailable(err)
	}
	out := make([][]byte, 0, len(vals))
	for _, v := range vals {
		if s, ok := v.(string); ok {
			out = append(out, []byte(s))
		}
	}
	return out, nil
}

// ErrNoToken is returned by UpdateToken for an id the store does not
// know.
var ErrNoToken = errors.New("no such token")

// UpdateToken changes the record of token id atomically (optimistic:
// a concurrent change makes it read and change again).
func (r *Redis) UpdateToken(ctx context.Context, id string, change func([]byte) ([]byte, error)) error {
	hash, err := r.c.HGet(ctx, tokenIndex, id).Result()
	if errors.Is(err, redis.Nil) {
		return ErrNoToken
	}
	if err != nil {
		return r.unavailable(err)
	}
	key := tokenKey + hash
	for range 10 {
		var changeErr error
		err := r.c.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				changeErr = ErrNoToken
				return nil
			}
			if err != nil {
				return err
			}
			rec, err := change(old)
			if err != nil {
				changeErr = err
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, rec, 0)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return r.unavailable(err)
		}
		return changeErr
	}
	return r.unavailable(errors.New("token record changed concurrently too often"))
}

// Bundle revision fan-out: the revision in use is kept under a key (a
// replica that starts or comes back reads it) and published on a channel
// every replica listens to.
const (
	revisionKey     = Prefix + "bundle:revision"
	revisionChannel = Prefix + "bundle"
)

// PublishRevision announces that revision rev of the bundle governs:
// every replica subscribed (Revisions) looks at its bundle at once.
func (r *Redis) PublishRevision(ctx context.Context, rev string) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, revisionKey, rev, 0)
		p.Publish(ctx, revisionChannel, rev)
		return nil
	})
	return r.unavailable(err)
}

// Revision returns the revision last published, "" when none.
func (r *Redis) Revision(ctx context.Context) (string, error) {
	s, err := r.c.Get(ctx, revisionKey).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return s, r.unavailable(err)
}

// Revisions returns the revisions published from now until ctx is done.
// The subscription survives the store's restarts (go-redis subscribes
// again); a revision published while it was down is not replayed, which
// is why replicas also keep looking at their bundle on their own. The
// channel keeps only the latest revision a slow reader has not taken.
func (r *Redis) Revisions(ctx context.Context) <-chan string {
	out := make(chan string, 1)
	sub := r.c.Subscribe(ctx, revisionChannel)
	go func() {
		defer sub.Close()
		in := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default:
					select { // replace the unread one with the newer
					case <-out:
					default:
					}
					out <- m.Payload
				}
			}
		}
	}()
	return out
}

// sessionKeyName holds the key replicas sign session ids with.
const sessionKeyName = Prefix + "session-key"

// SessionKey returns the key every replica signs session ids with: the
// first replica to ask creates it (32 random bytes), the others read it,
// in one round trip. Anyone who can write to the store can serve
// themselves any session; the store is as trusted as the replicas.
func (r *Redis) SessionKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var get *redis.StringCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, sessionKeyName, fresh, 0)
		get = p.Get(ctx, sessionKeyName)
		return nil
	})
	if err != nil {
		return nil, r.unavailable(err)
	}
	key, err := get.Bytes()
	if err != nil || len(key) < 32 {
		return nil, r.unavailable(fmt.Errorf("session key: %v", err))
	}
	return key, nil
}

// Call records: what a replica keeps of each tools/call, keyed by session
// and request id, so that a client's retry of a call whose answer it
// did not get is answered from the record instead of running the call
// again. "p" + replica while the call runs (a lease), "a" + the answer
// once it is answered.
const callKey = Prefix + "call:"

// claimScript returns the call's record, or claims it for ARGV[1] for
// ARGV[2] ms and returns false.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'p' .. ARGV[1], 'PX', ARGV[2])
return false
`)

// releaseScript drops the claim of ARGV[1], if it still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'p' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

func callRecordKey(session, id string) string {
	h := sha256.Sum256([]byte(id))
	return callKey + "{" + session + "}:" + hex.EncodeToString(h[:12])
}

// ClaimCall claims call id of session for this replica for lease, in one
// round trip. It returns the answer when the call was answered already,
// or busy when another replica's claim on it is live.
func (r *Redis) ClaimCall(ctx context.Context, session, id string, lease time.Duration) (answer []byte, busy bool, err error) {
	v, err := claimScript.Run(ctx, r.c, []string{callRecordKey(session, id)}, r.replica, lease.Milliseconds()).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, r.unavailable(err)
	case strings.HasPrefix(v, "a"):
		return []byte(v[1:]), false, nil
	}
	return nil, strings.TrimPrefix(v, "p") != r.replica, nil
}

// RenewCall extends this replica's claim on a call still running.
func (r *Redis) RenewCall(ctx context.Context, session, id string, lease time.Duration) error {
	return r.unavailable(r.c.PExpire(ctx, callRecordKey(session, id), lease).Err())
}

// KeepCall records the answer of a call for keep.
func (r *Redis) KeepCall(ctx context.Context, session, id string, answer []byte, keep time.Duration) error {
	return r.unavailable(r.c.Set(ctx, callRecordKey(session, id), append([]byte("a"), answer...), keep).Err())
}

// ReleaseCall drops this replica's claim on a call that got no answer.
func (r *Redis) ReleaseCall(ctx context.Context, session, id string) error {
	return r.unavailable(releaseScript.Run(ctx, r.c, []string{callRecordKey(session, id)}, r.replica).Err())
}

// endedKey marks a session its client ended (DELETE), so that no replica
// resumes it.
const endedKey = Prefix + "ended:"

// EndSession notes that the client ended session (its record id) for
// keep: longer than any replica keeps an idle copy.
func (r *Redis) EndSession(ctx context.Context, session string, keep time.Duration) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, endedKey+session, "1", keep)
		p.Publish(ctx, endedChannel, session)
		return nil
	})
	return r.unavailable(err)
}

// endedChannel carries the record ids of the sessions clients end, so
// that every replica ends its copy at once.
const endedChannel = Prefix + "ended"

// EndedSessions calls end with the record id of every session a client
// ends through any replica, until ctx is done.
func (r *Redis) EndedSessions(ctx context.Context, end func(session string)) {
	sub := r.c.Subscribe(ctx, endedChannel)
	go func() {
		defer sub.Close()
		in := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				end(m.Payload)
			}
		}
	}()
}

// SessionEnded reports whether the client ended session.
func (r *Redis) SessionEnded(ctx context.Context, session string) (bool, error) {
	n, err := r.c.Exists(ctx, endedKey+session).Result()
	return n > 0, r.unavailable(err)
}
