package govern

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestSharedTokenStoreAcrossReplicas: a token created through one
// replica's store verifies on another; revoked through the second, it is
// refused by the first at its next check; with the store down, a token is
// refused (fail closed), and accepted again once it is back.
func TestSharedTokenStoreAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	open := func() *SharedTokenStore {
		r, err := state.OpenRedis(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return &SharedTokenStore{Store: r}
	}
	a, b := open(), open()
	raw, rec, err := a.Create(ctx, TokenSpec{Kind: TokenService, Subject: "ci", Groups: []string{"build"}, TTL: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Verify(ctx, raw)
	if err != nil || got.Subject != "ci" || got.ID != rec.ID {
		t.Fatalf("verify on the other replica: %+v, %v", got, err)
	}
	if _, err := b.Verify(ctx, raw+"x"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("a token never issued: %v", err)
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 1 || list[0].Hash != rec.Hash {
		t.Fatalf("list: %+v, %v", list, err)
	}

	srv.Kill()
	if _, err := a.Verify(ctx, raw); err == nil || !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "cannot be checked") {
		t.Fatalf("verify with the store down: %v; want a refusal", err)
	}
	srv.Start()
	await.Until(t, "the token verifying once the store is back", func() bool {
		_, err := a.Verify(ctx, raw)
		// The restarted store has no persistence: the token is gone,
		// which is an answer (unknown), not an outage.
		return err == nil || errors.Is(err, ErrTokenUnknown)
	})

	// Revocation through one replica counts on the other.
	raw, rec, err = a.Create(ctx, TokenSpec{Kind: TokenPersonal, Subject: "ada", TTL: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, raw); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("verify after revocation on the other replica: %v", err)
	}
	if _, err := a.Revoke(ctx, rec.ID); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := a.Revoke(ctx, "nope"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("revoke of an unknown id: %v", err)
	}
}
