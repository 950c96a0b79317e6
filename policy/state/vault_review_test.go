package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisVaultRollbackRefused (review: a vault entry in Redis could be
// rolled back by anyone who can write to Redis): alice's key is replaced;
// the older sealed copy, put back with a raw HSET, is refused as tampered
// by the replica that wrote the newer one and by one that read it, while
// a replica that never saw the newer one cannot tell (the documented
// limit). Each write is a new generation; the generation is sealed, so
// the older copy cannot be relabelled as newer.
func TestRedisVaultRollbackRefused(t *testing.T) {
	r := startReplicas(t)
	ctx, raw := await.Context(t), r.raw
	a, b := r.open(t), r.open(t)
	const user, server = "alice@example.com", "jira"
	if err := a.SetAPIKey(ctx, user, server, "k-revoked-1a2b3c4d"); err != nil {
		t.Fatal(err)
	}
	old := onlyEntry(t, raw.HGetAll(ctx, state.Prefix+"vault").Val())
	if err := a.SetAPIKey(ctx, user, server, "k-current-5e6f7a8b"); err != nil {
		t.Fatal(err)
	}
	current := onlyEntry(t, raw.HGetAll(ctx, state.Prefix+"vault").Val())
	if got, err := b.APIKey(ctx, user, server); err != nil || got != "k-current-5e6f7a8b" {
		t.Fatalf("the other replica reads %q, %v", got, err)
	}
	fresh := r.open(t) // has read nothing yet

	raw.HSet(ctx, state.Prefix+"vault", old[0], old[1])
	for name, v := range map[string]*vault.Vault{"the replica that wrote the newer key": a, "a replica that read it": b} {
		got, err := v.APIKey(ctx, user, server)
		if !errors.Is(err, vault.ErrTampered) || !strings.Contains(err.Error(), "an older copy of the entry was put back") {
			t.Errorf("%s reads the older copy put back: %q, %v; want ErrTampered naming the rollback", name, got, err)
		}
	}
	if got, err := fresh.APIKey(ctx, user, server); err != nil || got != "k-revoked-1a2b3c4d" {
		t.Errorf("a replica that never read the newer entry: %q, %v (it cannot tell; documented)", got, err)
	}

	// The generation is sealed: the older copy relabelled with the newer
	// one's generation does not open.
	oldGen, curGen := member(old[1], "gen"), member(current[1], "gen")
	if oldGen == "" || curGen == "" || oldGen == curGen {
		t.Fatalf("generations %q and %q, want two different ones", oldGen, curGen)
	}
	raw.HSet(ctx, state.Prefix+"vault", old[0], strings.Replace(old[1], `"gen":`+oldGen, `"gen":`+curGen, 1))
	if _, err := fresh.APIKey(ctx, user, server); !errors.Is(err, vault.ErrTampered) {
		t.Errorf("the older copy relabelled with the newer generation: %v, want ErrTampered", err)
	}

	// A new write after the rollback is read again by every replica.
	if err := b.SetAPIKey(ctx, user, server, "k-next-9c0d1e2f"); err != nil {
		t.Fatal(err)
	}
	readsEverywhere(t, ctx, map[string]*vault.Vault{"a": a, "b": b, "fresh": fresh}, user, server, "k-next-9c0d1e2f", "after a new write")
}

// TestRedisVaultGenerationsAfterStoreLoss: the store loses its data (a
// restart without persistence, FLUSHDB here) while a replica remembers a
// generation; the next write's generation is still higher (the store's
// clock), so the replica reads the new entry instead of refusing it as
// rolled back.
func TestRedisVaultGenerationsAfterStoreLoss(t *testing.T) {
	r := startReplicas(t)
	ctx, raw := await.Context(t), r.raw
	a, b := r.open(t), r.open(t)
	for _, key := range []string{"k-first-11111111", "k-second-22222222", "k-third-33333333"} {
		if err := a.SetAPIKey(ctx, "alice@example.com", "jira", key); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := b.APIKey(ctx, "alice@example.com", "jira"); err != nil || got != "k-third-33333333" {
		t.Fatalf("before the loss: %q, %v", got, err)
	}
	if err := raw.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAPIKey(ctx, "alice@example.com", "jira", "k-after-44444444"); err != nil {
		t.Fatal(err)
	}
	readsEverywhere(t, ctx, map[string]*vault.Vault{"the writer": a, "a reader": b}, "alice@example.com", "jira", "k-after-44444444", "after the store lost its data")
}

// TestRedisVaultDeleteUserPastMalformed (review: DeleteUser stopped at one
// malformed entry, so one damaged field blocked a departing user's
// revocation): alice's two entries are deleted even with a field that does
// not decode; the error names that field and how to remove it, the count
// is returned, and bob's entry and the malformed field are left.
func TestRedisVaultDeleteUserPastMalformed(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	raw := rawClient(t, srv)
	v := openVault(t, srv.URL(), testKEK(t))
	for _, s := range []string{"gh", "jira"} {
		if err := v.SetAPIKey(ctx, "alice@example.com", s, "k-"+s+"-alice-123456"); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetAPIKey(ctx, "bob@example.com", "gh", "k-gh-bob-123456"); err != nil {
		t.Fatal(err)
	}
	const bad = "00000000000000000000000000000bad"
	raw.HSet(ctx, state.Prefix+"vault", bad, `{"user":"alice@example.com","damaged":true}`)

	n, err := v.RevokeUser(ctx, "alice@example.com", "offboarding")
	if n != 2 || err == nil || !strings.Contains(err.Error(), "redis-cli HDEL "+state.Prefix+"vault "+bad) || !strings.Contains(err.Error(), "deleted 2 entries of alice@example.com") {
		t.Fatalf("RevokeUser over a malformed entry = %d, %v; want 2 and an error naming field %s", n, err, bad)
	}
	for _, s := range []string{"gh", "jira"} {
		if _, err := v.APIKey(ctx, "alice@example.com", s); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("alice's %s key after the revocation: %v, want not found", s, err)
		}
	}
	if got, err := v.APIKey(ctx, "bob@example.com", "gh"); err != nil || got != "k-gh-bob-123456" {
		t.Errorf("bob's key after alice's revocation: %q, %v", got, err)
	}
	if fields := raw.HGetAll(ctx, state.Prefix+"vault").Val(); len(fields) != 2 || fields[bad] == "" {
		t.Errorf("left in the store: %d fields, want bob's and the malformed one", len(fields))
	}
}

// onlyEntry is the one field and value of a vault hash.
func onlyEntry(t *testing.T, fields map[string]string) [2]string {
	t.Helper()
	if len(fields) != 1 {
		t.Fatalf("%d vault entries, want 1", len(fields))
	}
	for f, v := range fields {
		return [2]string{f, v}
	}
	return [2]string{}
}

// member is the text of a top-level number member of a JSON object, as
// stored.
func member(obj, name string) string {
	_, rest, ok := strings.Cut(obj, `"`+name+`":`)
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return ""
	}
	return rest[:end]
}
