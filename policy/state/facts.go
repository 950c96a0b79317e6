package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Session facts (what a session has done, for taint rules) are kept per
// session so that a replica resuming a session another opened goes on
// from what the session did there. They change only when a call
// establishes something new (a server, a tool, a data class, untrusted
// content), so most calls write nothing.
const factsKey = Prefix + "facts:"

// FactsKeep is how long a session's facts are kept after the last change.
const FactsKeep = 7 * 24 * time.Hour

func factsRecordKey(session string) string {
	h := sha256.Sum256([]byte(session))
	return factsKey + hex.EncodeToString(h[:12])
}

// LoadFacts returns the facts kept for session, and false when none are.
func (r *Redis) LoadFacts(ctx context.Context, session string) (enforce.FactsState, bool, error) {
	b, err := r.c.Get(ctx, factsRecordKey(session)).Bytes()
	if errors.Is(err, redis.Nil) {
		return enforce.FactsState{}, false, nil
	}
	if err != nil {
		return enforce.FactsState{}, false, r.unavailable(err)
	}
	var st enforce.FactsState
	if err := jsonv2.Unmarshal(b, &st, jsonv2.RejectUnknownMembers(true)); err != nil {
		return st, false, fmt.Errorf("session facts %s: %w", factsRecordKey(session), err)
	}
	return st, true, nil
}

// SaveFacts merges st into the facts kept for session: a fact another
// replica established meanwhile is kept, the first taint of each fact
// wins, and the call count is the larger (optimistic: a concurrent change
// makes it read and merge again).
func (r *Redis) SaveFacts(ctx context.Context, session string, st enforce.FactsState) error {
	key := factsRecordKey(session)
	for range 10 {
		err := r.c.Watch(ctx, func(tx *redis.Tx) error {
			merged := st
			if b, err := tx.Get(ctx, key).Bytes(); err == nil {
				var old enforce.FactsState
				if jsonv2.Unmarshal(b, &old, jsonv2.RejectUnknownMembers(true)) == nil {
					merged = mergeFacts(old, st)
				}
			} else if !errors.Is(err, redis.Nil) {
				return err
			}
			out, err := jsonv2.Marshal(merged)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, out, FactsKeep)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return r.unavailable(err)
	}
	return r.unavailable(errors.New("session facts changed concurrently too often"))
}

// mergeFacts is the union of two states of one session's facts, the
// older taint of each fact first.
func mergeFacts(old, cur enforce.FactsState) enforce.FactsState {
	out := enforce.FactsState{Calls: max(old.Calls, cur.Calls), Classes: map[string]enforce.Taint{}}
	out.Servers = union(old.Servers, cur.Servers)
	out.Tools = union(old.Tools, cur.Tools)
	maps.Copy(out.Classes, cur.Classes)
	maps.Copy(out.Classes, old.Classes) // the first established wins
	out.Untrusted = old.Untrusted
	if out.Untrusted == nil {
		out.Untrusted = cur.Untrusted
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
