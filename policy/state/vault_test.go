package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/login/vault/vaulttest"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func openVault(t *testing.T, url string, kek []byte) *vault.Vault {
	t.Helper()
	st, err := open(t, url).Vault(kek)
	if err != nil {
		t.Fatal(err)
	}
	return &vault.Vault{Store: st}
}

func testKEK(t *testing.T) []byte {
	t.Helper()
	kek, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// replicas is a real Redis whose vault replicas share one key.
type replicas struct {
	srv *statetest.Server
	raw *redis.Client // the store itself, bypassing the vault
	kek []byte
}

func startReplicas(t *testing.T) *replicas {
	t.Helper()
	srv := statetest.Start(t)
	return &replicas{srv: srv, raw: rawClient(t, srv), kek: testKEK(t)}
}

// open is another replica: a vault on the store that has read nothing.
func (r *replicas) open(t *testing.T) *vault.Vault {
	t.Helper()
	return &vault.Vault{Store: r.store(t)}
}

// store is another replica's vault store (its clients, consents, locks).
func (r *replicas) store(t *testing.T) *state.Vault {
	t.Helper()
	st, err := open(t, r.srv.URL()).Vault(r.kek)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readsEverywhere checks that each replica, by name, reads want as
// user's API key for server (when says at which point of the test).
func readsEverywhere(t *testing.T, ctx context.Context, vs map[string]*vault.Vault, user, server, want, when string) {
	t.Helper()
	for name, v := range vs {
		if got, err := v.APIKey(ctx, user, server); err != nil || got != want {
			t.Errorf("replica %s %s: %q, %v; want %q", name, when, got, err, want)
		}
	}
}

// dump is every value the store holds under mcpgov's prefix (strings and
// hash fields and values), as `redis-cli --scan` and GET/HGETALL show it.
func dump(t *testing.T, srv *statetest.Server) string {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := await.Context(t)
	var b strings.Builder
	iter := c.Scan(ctx, 0, state.Prefix+"*", 0).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		b.WriteString(k + "\n")
		switch c.Type(ctx, k).Val() {
		case "string":
			b.WriteString(c.Get(ctx, k).Val() + "\n")
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				b.WriteString(f + " " + v + "\n")
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRedisVaultSharedAcrossReplicas: a grant stored through one replica
// is used by another; the store holds ciphertext only (no key, token or
// refresh token in the dump); an entry copied over another's field, or
// opened under another key-encryption key, is refused; a user's
// revocation through one replica is seen by the other.
func TestRedisVaultSharedAcrossReplicas(t *testing.T) {
	r := startReplicas(t)
	ctx := await.Context(t)
	a, b := r.open(t), r.open(t)
	const (
		access  = "at-3b1f9c0e7d2a4b6f"
		refresh = "rt-8e7d6c5b4a392817"
		apiKey  = "k-alice-9f8e7d6c5b4a"
	)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := a.PutToken(ctx, "alice@example.com", "drive", vault.Token{AccessToken: access, RefreshToken: refresh, Expiry: exp, Scopes: []string{"files.read"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAPIKey(ctx, "alice@example.com", "jira", apiKey); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAPIKey(ctx, "bob@example.com", "jira", "k-bob-1a2b3c4d5e6f"); err != nil {
		t.Fatal(err)
	}
	tok, err := b.Token(ctx, "alice@example.com", "drive", nil)
	if err != nil || tok.AccessToken != access || tok.RefreshToken != refresh || !tok.Expiry.Equal(exp) {
		t.Fatalf("the other replica reads %+v, %v", tok, err)
	}
	if got, err := b.APIKey(ctx, "alice@example.com", "jira"); err != nil || got != apiKey {
		t.Fatalf("the other replica's key: %q, %v", got, err)
	}
	d := dump(t, r.srv)
	for _, plain := range []string{access, refresh, apiKey, "k-bob-1a2b3c4d5e6f", "files.read"} {
		if strings.Contains(d, plain) {
			t.Fatalf("the store holds %q in the clear:\n%s", plain, d)
		}
	}
	list, err := b.List(ctx, "alice@example.com")
	if err != nil || len(list) != 2 || list[0].Server != "drive" || list[1].Server != "jira" {
		t.Fatalf("List(alice) = %+v, %v", list, err)
	}

	// Alice's jira entry copied over Bob's field: it does not open as Bob's.
	raw := r.raw
	fields := raw.HGetAll(ctx, state.Prefix+"vault").Val()
	var aliceJira, bobJira string
	for f, v := range fields {
		switch {
		case strings.Contains(v, `"user":"alice@example.com","server":"jira"`):
			aliceJira = v
		case strings.Contains(v, `"user":"bob@example.com","server":"jira"`):
			bobJira = f
		}
	}
	if aliceJira == "" || bobJira == "" {
		t.Fatalf("entries not found in %v", fields)
	}
	raw.HSet(ctx, state.Prefix+"vault", bobJira, aliceJira)
	if _, err := b.APIKey(ctx, "bob@example.com", "jira"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("an entry moved to another user's field: %v, want ErrTampered", err)
	}
	// Relabelled in place (the clear key changed to Bob's): the seal refuses it.
	raw.HSet(ctx, state.Prefix+"vault", bobJira, strings.Replace(aliceJira, "alice@example.com", "bob@example.com", 1))
	if _, err := b.APIKey(ctx, "bob@example.com", "jira"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("a relabelled entry: %v, want ErrTampered", err)
	}
	// A duplicate member is refused, not decided by the last one.
	raw.HSet(ctx, state.Prefix+"vault", bobJira, strings.Replace(aliceJira, `"kind"`, `"user":"bob@example.com","kind"`, 1))
	if _, err := b.APIKey(ctx, "bob@example.com", "jira"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("an entry with a duplicate member: %v, want ErrTampered", err)
	}
	// Another key-encryption key opens nothing.
	other := openVault(t, r.srv.URL(), testKEK(t))
	if _, err := other.APIKey(ctx, "alice@example.com", "jira"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("under another key: %v, want ErrTampered", err)
	}

	// A malformed entry is named, with how to remove it.
	if _, err := a.List(ctx, ""); err == nil || !strings.Contains(err.Error(), "redis-cli HDEL "+state.Prefix+"vault "+bobJira) {
		t.Fatalf("List over a malformed entry: %v", err)
	}
	raw.HDel(ctx, state.Prefix+"vault", bobJira)

	n, err := a.RevokeUser(ctx, "alice@example.com", "offboarding")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	if _, err := b.Token(ctx, "alice@example.com", "drive", nil); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("alice's grant after revocation on the other replica: %v", err)
	}
	if all, err := b.List(ctx, ""); err != nil || len(all) != 0 {
		t.Fatalf("after revocation (bob's entry was removed as malformed): %+v, %v", all, err)
	}
}

// TestRedisVaultRefreshOnce: 16 callers on two replicas, a token about to
// expire: one refresh across both, every caller gets the new token, and
// the refresh token the server did not rotate is kept.
func TestRedisVaultRefreshOnce(t *testing.T) {
	srv := statetest.Start(t)
	kek := testKEK(t)
	vaulttest.RefreshOnce(t, openVault(t, srv.URL(), kek), openVault(t, srv.URL(), kek))
}

// TestRedisVaultLockExpires: a replica that dies holding a refresh lock
// holds the others up only until the lock's expiry; a released lock is
// free at once, and a holder whose lock expired and was taken by another
// does not release the other's. The holder's death is the lock key
// expiring (deleted here, as PEXPIRE 1 would), not a wall-clock wait.
func TestRedisVaultLockExpires(t *testing.T) {
	r := startReplicas(t)
	ctx, raw := await.Context(t), r.raw
	dead, live := r.store(t), r.store(t)
	k := vault.Key{User: "alice", Server: "drive", Name: vault.NameOAuth}
	staleUnlock, err := dead.Lock(ctx, k) // never released in time: the replica "dies"
	if err != nil {
		t.Fatal(err)
	}
	key := lockKey(t, ctx, raw)
	deadHolder := raw.Get(ctx, key).Val()

	got := make(chan error, 1)
	var unlock func()
	go func() {
		var err error
		unlock, err = live.Lock(ctx, k) // waits for the dead holder's expiry
		got <- err
	}()
	// While held, nobody else gets it (one SET NX, no time window).
	if ok := raw.SetNX(ctx, key, "probe", time.Minute).Val(); ok {
		t.Fatal("a held lock was free")
	}
	select {
	case err := <-got:
		t.Fatalf("a held lock was taken: %v", err)
	default:
	}
	raw.Del(ctx, key) // the dead holder's lock expires
	if err := await.Recv(t, got, "the waiter to take the expired lock"); err != nil {
		t.Fatal(err)
	}
	if h := raw.Get(ctx, key).Val(); h == deadHolder || h == "" {
		t.Fatalf("lock holder after the expiry: %q", h)
	}
	staleUnlock() // the dead holder's late release must not free live's lock
	if ok := raw.SetNX(ctx, key, "probe", time.Minute).Val(); ok {
		t.Fatal("a stale holder released the live lock")
	}
	unlock()
	again, err := dead.Lock(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	again()
}

// rawClient is a plain client on srv, for a test to look at or change the
// store behind the code under test.
func rawClient(t *testing.T, srv *statetest.Server) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opt)
	t.Cleanup(func() { raw.Close() })
	return raw
}

// lockKey is the one refresh-lock key in the store.
func lockKey(t *testing.T, ctx context.Context, raw *redis.Client) string {
	t.Helper()
	keys, err := raw.Keys(ctx, state.Prefix+"vault-lock:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("lock keys: %q, %v", keys, err)
	}
	return keys[0]
}

// TestRedisVaultLockRenewed: a refresh that runs longer than LockTTL keeps
// its lock (the holder renews it), a renewal never touches a lock another
// holder took, and release frees it at once.
func TestRedisVaultLockRenewed(t *testing.T) {
	r := startReplicas(t)
	ctx, raw := await.Context(t), r.raw
	v := r.store(t)
	const ttl = 1500 * time.Millisecond
	v.LockTTL = ttl
	k := vault.Key{User: "alice", Server: "drive", Name: vault.NameOAuth}
	taken := time.Now()
	unlock, err := v.Lock(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	key := lockKey(t, ctx, raw)
	holder := raw.Get(ctx, key).Val()
	// Still held, by the same holder, at every look until twice its TTL
	// has passed: without renewal it lapses after one TTL.
	await.Until(t, "the lock held past twice its TTL", func() bool {
		if got, err := raw.Get(ctx, key).Result(); err != nil || got != holder {
			t.Fatalf("the lock lapsed under its holder after %v: %q, %v", time.Since(taken), got, err)
		}
		return time.Since(taken) > 2*ttl
	})
	unlock()
	if n := raw.Exists(ctx, key).Val(); n != 0 {
		t.Fatal("a released lock is still held")
	}

	// A holder whose lock was taken by another (its own lapsed) renews
	// nothing: the other's hour-long expiry stays.
	stale, err := v.Lock(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	raw.Set(ctx, key, "other-holder", time.Hour)
	since := time.Now()
	await.Until(t, "two renewal periods", func() bool {
		if d := raw.PTTL(ctx, key).Val(); d <= ttl {
			t.Fatalf("a stale holder renewed another's lock: expiry now %v", d)
		}
		return time.Since(since) > ttl
	})
	stale()
	if got := raw.Get(ctx, key).Val(); got != "other-holder" {
		t.Fatalf("a stale holder released another's lock: %q", got)
	}
}

// TestRedisVaultReadsRacingWrites: reads of one replica that race
// another replica's writes are never taken for an older copy put back.
// A read that took its copy before a write is checked against what the
// replica knew when it began, not against a newer generation that a
// read which started later noted first (that refused a good read as
// tampered with, and failed a refresh-once run under load).
func TestRedisVaultReadsRacingWrites(t *testing.T) {
	r := startReplicas(t)
	ctx := await.Context(t)
	writer, reader := r.store(t), r.store(t)
	k := vault.Key{User: "alice", Server: "drive", Name: vault.NameOAuth}
	put := func(i int) error {
		return writer.Put(ctx, vault.Entry{Key: k, Kind: vault.KindToken, Token: &vault.Token{AccessToken: fmt.Sprintf("at-%d", i)}})
	}
	if err := put(0); err != nil {
		t.Fatal(err)
	}
	readsRacing(t, func() error { _, err := reader.Get(ctx, k); return err }, func() {
		for i := 1; i <= 300; i++ {
			if err := put(i); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRedisVaultReadsRacingDeletes: a read racing a deletion of the entry
// (a logout, a revocation) finds the entry or finds none, and is never
// taken for a revoked copy put back. The entry and its tombstone were
// read in a plain pipeline, which a deletion could land in the middle of.
func TestRedisVaultReadsRacingDeletes(t *testing.T) {
	r := startReplicas(t)
	ctx := await.Context(t)
	writer, reader := r.store(t), r.store(t)
	k := vault.Key{User: "alice", Server: "drive", Name: vault.NameOAuth}
	read := func() error {
		if _, err := reader.Get(ctx, k); !errors.Is(err, vault.ErrNotFound) {
			return err
		}
		return nil
	}
	readsRacing(t, read, func() {
		for i := range 300 {
			if err := writer.Put(ctx, vault.Entry{Key: k, Kind: vault.KindToken, Token: &vault.Token{AccessToken: fmt.Sprintf("at-%d", i)}}); err != nil {
				t.Fatal(err)
			}
			if err := writer.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// readsRacing runs read in a loop on 8 goroutines while change runs,
// and fails the test with each error a read met (a reader stops at its
// first).
func readsRacing(t *testing.T, read func() error, change func()) {
	t.Helper()
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := read(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	change()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a read racing the changes: %v", err)
	}
}
