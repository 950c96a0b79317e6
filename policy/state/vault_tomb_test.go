package state_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisVaultRevokedStaysRevoked (review: a revoked Redis vault entry
// put back opened again on every replica): alice's key is read by a second
// replica, then revoked (one entry, then every entry of the user); the
// last sealed copy, put back with a raw HSET, is refused as tampered by
// the revoking replica and by the one that had read it. A new grant after
// the revocation is read by every replica, one that never read anything
// included.
func TestRedisVaultRevokedStaysRevoked(t *testing.T) {
	for _, how := range []string{"Delete", "RevokeUser"} {
		t.Run(how, func(t *testing.T) {
			r := startReplicas(t)
			ctx, raw := await.Context(t), r.raw
			a, b := r.open(t), r.open(t)
			const user, server = "alice@example.com", "jira"
			if err := a.SetAPIKey(ctx, user, server, "k-revoked-1a2b3c4d"); err != nil {
				t.Fatal(err)
			}
			if got, err := b.APIKey(ctx, user, server); err != nil || got != "k-revoked-1a2b3c4d" {
				t.Fatalf("the other replica reads %q, %v", got, err)
			}
			old := onlyEntry(t, raw.HGetAll(ctx, state.Prefix+"vault").Val())
			switch how {
			case "Delete":
				if err := a.Delete(ctx, vault.Key{User: user, Server: server, Name: vault.NameAPIKey}, "revoked"); err != nil {
					t.Fatal(err)
				}
			default:
				if n, err := a.RevokeUser(ctx, user, "offboarding"); n != 1 || err != nil {
					t.Fatalf("RevokeUser = %d, %v", n, err)
				}
			}
			for name, v := range map[string]*vault.Vault{"the revoking replica": a, "a replica that had read it": b} {
				if _, err := v.APIKey(ctx, user, server); !errors.Is(err, vault.ErrNotFound) {
					t.Errorf("%s after the revocation: %v, want not found", name, err)
				}
			}

			raw.HSet(ctx, state.Prefix+"vault", old[0], old[1])
			for name, v := range map[string]*vault.Vault{"the revoking replica": a, "a replica that had read it": b} {
				got, err := v.APIKey(ctx, user, server)
				if !errors.Is(err, vault.ErrTampered) || !strings.Contains(err.Error(), "deleted") {
					t.Errorf("%s reads the revoked copy put back: %q, %v; want ErrTampered naming the deletion", name, got, err)
				}
			}

			if err := b.SetAPIKey(ctx, user, server, "k-next-9c0d1e2f"); err != nil {
				t.Fatal(err)
			}
			readsEverywhere(t, ctx, map[string]*vault.Vault{"a": a, "b": b, "fresh": r.open(t)}, user, server, "k-next-9c0d1e2f", "after a new grant")
		})
	}
}

// TestRedisVaultGenerationBounds (review: a Put was silently dropped once
// a generation passed 2^53, and the vault-gen hash kept a field for every
// entry ever written): a generation field set at 2^53 (a Redis-writable
// attacker) makes the next Put fail, not report a write it did not make;
// the generation hash holds nothing for a stored entry and exactly one
// tombstone for a deleted one, which a new grant replaces.
func TestRedisVaultGenerationBounds(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	raw := rawClient(t, srv)
	v := openVault(t, srv.URL(), testKEK(t))
	genKey := state.Prefix + "vault-gen"
	for _, s := range []string{"gh", "jira", "linear"} {
		for _, key := range []string{"k-first-11111111", "k-second-22222222"} {
			if err := v.SetAPIKey(ctx, "alice@example.com", s, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := raw.HLen(ctx, genKey).Val(); n != 0 {
		t.Errorf("%s holds %d fields after six writes of three entries, want none (the entries carry their generations)", genKey, n)
	}
	if err := v.Delete(ctx, vault.Key{User: "alice@example.com", Server: "gh", Name: vault.NameAPIKey}, "revoked"); err != nil {
		t.Fatal(err)
	}
	if n := raw.HLen(ctx, genKey).Val(); n != 1 {
		t.Errorf("%s holds %d fields after one deletion, want its tombstone only", genKey, n)
	}
	if err := v.SetAPIKey(ctx, "alice@example.com", "gh", "k-third-33333333"); err != nil {
		t.Fatal(err)
	}
	if n := raw.HLen(ctx, genKey).Val(); n != 0 {
		t.Errorf("%s holds %d fields after the deleted entry was granted again, want none", genKey, n)
	}

	// A generation at 2^53 would no longer rise in the store's arithmetic.
	f := onlyField(t, raw.HGetAll(ctx, state.Prefix+"vault").Val(), "jira")
	raw.HSet(ctx, genKey, f, strconv.FormatUint(1<<53, 10))
	err := v.SetAPIKey(ctx, "alice@example.com", "jira", "k-lost-44444444")
	if err == nil || !strings.Contains(err.Error(), "2^53") || strings.Contains(err.Error(), "unavailable") {
		t.Errorf("a write past generation 2^53: %v, want an error saying the generation is out of range (not the store unavailable)", err)
	}
	if got, err := v.APIKey(ctx, "alice@example.com", "jira"); err != nil || got != "k-second-22222222" {
		t.Errorf("after the refused write: %q, %v, want the stored key", got, err)
	}
}

// onlyField is the vault field whose entry is alice's key for server.
func onlyField(t *testing.T, fields map[string]string, server string) string {
	t.Helper()
	for f, v := range fields {
		if strings.Contains(v, `"server":"`+server+`"`) {
			return f
		}
	}
	t.Fatalf("no vault entry for %s", server)
	return ""
}
