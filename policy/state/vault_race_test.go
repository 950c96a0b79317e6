package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisVaultPutLosesRace (review: a write that did not land reported
// success): a write that took its generation before another replica's
// later write, or before a revocation, stored nothing and says so; the
// later write, or the revocation, stands.
func TestRedisVaultPutLosesRace(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	kek, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	replica := func() *Vault {
		r, err := OpenRedis(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		v, err := r.Vault(kek)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := replica(), replica()
	k := vault.Key{User: "alice@example.com", Server: "jira", Name: vault.NameAPIKey}
	entry := func(secret string) vault.Entry {
		return vault.Entry{Key: k, Kind: vault.KindAPIKey, Secret: secret}
	}
	secret := func(v *Vault) (string, error) {
		e, err := v.Get(ctx, k)
		return e.Secret, err
	}
	if err := a.Put(ctx, entry("k-first-11111111")); err != nil {
		t.Fatal(err)
	}

	// A later write lands between a's two steps.
	gen, err := a.nextGen(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, entry("k-later-22222222")); err != nil {
		t.Fatal(err)
	}
	if err := a.putGen(ctx, entry("k-lost-33333333"), gen); err == nil || !strings.Contains(err.Error(), "a later write of it landed first") {
		t.Errorf("a write overtaken by a later one: %v, want an error saying it was not stored", err)
	}
	if got, err := secret(a); err != nil || got != "k-later-22222222" {
		t.Errorf("after the overtaken write: %q, %v, want the later key", got, err)
	}

	// A revocation lands between a's two steps.
	if gen, err = a.nextGen(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := a.putGen(ctx, entry("k-revived-44444444"), gen); err == nil || !strings.Contains(err.Error(), "deleted (revoked) while this write") {
		t.Errorf("a write overtaken by a revocation: %v, want an error saying it was not stored", err)
	}
	for name, v := range map[string]*Vault{"a": a, "b": b} {
		if got, err := secret(v); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("replica %s after the revocation: %q, %v, want not found", name, got, err)
		}
	}
}
