package govern

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// steppedStore is one replica's vault store that counts reads and lock
// attempts, and holds its first read (after it read) until after says so.
type steppedStore struct {
	vault.Store
	gets, locks atomic.Int32
	after       func() bool
}

func (s *steppedStore) Get(ctx context.Context, k vault.Key) (vault.Entry, error) {
	e, err := s.Store.Get(ctx, k)
	if s.gets.Add(1) == 1 {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for !s.after() {
			select {
			case <-ctx.Done():
				return vault.Entry{}, ctx.Err()
			case <-t.C:
			}
		}
	}
	return e, err
}

func (s *steppedStore) Lock(ctx context.Context, k vault.Key) (func(), error) {
	s.locks.Add(1)
	return s.Store.Lock(ctx, k)
}

// sharedVault starts a Redis, and returns what opens one replica's vault
// store on it: a client of its own, every replica with the same key.
func sharedVault(t *testing.T) func() vault.Store {
	t.Helper()
	redis := statetest.Start(t)
	kek, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return func() vault.Store {
		t.Helper()
		r, err := state.OpenRedis(redis.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		st, err := r.Vault(kek)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// TestConsentCookieKeyReplicas: two gateway replicas (two vault clients,
// one Redis) start together with no consent cookie key stored. Both read
// "none" before either writes (unless one waits on the other's lock): A
// writes and reads its key back, then B writes. Both must end with the
// same key, and neither may fail to start.
func TestConsentCookieKeyReplicas(t *testing.T) {
	ctx := await.Context(t)
	replicaVault := sharedVault(t)
	a, b := &steppedStore{Store: replicaVault()}, &steppedStore{Store: replicaVault()}
	// A's first read returns once B has read too (or asked for the lock
	// A holds); B's once A has read its own key back (or asked for the
	// lock B holds).
	a.after = func() bool { return b.gets.Load() >= 1 || b.locks.Load() >= 1 }
	b.after = func() bool { return a.gets.Load() >= 2 || a.locks.Load() >= 1 }
	type result struct {
		key []byte
		err error
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	for _, r := range []struct {
		s   *steppedStore
		out chan result
	}{{a, ra}, {b, rb}} {
		go func() {
			k, err := consentCookieKey(ctx, &vault.Vault{Store: r.s})
			r.out <- result{k, err}
		}()
	}
	ka, kb := await.Recv(t, ra, "replica A's key"), await.Recv(t, rb, "replica B's key")
	if err := errors.Join(ka.err, kb.err); err != nil {
		t.Fatalf("a replica failed to start: %v", err)
	}
	if string(ka.key) != string(kb.key) {
		t.Fatal("the replicas sign consent cookies with different keys: a sign-in that crosses them fails")
	}
	// A third start reads the same key.
	kc, err := consentCookieKey(ctx, &vault.Vault{Store: a.Store})
	if err != nil || string(kc) != string(ka.key) {
		t.Fatalf("a later start: %v (same key %v)", err, string(kc) == string(ka.key))
	}
}
