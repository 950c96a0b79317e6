package state

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// EventLog is the gateway's event log (gateway.EventLog) in the shared
// store, so that a client whose stream broke resumes it through any
// replica (Last-Event-ID). Per session, a hash holds each stream's newest
// position ("n:" + stream) and the bytes it keeps ("b:" + stream), and a
// list per stream its newest events; positions are counted in the store,
// so an event id means the same event on every replica. Each stream keeps
// at most maxEvents events and maxBytes bytes of them (the oldest go
// first), and a session's keys expire ttl after its last event. The events
// are the messages the client was sent; they are never logged.
//
// What a replica had not appended when it died is lost: a stream resumed
// on another replica ends with the last event that reached the store, and
// an answer its upstream had not yet given is never written (the client
// retries the call; the call records of ClaimCall answer a retry of one
// that was answered).
type EventLog struct {
	r                   *Redis
	maxEvents, maxBytes int
	ttl                 time.Duration
	tag                 string
	downUntil           atomic.Int64 // unix ns: appends fail at once until then
}

// eventsRetry is how long appends fail at once after one failed: with the
// store down, each event of a stream would otherwise wait for the dial
// timeout before it is sent.
const eventsRetry = time.Second

var _ gateway.SharedEventLog = (*EventLog)(nil)

// EventLog returns the store's event log, bounded per stream by maxEvents
// and maxBytes (the gateway's defaults when <= 0); a session's events
// expire ttl after its last one (an hour when <= 0).
func (r *Redis) EventLog(maxEvents, maxBytes int, ttl time.Duration) *EventLog {
	if maxEvents <= 0 {
		maxEvents = gateway.DefaultEventLogEvents
	}
	if maxBytes <= 0 {
		maxBytes = gateway.DefaultEventLogBytes
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &EventLog{r: r, maxEvents: maxEvents, maxBytes: maxBytes, ttl: ttl, tag: r.replica[:6]}
}

const eventsKey = Prefix + "ev:"

// The keys of a session share its hash tag ({session}): one slot.
func eventsHash(session string) string { return eventsKey + "{" + session + "}" }
func eventsList(session, stream string) string {
	return eventsKey + "{" + session + "}:" + stream
}

// appendScript appends ARGV[2] to stream ARGV[1] and returns its position;
// ARGV[3], ARGV[4] bound the list, ARGV[5] is the ttl in ms.
var appendScript = redis.NewScript(`
local pos = redis.call('HINCRBY', KEYS[1], 'n:' .. ARGV[1], 1)
local b = redis.call('HINCRBY', KEYS[1], 'b:' .. ARGV[1], #ARGV[2])
local n = redis.call('RPUSH', KEYS[2], ARGV[2])
local maxn, maxb = tonumber(ARGV[3]), tonumber(ARGV[4])
while n > 1 and (n > maxn or b > maxb) do
  local v = redis.call('LPOP', KEYS[2])
  b = b - #v
  n = n - 1
end
redis.call('HSET', KEYS[1], 'b:' .. ARGV[1], b)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return pos
`)

// afterScript returns {0, events after position ARGV[2] of stream ARGV[1]...},
// or {1} (no such stream), {2, last} (past its end), {3} (evicted).
var afterScript = redis.NewScript(`
local last = redis.call('HGET', KEYS[1], 'n:' .. ARGV[1])
if not last then return {1} end
last = tonumber(last)
local pos = tonumber(ARGV[2])
if pos > last then return {2, last} end
local out = {0}
if pos == last then return out end
local n = redis.call('LLEN', KEYS[2])
local first = last - n + 1
if pos + 1 < first then return {3} end
for _, v in ipairs(redis.call('LRANGE', KEYS[2], pos + 1 - first, -1)) do
  out[#out + 1] = v
end
return out
`)

// forgetScript drops every stream of a session: KEYS[1] is its hash,
// ARGV[1] the prefix of its lists.
var forgetScript = redis.NewScript(`
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'n:' then redis.call('DEL', ARGV[1] .. string.sub(f, 3)) end
end
redis.call('DEL', KEYS[1])
return 0
`)

// Append implements gateway.EventLog, in one round trip.
func (l *EventLog) Append(ctx context.Context, session, stream string, data []byte) (uint64, error) {
	if time.Now().UnixNano() < l.downUntil.Load() {
		return 0, l.r.unavailable(errors.New("event log: the store failed less than a second ago"))
	}
	pos, err := appendScript.Run(ctx, l.r.c, []string{eventsHash(session), eventsList(session, stream)},
		stream, data, l.maxEvents, l.maxBytes, l.ttl.Milliseconds()).Int64()
	if err != nil {
		l.downUntil.Store(time.Now().Add(eventsRetry).UnixNano())
		return 0, l.r.unavailable(err)
	}
	return uint64(pos), nil
}

// After implements gateway.EventLog, in one round trip.
func (l *EventLog) After(ctx context.Context, session, stream string, pos uint64) ([][]byte, error) {
	v, err := afterScript.Run(ctx, l.r.c, []string{eventsHash(session), eventsList(session, stream)}, stream, pos).Slice()
	if err != nil {
		return nil, l.r.unavailable(err)
	}
	if len(v) == 0 {
		return nil, l.r.unavailable(errors.New("event log: empty answer"))
	}
	switch code, _ := v[0].(int64); code {
	case 0:
	case 1:
		if pos == 0 {
			return nil, nil // nothing was written to it yet
		}
		return nil, fmt.Errorf("%w: the session has no stream %q (never written, or expired)", gateway.ErrEventNotInLog, stream)
	case 2:
		return nil, fmt.Errorf("%w: stream %q has %v events, not %d", gateway.ErrEventNotInLog, stream, v[1], pos)
	case 3:
		return nil, fmt.Errorf("%w: the events of stream %q after %d were dropped (the log keeps the newest %d events and %d bytes of a stream)",
			gateway.ErrEventNotInLog, stream, pos, l.maxEvents, l.maxBytes)
	default:
		return nil, l.r.unavailable(fmt.Errorf("event log: unexpected answer %v", code))
	}
	var out [][]byte
	for _, e := range v[1:] {
		s, ok := e.(string)
		if !ok {
			return nil, l.r.unavailable(fmt.Errorf("event log: an event of type %T", e))
		}
		out = append(out, []byte(s))
	}
	return out, nil
}

// Drop implements gateway.EventLog.
func (l *EventLog) Drop(ctx context.Context, session, stream string) {
	_, _ = l.r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, eventsHash(session), "n:"+stream, "b:"+stream)
		p.Del(ctx, eventsList(session, stream))
		return nil
	})
}

// Forget implements gateway.EventLog.
func (l *EventLog) Forget(ctx context.Context, session string) {
	_ = forgetScript.Run(ctx, l.r.c, []string{eventsHash(session)}, eventsKey+"{"+session+"}:").Err()
}

// ReplicaTag implements gateway.SharedEventLog: this process's part of
// the names of the POST streams it opens.
func (l *EventLog) ReplicaTag() string { return l.tag }

// Live implements gateway.SharedEventLog: a key per stream, expiring
// after lease.
func (l *EventLog) Live(ctx context.Context, session, stream string, lease time.Duration) error {
	return l.r.unavailable(l.r.c.Set(ctx, eventsList(session, stream)+":live", l.tag, lease).Err())
}

// Running implements gateway.SharedEventLog.
func (l *EventLog) Running(ctx context.Context, session, stream string) (bool, error) {
	n, err := l.r.c.Exists(ctx, eventsList(session, stream)+":live").Result()
	return n > 0, l.r.unavailable(err)
}
