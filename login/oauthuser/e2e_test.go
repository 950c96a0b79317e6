package oauthuser_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

const alice = "https://idp.example/|alice"

// A client with URL elicitation: the first call gets -32042, the client
// opens the consent URL (Dex login), the gateway stores the tokens and
// completes the elicitation, the client retries and the upstream, which
// requires Dex bearer tokens, answers as the user.
func TestConsentByURLElicitationThenRetryWorks(t *testing.T) {
	r := newRig(t)
	s, cs := r.connect(t, alice, true)
	res := r.call(t, s)
	if res.IsError || resultText(res) != oauthusertest.User {
		t.Fatalf("result = %+v, want the upstream's answer %q", res, oauthusertest.User)
	}
	if cs.n.Load() != 1 || r.upstream.Calls.Load() != 1 {
		t.Fatalf("consents = %d, upstream calls = %d; want 1 and 1", cs.n.Load(), r.upstream.Calls.Load())
	}
	page := await.Recv(t, cs.pages, "the consent page")
	tok, err := r.store.MemoryStore.Get(context.Background(), oauthuser.Key{User: alice, Server: upstreamID})
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("stored grant = %v, %v; want one with a refresh token", tok, err)
	}
	if !strings.Contains(page, "You can close this tab") || strings.Contains(page, tok.AccessToken) || strings.Contains(page, tok.RefreshToken) {
		t.Errorf("consent page shows a token or no closing line:\n%s", page)
	}
	req, grant := r.events.last(oauthuser.EventConsentRequested), r.events.last(oauthuser.EventGrant)
	if req.ElicitationID == "" || grant.ElicitationID != req.ElicitationID || grant.User != alice || grant.Server != upstreamID {
		t.Errorf("consent_requested %+v and grant %+v do not name the same consent", req, grant)
	}
	if r.events.count(oauthuser.EventUse) != 1 {
		t.Errorf("use events = %d, want 1", r.events.count(oauthuser.EventUse))
	}
	// A second call uses the stored grant: no consent, no refresh.
	if resultText(r.call(t, s)) != oauthusertest.User || cs.n.Load() != 1 || r.dex.Refreshes.Load() != 0 {
		t.Errorf("second call: consents %d, refreshes %d", cs.n.Load(), r.dex.Refreshes.Load())
	}
}

var consentURL = regexp.MustCompile(`http://\S+/auth\?\S+`)

// A client without URL elicitation gets a tool error carrying the consent
// URL; once the user has consented there, the retried call works. The
// link works once.
func TestConsentByToolErrorForClientsWithoutElicitation(t *testing.T) {
	r := newRig(t)
	s, _ := r.connect(t, alice, false)
	res := r.call(t, s)
	link := consentURL.FindString(resultText(res))
	if !res.IsError || link == "" {
		t.Fatalf("result = %+v, want a tool error with the consent URL", res)
	}
	status, page, err := oauthusertest.Consent(await.Context(t), link)
	if err != nil || status != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s", status, err, page)
	}
	if res := r.call(t, s); res.IsError || resultText(res) != oauthusertest.User {
		t.Fatalf("retried call = %+v", res)
	}
	status, page, err = oauthusertest.Consent(await.Context(t), link)
	if err != nil || status != http.StatusBadRequest || !strings.Contains(page, "no longer valid") {
		t.Errorf("second use of the consent link: %d %v\n%s", status, err, page)
	}
	if r.events.last(oauthuser.EventConsentFailed).Reason != "unknown_state" {
		t.Errorf("a replayed state left no consent_failed event")
	}
}

