package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// Keys of the consents in flight: the record by its state, and the
// current state of a user and server (by a hash, so no user name or
// server id is a key).
const (
	consentKey        = Prefix + "consent:"
	consentCurrentKey = Prefix + "consent-current:"
)

// Consents is the store's oauthuser.PendingStore: the per-user OAuth
// consents in flight, shared by the replicas, so the browser's redirect
// may reach a replica other than the one that made the link. A state is
// taken with GETDEL: it works once even when two replicas get it.
type Consents struct{ r *Redis }

var _ oauthuser.PendingStore = Consents{}

// Consents is r as the consents' store.
func (r *Redis) Consents() Consents { return Consents{r} }

func stateKey(state string) string {
	h := sha256.Sum256([]byte(state))
	return consentKey + hex.EncodeToString(h[:16])
}

func currentKey(user, server string) string {
	h := sha256.Sum256([]byte(user + "\x00" + server))
	return consentCurrentKey + hex.EncodeToString(h[:16])
}

// Put implements oauthuser.PendingStore.
func (c Consents) Put(ctx context.Context, state, user, server string, record []byte, ttl time.Duration) error {
	_, err := c.r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, stateKey(state), record, ttl)
		p.Set(ctx, currentKey(user, server), state, ttl)
		return nil
	})
	return c.r.unavailable(err)
}

// Take implements oauthuser.PendingStore.
func (c Consents) Take(ctx context.Context, state string) ([]byte, error) {
	b, err := c.r.c.GetDel(ctx, stateKey(state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	return b, nil
}

// Current implements oauthuser.PendingStore: the current state's record,
// if it is still there (not taken, not expired).
func (c Consents) Current(ctx context.Context, user, server string) ([]byte, error) {
	state, err := c.r.c.Get(ctx, currentKey(user, server)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	b, err := c.r.c.Get(ctx, stateKey(state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, oauthuser.ErrNoPending
	}
	if err != nil {
		return nil, c.r.unavailable(err)
	}
	return b, nil
}
