package state_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisConsentsAcrossReplicas: two gateway replicas (two Managers)
// share the consents in flight through a real redis-server. Replica A
// makes alice's consent link; the authorization server (Dex) sends her
// browser back to replica B, which redeems the code with the PKCE
// verifier A made and stores the grant; A then hands out alice's token.
// The same redirect replayed to A is refused (the state was taken), and a
// concurrent call on A while the link is out gets the same link.
func TestRedisConsentsAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	lnB := oauthusertest.Listen(t)
	redirect := "http://" + lnB.Addr().String() + "/oauth/callback"
	dex := oauthusertest.StartDex(t, redirect)
	upstream := oauthusertest.StartBearerServer(t, dex.Issuer, oauthusertest.ClientID)
	grants := &oauthuser.MemoryStore{} // the vault both replicas share
	replica := func() *oauthuser.Manager {
		m := &oauthuser.Manager{Store: grants, Pending: open(t, srv.URL()).Consents()}
		if err := m.AddServer("notes", oauthuser.Config{Issuer: dex.Issuer, ClientID: oauthusertest.ClientID, ClientSecret: oauthusertest.ClientSecret,
			Scopes: []string{"openid", "email", "offline_access"}, RedirectURL: redirect, Resource: upstream}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := replica(), replica()
	var mu sync.Mutex
	landed := "" // the redirect as B got it
	bHandler := b.RedirectHandler()
	serveOn(t, lnB, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		landed = r.URL.String()
		mu.Unlock()
		bHandler.ServeHTTP(w, r)
	}))

	_, err := a.Token(ctx, "alice", "notes")
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) {
		t.Fatalf("first token on A: %v, want a consent", err)
	}
	_, err = a.Token(ctx, "alice", "notes")
	var again *oauthuser.ConsentRequired
	if !errors.As(err, &again) || again.URL != cr.URL {
		t.Errorf("a second call while the link is out got another link")
	}
	// Replica B also sees A's link as the one in flight.
	onB, err := b.ConsentURL(ctx, "alice", "notes")
	if err != nil || onB.URL != cr.URL {
		t.Errorf("B's consent for alice: %v; want A's link", err)
	}

	// The browser follows the link; the redirect lands on B.
	status, page, err := oauthusertest.Consent(ctx, cr.URL)
	if err != nil || status != http.StatusOK {
		t.Fatalf("consent through B: %d %v\n%s", status, err, page)
	}
	tok, err := a.Token(ctx, "alice", "notes")
	if err != nil || tok == "" {
		t.Fatalf("A after the grant on B: %v", err)
	}
	// The same redirect again, to A: the state was taken.
	mu.Lock()
	replay := httptest.NewRequest(http.MethodGet, landed, nil)
	mu.Unlock()
	if !strings.Contains(replay.URL.RawQuery, "state=") {
		t.Fatalf("B got no redirect with a state: %q", replay.URL)
	}
	rec := httptest.NewRecorder()
	a.RedirectHandler().ServeHTTP(rec, replay)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("the redirect replayed to A: %d, want 400", rec.Code)
	}
}