// expire makes the stored access token expired, as time would: the
// manager must refresh before the next use.
func expire(t *testing.T, r *rig) oauthuser.Token {
	t.Helper()
	k := oauthuser.Key{User: alice, Server: upstreamID}
	tok, err := r.store.MemoryStore.Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	tok.Expiry = time.Now().Add(-time.Second)
	if err := r.store.MemoryStore.Put(context.Background(), k, tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// Five calls at once on an expired access token: exactly one refresh
// grant reaches Dex (the others wait for it and use its result), and all
// five get through to the upstream with the new token.
func TestRefreshAcrossExpiryFiveCallsOneGrant(t *testing.T) {
	r := newRig(t)
	s := r.consentOnce(t, alice)
	old := expire(t, r)

	release := make(chan struct{})
	hold := func() { <-release }
	r.dex.HoldRefresh.Store(&hold)
	base := r.store.gets.Load()
	var wg sync.WaitGroup
	results := make(chan string, 5)
	for range 5 {
		wg.Go(func() {
			res, err := s.CallTool(await.Context(t), &mcpCall)
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- resultText(res)
		})
	}
	// Five first reads, and the re-read of the one refreshing under the
	// lock: every caller is past its fast path while the grant is held.
	await.Until(t, "five callers waiting on one refresh", func() bool { return r.store.gets.Load() >= base+6 })
	close(release)
	wg.Wait()
	close(results)
	for got := range results {
		if got != oauthusertest.User {
			t.Errorf("concurrent call = %q", got)
		}
	}
	if n := r.dex.Refreshes.Load(); n != 1 {
		t.Errorf("refresh grants at Dex = %d, want 1", n)
	}
	if n := r.events.count(oauthuser.EventRefresh); n != 1 {
		t.Errorf("refresh events = %d, want 1", n)
	}
	now, _ := r.store.MemoryStore.Get(context.Background(), oauthuser.Key{User: alice, Server: upstreamID})
	if now.AccessToken == old.AccessToken || now.RefreshToken == old.RefreshToken || !now.Expiry.After(time.Now()) {
		t.Errorf("the grant was not renewed and rotated: %v -> %v", old, now)
	}
	if r.upstream.Calls.Load() != 6 {
		t.Errorf("upstream calls = %d, want 6", r.upstream.Calls.Load())
	}
}

// A real expiry: Dex's access tokens live 3 s here. Once the upstream
// refuses the first token (it expired, by its own clock), the next call
// refreshes it with one refresh grant and goes through.
func TestRefreshAcrossRealExpiry(t *testing.T) {
	r := newRigExpiry(t, "3s")
	r.mgr.Leeway = time.Nanosecond // refresh only once expired, as the upstream sees it
	s := r.consentOnce(t, alice)
	first, err := r.store.MemoryStore.Get(context.Background(), oauthuser.Key{User: alice, Server: upstreamID})
	if err != nil {
		t.Fatal(err)
	}
	// Only the upstream's 401 says the token expired: any other failure (a
	// slow answer on a loaded machine) is no sign of it.
	await.Until(t, "the upstream refusing the first access token with 401", func() bool {
		return upstreamStatus(t, r.upstreamURL, first.AccessToken) == http.StatusUnauthorized
	})
	if got := resultText(r.call(t, s)); got != oauthusertest.User {
		t.Fatalf("call after expiry = %q", got)
	}
	if n := r.dex.Refreshes.Load(); n != 1 {
		t.Errorf("refresh grants = %d, want 1", n)
	}
}

// Two processes (two managers sharing the store and the lock directory)
// refreshing the same expired grant at once spend its refresh token once.
func TestTwoProcessesOneRefresh(t *testing.T) {
	r := newRig(t)
	r.consentOnce(t, alice)
	expire(t, r)
	other := &oauthuser.Manager{Store: r.store, LockDir: r.mgr.LockDir}
	if err := other.AddServer(upstreamID, r.cfg); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	hold := func() { <-release }
	r.dex.HoldRefresh.Store(&hold)
	base := r.store.gets.Load()
	errs := make(chan error, 2)
	for _, m := range []*oauthuser.Manager{r.mgr, other} {
		go func() {
			_, err := m.Token(await.Context(t), alice, upstreamID)
			errs <- err
		}()
	}
	// The second's first read, and the first's read and re-read.
	await.Until(t, "both processes past their first read", func() bool { return r.store.gets.Load() >= base+3 })
	close(release)
	for range 2 {
		if err := await.Recv(t, errs, "a token"); err != nil {
			t.Errorf("token: %v\ndex log:\n%s", err, r.dex.Log)
		}
	}
	if n := r.dex.Refreshes.Load(); n != 1 {
		t.Errorf("refresh grants at Dex = %d, want 1", n)
	}
}

// A refresh token the authorization server no longer honours (here one
// already rotated away) leads back to consent: the grant is dropped, the
// call is answered with a consent, and after it the call works again.
func TestRevokedRefreshTokenLeadsBackToConsent(t *testing.T) {
	r := newRig(t)
	s := r.consentOnce(t, alice)
	stale := expire(t, r)
	if _, err := r.mgr.Token(await.Context(t), alice, upstreamID); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	k := oauthuser.Key{User: alice, Server: upstreamID}
	if err := r.store.MemoryStore.Put(context.Background(), k, stale); err != nil {
		t.Fatal(err)
	}
	_, err := r.mgr.Token(await.Context(t), alice, upstreamID)
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) || cr.URL == "" {
		t.Fatalf("token with a dead refresh token: %v, want ConsentRequired", err)
	}
	if strings.Contains(err.Error(), stale.RefreshToken) || strings.Contains(err.Error(), cr.URL) {
		t.Errorf("the error shows a secret: %v", err)
	}
	if e := r.events.last(oauthuser.EventRefreshRejected); e.Reason == "" || e.User != alice {
		t.Errorf("refresh_rejected event = %+v", e)
	}
	if _, err := r.store.MemoryStore.Get(context.Background(), k); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("the dead grant is still stored: %v", err)
	}
	s2, cs := r.connect(t, alice, true)
	if got := resultText(r.call(t, s2)); got != oauthusertest.User || cs.n.Load() != 1 {
		t.Errorf("after consent again: %q with %d consents", got, cs.n.Load())
	}
	_ = s
}

// Revoke (logout, offboarding) removes the grant: the next call needs
// consent again. Dex offers no RFC 7009 endpoint, so the event says the
// token was not revoked at the issuer.
func TestRevokeLeadsBackToConsent(t *testing.T) {
	r := newRig(t)
	r.consentOnce(t, alice)
	if err := r.mgr.Revoke(await.Context(t), alice, ""); err != nil {
		t.Fatal(err)
	}
	if e := r.events.last(oauthuser.EventRevoke); e.User != alice || e.Server != upstreamID || e.AtIssuer {
		t.Errorf("revoke event = %+v", e)
	}
	_, err := r.mgr.Token(await.Context(t), alice, upstreamID)
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) {
		t.Fatalf("token after revoke: %v, want ConsentRequired", err)
	}
}

// upstreamStatus is the HTTP status the upstream answers an initialize
// sent with token.
func upstreamStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, url, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
