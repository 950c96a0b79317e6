package govern

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// watchedTokens is a replica's vault token store that counts reads and
// lock attempts and can hold a read, so a test can order what replicas do.
type watchedTokens struct {
	vaultTokens
	gets, locks atomic.Int32
	onGet       atomic.Pointer[func()]
}

func (s *watchedTokens) Get(ctx context.Context, k oauthuser.Key) (oauthuser.Token, error) {
	t, err := s.vaultTokens.Get(ctx, k)
	s.gets.Add(1)
	if h := s.onGet.Load(); h != nil {
		(*h)()
	}
	return t, err
}

func (s *watchedTokens) Lock(ctx context.Context, k oauthuser.Key) (func(), error) {
	s.locks.Add(1)
	return s.vaultTokens.Lock(ctx, k)
}

// TestOAuthUserReplicasRefreshOnce: two gateway replicas (two Managers,
// each on its own vault client and its own lock directory, one Redis)
// share alice's grant at Dex. Eight calls at once on the expired grant,
// across both, spend its refresh token once. Then a Reject of a token
// that replica B read before replica A refreshed does not write the old
// token over A's new one.
func TestOAuthUserReplicasRefreshOnce(t *testing.T) {
	ctx := await.Context(t)
	replicaVault := sharedVault(t)
	ln := oauthusertest.Listen(t)
	redirect := "http://" + ln.Addr().String() + "/oauth/callback"
	dex := oauthusertest.StartDex(t, redirect)
	cfg := oauthuser.Config{Issuer: dex.Issuer, ClientID: oauthusertest.ClientID, ClientSecret: oauthusertest.ClientSecret,
		Scopes: []string{"openid", "email", "offline_access"}, RedirectURL: redirect}
	replica := func() (*oauthuser.Manager, *watchedTokens) {
		store := &watchedTokens{vaultTokens: vaultTokens{&vault.Vault{Store: replicaVault()}}}
		m := &oauthuser.Manager{Store: store, LockDir: t.TempDir()} // a lock dir per host
		if err := m.AddServer("drive", cfg); err != nil {
			t.Fatal(err)
		}
		return m, store
	}
	a, sa := replica()
	b, sb := replica()
	srv := &http.Server{Handler: a.RedirectHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	const alice = "https://idp.example/|alice"
	k := oauthuser.Key{User: alice, Server: "drive"}
	_, err := a.Token(ctx, alice, "drive")
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) {
		t.Fatalf("first token: %v, want a consent", err)
	}
	if code, page, err := oauthusertest.Consent(ctx, cr.URL); err != nil || code != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s", code, err, page)
	}
	expire := func() oauthuser.Token {
		t.Helper()
		tok, err := sa.vaultTokens.Get(ctx, k)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("stored grant: %v, %v", tok, err)
		}
		tok.Expiry = time.Now().Add(-time.Second)
		if err := sa.vaultTokens.Put(ctx, k, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first := expire()

	// Eight callers, four per replica, while Dex holds the refresh.
	release := make(chan struct{})
	hold := func() { <-release }
	dex.HoldRefresh.Store(&hold)
	base := sa.gets.Load() + sb.gets.Load()
	toks := make(chan string, 8)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		m := a
		if i%2 == 1 {
			m = b
		}
		wg.Go(func() {
			tok, err := m.Token(ctx, alice, "drive")
			toks <- tok
			errs <- err
		})
	}
	// Eight first reads and the re-read of the one refreshing: every
	// caller is past its fast path while the refresh is held at Dex.
	await.Until(t, "eight callers waiting on one refresh", func() bool {
		return sa.gets.Load()+sb.gets.Load() >= base+9 && dex.Refreshes.Load() >= 1
	})
	close(release)
	wg.Wait()
	close(toks)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("token: %v\ndex log:\n%s", err, dex.Log)
		}
	}
	second, err := sb.vaultTokens.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for tok := range toks {
		if tok != second.AccessToken {
			t.Errorf("a caller got another token than the stored grant's")
		}
	}
	if n := dex.Refreshes.Load(); n != 1 {
		t.Fatalf("refresh grants at Dex across two replicas = %d, want 1", n)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken {
		t.Fatalf("the grant was not renewed and rotated: %v -> %v", first, second)
	}

	// B read the (now spent) token and is about to reject it; A refreshes
	// meanwhile. B's write must not land over A's new grant.
	dex.HoldRefresh.Store(nil)
	stale := expire()
	read, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	pause := func() { once.Do(func() { close(read); <-resume }) }
	sb.onGet.Store(&pause)
	rejected := make(chan error, 1)
	go func() { rejected <- b.Reject(ctx, alice, "drive", stale.AccessToken) }()
	await.Recv(t, read, "B reading the grant to reject")
	locks := sa.locks.Load()
	refreshed := make(chan error, 1)
	go func() {
		_, err := a.Token(ctx, alice, "drive")
		refreshed <- err
	}()
	// Without a lock across replicas A's refresh ends while B is paused;
	// with it A waits for B's lock.
	await.Until(t, "A refreshed or waiting for B's lock", func() bool {
		return len(refreshed) == 1 || sa.locks.Load() > locks
	})
	close(resume)
	if err := await.Recv(t, rejected, "B's reject"); err != nil {
		t.Fatal(err)
	}
	if err := await.Recv(t, refreshed, "A's refresh"); err != nil {
		t.Fatal(err)
	}
	now, err := sa.vaultTokens.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if now.AccessToken == stale.AccessToken || !now.Expiry.After(time.Now()) {
		t.Fatalf("B's reject wrote the old grant over A's refresh: stored %v (the rejected one was %v)", now, stale)
	}
	if n := dex.Refreshes.Load(); n != 2 {
		t.Fatalf("refresh grants at Dex = %d, want 2", n)
	}
}
