// Package limit enforces the catalog's rate limits (calls per minute per
// user, for a whole server and per tool). The counters live in a Store.
// Many shim processes run at once on one machine, each for one client
// connection, so the shim's Store (Limiter) is one small state file that
// every process updates under an exclusive file lock; a process that
// serves every session itself can keep them in memory (Memory), and a
// gateway that scales out in a store its replicas share. A sliding window
// of call times per key makes "retry after" exact.
package limit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Window is the span the limits count over.
const Window = time.Minute

// FileName is the state file's name inside the state directory.
const FileName = "ratelimits.json"

// Store keeps the counters. Take records one call against every key, or
// none when any key is at its limit; then it returns an *Exceeded for the
// key that waits longest. Any other error means the store could not
// count (the pipeline then cannot decide, and the fail mode applies).
type Store interface {
	Take(ctx context.Context, keys []Key) error
}

var (
	_ Store = (*Limiter)(nil)
	_ Store = (*Memory)(nil)
)

// Limiter is the Store of shim processes: it counts calls in a state file
// under Dir, shared by every process on the machine.
type Limiter struct {
	Dir string
	Now func() time.Time
}

// Key is one counter: who, on which server, which tool ("" for the whole
// server), and its limit per Window.
type Key struct {
	User   string
	Server string
	Tool   string
	Limit  int
}

func (k Key) id() string { return k.User + "\x00" + k.Server + "\x00" + k.Tool }

// Exceeded says which limit a call hit and when to retry.
type Exceeded struct {
	Key        Key
	RetryAfter time.Duration
}

func (e *Exceeded) Error() string {
	scope := "server " + e.Key.Server
	if e.Key.Tool != "" {
		scope = "tool " + e.Key.Tool + " of server " + e.Key.Server
	}
	secs := int(e.RetryAfter.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return fmt.Sprintf("rate limit of %d calls per minute reached for %s; retry after %ds", e.Key.Limit, scope, secs)
}

type state struct {
	Calls map[string][]int64 `json:"calls"` // key id -> call times (unix ms), oldest first
}

// Take implements Store.
func (l *Limiter) Take(_ context.Context, keys []Key) error {
	if len(keys) == 0 {
		return nil
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.Dir, FileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		return fmt.Errorf("rate limits: lock %s: %w", f.Name(), err)
	}
	defer unlock(f)

	var st state
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &st); err != nil {
			st = state{} // a torn or foreign file: start counting afresh
		}
	}
	if st.Calls == nil {
		st.Calls = map[string][]int64{}
	}
	worst := take(st.Calls, keys, now())
	out, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	if _, err := f.WriteAt(out, 0); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	if worst != nil {
		return worst
	}
	return nil
}

// take drops call times older than the window from calls, then records a
// call at t against every key, or none and returns the Exceeded of the
// key that waits longest when any key is at its limit.
func take(calls map[string][]int64, keys []Key, t time.Time) *Exceeded {
	cutoff := t.Add(-Window).UnixMilli()
	for id, times := range calls {
		i := 0
		for i < len(times) && times[i] <= cutoff {
			i++
		}
		if i == len(times) {
			delete(calls, id)
		} else {
			calls[id] = times[i:]
		}
	}
	var worst *Exceeded
	for _, k := range keys {
		times := calls[k.id()]
		if k.Limit > 0 && len(times) >= k.Limit {
			oldest := time.UnixMilli(times[len(times)-k.Limit])
			wait := oldest.Add(Window).Sub(t)
			if worst == nil || wait > worst.RetryAfter {
				worst = &Exceeded{Key: k, RetryAfter: wait}
			}
		}
	}
	if worst == nil {
		for _, k := range keys {
			if k.Limit > 0 {
				calls[k.id()] = append(calls[k.id()], t.UnixMilli())
			}
		}
	}
	return worst
}

// AsExceeded unwraps an *Exceeded.
func AsExceeded(err error) (*Exceeded, bool) {
	var e *Exceeded
	ok := errors.As(err, &e)
	return e, ok
}
