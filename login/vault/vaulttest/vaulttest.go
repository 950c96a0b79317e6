// Package vaulttest has the checks every vault store must pass, run
// against the file store and the shared (Redis) store alike.
package vaulttest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// RefreshOnce checks that a token is refreshed once across vaults a and b,
// two processes or replicas over one store: 16 callers, half on each, ask
// at once for alice's drive token, which is about to expire. The refresh
// is held until it has started, so the other callers meet it in flight;
// there is one refresh, every caller gets the new token, and the refresh
// token the server did not rotate is kept. It sets both vaults' clocks.
func RefreshOnce(t *testing.T, a, b *vault.Vault) {
	t.Helper()
	ctx := await.Context(t)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a.Now, b.Now = func() time.Time { return now }, func() time.Time { return now }
	if err := a.PutToken(ctx, "alice", "drive", vault.Token{AccessToken: "old-access", RefreshToken: "rt-1", Expiry: now.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	release := make(chan struct{})
	refresh := func(_ context.Context, cur vault.Token) (vault.Token, error) {
		if cur.RefreshToken != "rt-1" {
			return vault.Token{}, fmt.Errorf("refresh with %q", cur.RefreshToken)
		}
		calls.Add(1)
		<-release // every other caller is waiting for the lock meanwhile
		return vault.Token{AccessToken: "new-access", Expiry: now.Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		v := a
		if i%2 == 1 {
			v = b
		}
		wg.Go(func() {
			tok, err := v.Token(ctx, "alice", "drive", refresh)
			if err == nil && tok.AccessToken != "new-access" {
				err = fmt.Errorf("got %q", tok.AccessToken)
			}
			errs <- err
		})
	}
	await.Until(t, "one refresh started", func() bool { return calls.Load() == 1 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("refreshed %d times across two vaults over one store, want once", n)
	}
	tok, err := b.Token(ctx, "alice", "drive", nil)
	if err != nil || tok.RefreshToken != "rt-1" {
		t.Fatalf("kept refresh token: %+v, %v", tok, err)
	}
}
