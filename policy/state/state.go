// Package state is where a gateway keeps what its replicas must share:
// the rate-limit counters, the revocation of issued tokens and the
// revision of the bundle that governs. One gateway process keeps them in
// memory (the embedded default, limit.Memory and the token file); several
// replicas behind a load balancer keep them in a Redis-protocol engine
// (Redis, Valkey, ElastiCache, Memorystore) through go-redis, so that no
// replica holds state another one needs and no cluster protocol of our
// own is involved.
//
// When the store cannot be reached, Guard applies the deployment's
// choice: fail closed (every call that needs a counter is refused with a
// clear error) or degrade to counters local to the replica, reported;
// either way the next call tries the store again, so recovery needs no
// restart.
package state

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnavailable wraps every error of a store that could not be reached
// or could not answer: the caller cannot tell whether the operation took
// effect, and the failure mode decides.
var ErrUnavailable = errors.New("the shared state store is unavailable")

// DownMode is what a replica does while its store is unreachable.
type DownMode string

// Down modes.
const (
	// DownEnforce fails closed: a call that needs a shared counter is
	// refused (the engine's fail mode for a pipeline that cannot decide).
	DownEnforce DownMode = "enforce"
	// DownAudit degrades to counters local to the replica (a limit of N
	// then holds per replica, not across them) and reports the outage.
	DownAudit DownMode = "audit"
)

// ParseDownMode reads a down mode by name.
func ParseDownMode(s string) (DownMode, error) {
	switch DownMode(s) {
	case DownEnforce, DownAudit:
		return DownMode(s), nil
	}
	return "", fmt.Errorf("store failure mode %q: want enforce (fail closed) or audit (local limits)", s)
}

// Prefix starts every key mcpgov writes, so that a store can be shared
// with other applications (and flushed by prefix).
const Prefix = "mcpgov:"

// maskURL is a store URL fit for messages: its password, when it has one,
// replaced.
func maskURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	userinfo := rest[:at]
	if user, _, has := strings.Cut(userinfo, ":"); has {
		userinfo = user + ":****"
	} else {
		userinfo = "****"
	}
	return scheme + "://" + userinfo + rest[at:]
}
