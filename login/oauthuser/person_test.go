package oauthuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// fakeIdP is an OpenID provider for the person check: discovery, keys,
// and a token endpoint that answers an ID token with the claims set for
// the next sign-in (and its nonce, taken from the authorization URL).
type fakeIdP struct {
	srv    *httptest.Server
	signer jose.Signer
	mu     sync.Mutex
	claims map[string]any
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdP{signer: signer}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "jwks_uri": f.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		claims := map[string]any{"iss": f.srv.URL, "aud": "gw-consent", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range f.claims {
			claims[k] = v
		}
		f.mu.Unlock()
		payload, _ := json.Marshal(claims)
		jws, err := f.signer.Sign(payload)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// personSignin plays a browser through the person check for the consent
// cr: StartPath (keeping the sign-in cookie as a browser at base would),
// the identity provider answering with claims, SigninPath; it returns the
// sign-in's answer.
func personSignin(t *testing.T, idp *fakeIdP, h http.Handler, base string, cr *oauthuser.ConsentRequired, claims map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	link, err := url.Parse(cr.URL)
	if err != nil {
		t.Fatal(err)
	}
	start := httptest.NewRecorder()
	h.ServeHTTP(start, httptest.NewRequest(http.MethodGet, oauthuser.StartPath+"?"+link.RawQuery, nil))
	if start.Code != http.StatusFound {
		t.Fatalf("start: %d %s", start.Code, start.Body)
	}
	authz, err := url.Parse(start.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]any{"nonce": authz.Query().Get("nonce")}
	for k, v := range claims {
		c[k] = v
	}
	idp.mu.Lock()
	idp.claims = c
	idp.mu.Unlock()
	// The browser sends the cookie back only where its path covers the
	// sign-in's address as the browser sees it (base + SigninPath).
	jar := browserJar(t, base, start.Result().Cookies())
	req := httptest.NewRequest(http.MethodGet, oauthuser.SigninPath+"?"+url.Values{"state": {authz.Query().Get("state")}, "code": {"c"}}.Encode(), nil)
	for _, ck := range jar.Cookies(mustURL(t, base+oauthuser.SigninPath)) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// installPerson makes m check people at idp, the gateway's public URL base.
func installPerson(t *testing.T, m *oauthuser.Manager, idp *fakeIdP, base string) http.Handler {
	t.Helper()
	p := &oauthuser.PersonCheck{Issuer: idp.srv.URL, ClientID: "gw-consent", ClientSecret: "s", BaseURL: base,
		UserOf: func(subject, email string) string {
			if email != "" {
				return email
			}
			return subject
		}}
	h, err := p.Install(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPersonCheckEmailVerified: the person check takes the ID token's
// e-mail as the person only when the provider states it verified; an
// e-mail whose verification is not stated (or false) does not make
// whoever signs in the person the link was made for.
func TestPersonCheckEmailVerified(t *testing.T) {
	idp := newFakeIdP(t)
	for _, c := range []struct {
		name   string
		claims map[string]any
		want   int
	}{
		{"verified", map[string]any{"sub": "s-alice", "email": "alice@example.com", "email_verified": true}, http.StatusFound},
		{"verification not stated", map[string]any{"sub": "s-mallory", "email": "alice@example.com"}, http.StatusForbidden},
		{"not verified", map[string]any{"sub": "s-mallory", "email": "alice@example.com", "email_verified": false}, http.StatusForbidden},
		{"subject only", map[string]any{"sub": "alice@example.com"}, http.StatusFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, ev, _ := newManager(t, "https://as.example/token")
			h := installPerson(t, m, idp, "https://gw.example")
			cr, err := m.ConsentURL(context.Background(), "alice@example.com", "gh")
			if err != nil {
				t.Fatal(err)
			}
			rec := personSignin(t, idp, h, "https://gw.example", cr, c.claims)
			if rec.Code != c.want {
				t.Fatalf("sign-in as %v: %d %s, want %d", c.claims, rec.Code, rec.Body, c.want)
			}
			if c.want == http.StatusForbidden && ev.last(oauthuser.EventConsentFailed).Reason != "other_user" {
				t.Errorf("refusal recorded as %+v, want other_user", ev.last(oauthuser.EventConsentFailed))
			}
		})
	}
}

// browserJar is a browser's cookie jar holding cookies that base set.
func browserJar(t *testing.T, base string, cookies []*http.Cookie) *cookiejar.Jar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	jar.SetCookies(mustURL(t, base+"/"), cookies)
	return jar
}

// TestPersonCheckCookiePaths: with the gateway published under a path
// (public_url https://gw.example/gw), or not, and servers whose redirect URLs
// differ, the browser sends the sign-in cookie back to the sign-in and the
// consent cookie to the redirect endpoint of the consent's own server, so
// the consent completes for each server.
func TestPersonCheckCookiePaths(t *testing.T) {
	idp := newFakeIdP(t)
	for _, base := range []string{"https://gw.example", "https://gw.example/gw"} {
		t.Run(base, func(t *testing.T) { testPersonCookiePaths(t, idp, base) })
	}
}

func testPersonCookiePaths(t *testing.T, idp *fakeIdP, base string) {
	as, calls := fakeAS(t, 200, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	ev := &eventLog{}
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, Sink: ev}
	redirects := map[string]string{"gh": base + "/oauth/callback", "jira": base + "/jira/oauth/callback"}
	for id, redirect := range redirects {
		if err := m.AddServer(id, oauthuser.Config{AuthURL: "https://as.example/authorize", TokenURL: as.URL, ClientID: "cid",
			RedirectURL: redirect, Scopes: []string{"repo"}}); err != nil {
			t.Fatal(err)
		}
	}
	h := installPerson(t, m, idp, base)
	for _, id := range []string{"gh", "jira"} {
		cr, err := m.ConsentURL(context.Background(), "alice@example.com", id)
		if err != nil {
			t.Fatal(err)
		}
		if want := base + oauthuser.StartPath + "?"; len(cr.URL) < len(want) || cr.URL[:len(want)] != want {
			t.Fatalf("%s: link %s, want it under %s", id, cr.URL, want)
		}
		rec := personSignin(t, idp, h, base, cr, map[string]any{"sub": "s-alice", "email": "alice@example.com", "email_verified": true})
		if rec.Code != http.StatusFound {
			t.Fatalf("%s: sign-in at %s%s: %d %s, want 302 to the authorization server", id, base, oauthuser.SigninPath, rec.Code, rec.Body)
		}
		// The browser comes back from the authorization server to the
		// server's redirect URL with the cookies whose path covers it.
		jar := browserJar(t, base, rec.Result().Cookies())
		callback := mustURL(t, redirects[id])
		req := httptest.NewRequest(http.MethodGet, "/oauth/callback?"+url.Values{"state": {mustURL(t, cr.URL).Query().Get("state")}, "code": {"c"}}.Encode(), nil)
		for _, ck := range jar.Cookies(callback) {
			req.AddCookie(ck)
		}
		got := httptest.NewRecorder()
		m.RedirectHandler().ServeHTTP(got, req)
		if got.Code != http.StatusOK {
			t.Errorf("%s: back at %s: %d %s (event %+v), want the grant", id, callback, got.Code, got.Body, ev.last(oauthuser.EventConsentFailed))
		}
	}
	if *calls != 2 {
		t.Errorf("token requests %d, want 2 (one per consent)", *calls)
	}
}

// TestPersonCheckTwoConsentsOneBrowser: a person handed two links (two
// servers, one redirect endpoint) opens both in one browser, then signs
// in for each in turn: neither sign-in nor consent cookie overwrites the
// other's, and both consents complete. A browser that comes back without
// having signed in for the consent is recorded as signin_missing, not as
// someone else.
func TestPersonCheckTwoConsentsOneBrowser(t *testing.T) {
	const base = "https://gw.example"
	idp := newFakeIdP(t)
	as, calls := fakeAS(t, 200, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	ev := &eventLog{}
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, Sink: ev}
	for _, id := range []string{"gh", "jira"} {
		if err := m.AddServer(id, oauthuser.Config{AuthURL: "https://as.example/authorize", TokenURL: as.URL, ClientID: "cid",
			RedirectURL: base + "/oauth/callback"}); err != nil {
			t.Fatal(err)
		}
	}
	h := installPerson(t, m, idp, base)
	jar := browserJar(t, base, nil)
	send := func(req *http.Request, at string) *httptest.ResponseRecorder {
		for _, ck := range jar.Cookies(mustURL(t, base+at)) {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		jar.SetCookies(mustURL(t, base+at), rec.Result().Cookies())
		return rec
	}
	type flight struct {
		cr           *oauthuser.ConsentRequired
		state, nonce string
	}
	var fl []flight
	for _, id := range []string{"gh", "jira"} {
		cr, err := m.ConsentURL(context.Background(), "alice@example.com", id)
		if err != nil {
			t.Fatal(err)
		}
		start := send(httptest.NewRequest(http.MethodGet, oauthuser.StartPath+"?"+mustURL(t, cr.URL).RawQuery, nil), oauthuser.StartPath)
		if start.Code != http.StatusFound {
			t.Fatalf("%s start: %d %s", id, start.Code, start.Body)
		}
		authz := mustURL(t, start.Header().Get("Location"))
		fl = append(fl, flight{cr, authz.Query().Get("state"), authz.Query().Get("nonce")})
	}
	var back []string // where each sign-in sends the browser: the authorization server's consent
	for i, f := range fl {
		idp.mu.Lock()
		idp.claims = map[string]any{"sub": "s-alice", "email": "alice@example.com", "email_verified": true, "nonce": f.nonce}
		idp.mu.Unlock()
		rec := send(httptest.NewRequest(http.MethodGet, oauthuser.SigninPath+"?"+url.Values{"state": {f.state}, "code": {"c"}}.Encode(), nil), oauthuser.SigninPath)
		if rec.Code != http.StatusFound {
			t.Fatalf("sign-in %d of two in flight: %d %s (event %+v)", i+1, rec.Code, rec.Body, ev.last(oauthuser.EventConsentFailed))
		}
		back = append(back, rec.Header().Get("Location"))
	}
	for i, loc := range back {
		state := mustURL(t, loc).Query().Get("state")
		req := httptest.NewRequest(http.MethodGet, "/oauth/callback?"+url.Values{"state": {state}, "code": {"c"}}.Encode(), nil)
		for _, ck := range jar.Cookies(mustURL(t, base+"/oauth/callback")) {
			req.AddCookie(ck)
		}
		got := httptest.NewRecorder()
		m.RedirectHandler().ServeHTTP(got, req)
		if got.Code != http.StatusOK {
			t.Errorf("consent %d back at the callback: %d %s (event %+v), want the grant", i+1, got.Code, got.Body, ev.last(oauthuser.EventConsentFailed))
		}
	}
	if *calls != 2 {
		t.Errorf("token requests %d, want 2 (one per consent)", *calls)
	}

	// A browser that did not sign in for a consent.
	cr, err := m.ConsentURL(context.Background(), "bob@example.com", "gh")
	if err != nil {
		t.Fatal(err)
	}
	link := mustURL(t, cr.URL)
	rec := httptest.NewRecorder()
	m.RedirectHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/callback?"+url.Values{"state": {link.Query().Get("state")}, "code": {"c"}}.Encode(), nil))
	if rec.Code != http.StatusForbidden || ev.last(oauthuser.EventConsentFailed).Reason != "signin_missing" {
		t.Errorf("no sign-in: %d, recorded %+v, want 403 signin_missing", rec.Code, ev.last(oauthuser.EventConsentFailed))
	}
}