// TestRedisConsentTakeOnce: many replicas taking one state at once: one
// gets the record, the others ErrNoPending (GETDEL).
func TestRedisConsentTakeOnce(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	c := open(t, srv.URL()).Consents()
	if err := c.Put(ctx, "state-1", "alice", "notes", []byte(`{"state":"state-1"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if rec, err := c.Current(ctx, "alice", "notes"); err != nil || string(rec) != `{"state":"state-1"}` {
		t.Fatalf("current: %q %v", rec, err)
	}
	var got, none atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		r := open(t, srv.URL()).Consents()
		wg.Go(func() {
			_, err := r.Take(ctx, "state-1")
			switch {
			case err == nil:
				got.Add(1)
			case errors.Is(err, oauthuser.ErrNoPending):
				none.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got.Load() != 1 || none.Load() != 7 {
		t.Errorf("took %d, refused %d; want 1 and 7", got.Load(), none.Load())
	}
	if _, err := c.Current(ctx, "alice", "notes"); !errors.Is(err, oauthuser.ErrNoPending) {
		t.Errorf("current after the take: %v", err)
	}
	// The store down: an error that says so, not "no consent".
	srv.Kill()
	if _, err := c.Take(ctx, "state-2"); err == nil || errors.Is(err, oauthuser.ErrNoPending) {
		t.Errorf("take with the store down: %v", err)
	}
}

func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
}

// TestRedisConsentSuperseded: a new consent of a user for a server
// deletes the one it supersedes (its link no longer redeems), as the
// memory store does; another user's or server's stays.
func TestRedisConsentSuperseded(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	a, b := open(t, srv.URL()).Consents(), open(t, srv.URL()).Consents()
	put := func(c state.Consents, st, user, server string) {
		t.Helper()
		if err := c.Put(ctx, st, user, server, []byte(`{"state":"`+st+`"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "state-1", "alice", "notes")
	put(a, "state-bob", "bob", "notes")
	put(a, "state-drive", "alice", "drive")
	put(b, "state-2", "alice", "notes") // on the other replica
	if _, err := a.Take(ctx, "state-1"); !errors.Is(err, oauthuser.ErrNoPending) {
		t.Fatalf("the superseded consent still redeems: %v", err)
	}
	if rec, err := a.Current(ctx, "alice", "notes"); err != nil || string(rec) != `{"state":"state-2"}` {
		t.Fatalf("current: %q %v", rec, err)
	}
	for _, st := range []string{"state-bob", "state-drive", "state-2"} {
		if rec, err := b.Take(ctx, st); err != nil || string(rec) != `{"state":"`+st+`"}` {
			t.Errorf("take %s: %q %v", st, rec, err)
		}
	}
	if d := dump(t, srv); strings.Contains(d, "state-") || strings.Contains(d, "alice") {
		t.Errorf("a state or user name in the store:\n%s", d)
	}
}

// TestRedisConsentsPerUser: one user has at most MaxConsentsPerUser
// consents in flight across the replicas; a superseding one and another
// user's still go in.
func TestRedisConsentsPerUser(t *testing.T) {
	srv := statetest.Start(t)
	ctx := await.Context(t)
	c := open(t, srv.URL()).Consents()
	for i := range state.MaxConsentsPerUser {
		if err := c.Put(ctx, fmt.Sprint("s", i), "alice", fmt.Sprint("server-", i), []byte("{}"), time.Minute); err != nil {
			t.Fatalf("consent %d: %v", i, err)
		}
	}
	err := c.Put(ctx, "one-more", "alice", "server-new", []byte("{}"), time.Minute)
	if !errors.Is(err, state.ErrTooManyConsents) || !strings.Contains(err.Error(), "retry once some are done or expired") {
		t.Fatalf("consent over the cap: %v", err)
	}
	if _, err := c.Take(ctx, "one-more"); !errors.Is(err, oauthuser.ErrNoPending) {
		t.Fatalf("a refused consent was kept: %v", err)
	}
	if err := c.Put(ctx, "s0-again", "alice", "server-0", []byte("{}"), time.Minute); err != nil {
		t.Fatalf("a consent superseding one in flight: %v", err)
	}
	if err := c.Put(ctx, "bob-1", "bob", "server-new", []byte("{}"), time.Minute); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// A consent done (its state taken) is no longer in flight.
	if _, err := c.Take(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "one-more", "alice", "server-new", []byte("{}"), time.Minute); err != nil {
		t.Fatalf("a consent once another was done: %v", err)
	}
	if err := c.Put(ctx, "two-more", "alice", "server-newer", []byte("{}"), time.Minute); !errors.Is(err, state.ErrTooManyConsents) {
		t.Fatalf("consent over the cap again: %v", err)
	}
}

// TestRedisConsentsSealed: the vault's consents store keeps each record
// (it holds the PKCE verifier) sealed with the vault's key and bound to
// its state: the store shows no verifier, and a record copied under
// another state does not open.
func TestRedisConsentsSealed(t *testing.T) {
	r := startReplicas(t)
	ctx := await.Context(t)
	a, b := r.store(t).Consents(), r.store(t).Consents()
	rec := []byte(`{"state":"st-1","verifier":"pkce-verifier-4f1d"}`)
	if err := a.Put(ctx, "st-1", "alice", "notes", rec, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, "st-bob", "bob", "notes", []byte(`{"verifier":"bob-verifier"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := dump(t, r.srv); strings.Contains(d, "verifier") {
		t.Fatalf("a consent record in the clear:\n%s", d)
	}
	if got, err := b.Current(ctx, "alice", "notes"); err != nil || string(got) != string(rec) {
		t.Fatalf("current on the other replica: %q %v", got, err)
	}
	// Bob's sealed record copied over alice's: it does not open as hers.
	raw := rawClient(t, r.srv)
	recordKey := func(st string) string {
		h := sha256.Sum256([]byte(st))
		return state.Prefix + "consent:" + hex.EncodeToString(h[:16])
	}
	aliceKey, bobKey := recordKey("st-1"), recordKey("st-bob")
	if raw.Exists(ctx, aliceKey, bobKey).Val() != 2 {
		t.Fatalf("consent keys: %q", raw.Keys(ctx, state.Prefix+"consent:*").Val())
	}
	raw.Set(ctx, aliceKey, raw.Get(ctx, bobKey).Val(), time.Minute)
	if _, err := b.Take(ctx, "st-1"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("a record moved to another state: %v", err)
	}
}
