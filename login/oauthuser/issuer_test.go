package oauthuser_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// twoAS is an upstream whose protected-resource metadata (/prm-a, /prm-b,
// and at the well-known location /prm-a's) names one of two authorization
// servers, /as-a and /as-b, each with authorization, token and
// revocation endpoints. It records every request to a token or
// revocation endpoint with its client authentication and token.
type twoAS struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string // "as-b/token rt=... basic=..."
}

func newTwoAS(t *testing.T) *twoAS {
	t.Helper()
	s := &twoAS{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := s.URL
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/prm-a" || p == "/prm-b" || p == "/.well-known/oauth-protected-resource/mcp":
			as := base + "/as-a"
			if p == "/prm-b" {
				as = base + "/as-b"
			}
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, base+"/mcp", as)
		case strings.HasPrefix(p, "/.well-known/oauth-authorization-server/as-"):
			as := base + strings.TrimPrefix(p, "/.well-known/oauth-authorization-server")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"revocation_endpoint":%q,"response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}`,
				as, as+"/authorize", as+"/token", as+"/revoke")
		case strings.HasSuffix(p, "/token") || strings.HasSuffix(p, "/revoke"):
			_ = r.ParseForm()
			user, pass, _ := r.BasicAuth()
			s.mu.Lock()
			s.hits = append(s.hits, fmt.Sprintf("%s rt=%s token=%s client=%s:%s", strings.TrimPrefix(p, "/"), r.PostForm.Get("refresh_token"), r.PostForm.Get("token"), user, pass))
			s.mu.Unlock()
			if strings.HasSuffix(p, "/revoke") {
				return
			}
			as := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/token")
			fmt.Fprintf(w, `{"access_token":"at-%s-new","refresh_token":"rt-%s-new","token_type":"Bearer","expires_in":3600}`, as, as)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// at lists the recorded requests to endpoint prefix ("as-b/").
func (s *twoAS) at(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, h := range s.hits {
		if strings.HasPrefix(h, prefix) {
			out = append(out, h)
		}
	}
	return out
}

// TestRemoteKeepsTheGrantAtItsIssuer: the shim's stored grant was issued
// by as-a. A challenge naming as-a's metadata refreshes it there; a later
// challenge naming metadata whose authorization server is as-b asks for a
// new consent at as-b, and no request reaches as-b's token endpoint with
// the grant's refresh token. The grant stays stored.
func TestRemoteKeepsTheGrantAtItsIssuer(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			ctx := context.Background()
			up := newTwoAS(t)
			server := up.URL + "/mcp"
			store := &oauthuser.MemoryStore{}
			k := oauthuser.Key{User: "local", Server: server}
			grant := oauthuser.Token{AccessToken: "at-a", RefreshToken: "RT-A", Expiry: time.Now().Add(time.Hour), Issuer: up.URL + "/as-a", ClientID: "c"}
			if legacy {
				grant.Issuer, grant.ClientID = "", "" // stored before grants named their issuer
			}
			if err := store.Put(ctx, k, grant); err != nil {
				t.Fatal(err)
			}
			r := &oauthuser.Remote{Server: server, User: "local", Store: store, Config: oauthuser.Config{ClientID: "c", Resource: server}}
			defer r.Close()
			if v, err := r.Authorization(ctx); err != nil || v != "Bearer at-a" {
				t.Fatalf("stored grant: %q %v", v, err)
			}
			// switchToB challenges the request that sent sent with as-b's
			// metadata: the answer is a consent at as-b, and nothing
			// reaches as-b.
			switchToB := func(sent string) {
				t.Helper()
				c := challenge(t, up.URL+"/prm-b")
				c.Sent = sent
				res := r.Challenged(ctx, c)
				if res.Retry || !strings.Contains(string(res.Answer), up.URL+"/as-b/authorize?") {
					t.Fatalf("challenge naming as-b: retry %v, answer %s, want a consent at as-b", res.Retry, res.Answer)
				}
				if hits := up.at("as-b/"); len(hits) != 0 {
					t.Fatalf("as-b got a request with the grant issued by as-a: %q", hits)
				}
			}
			if legacy {
				// The first challenge names as-b's metadata at once: the
				// legacy grant is bound to the authorization server in
				// force before it (the well-known metadata's, as-a).
				switchToB("Bearer at-a")
				got, err := store.Get(ctx, k)
				if err != nil || got.RefreshToken != "RT-A" || got.Issuer != up.URL+"/as-a" || got.ClientID != "c" {
					t.Fatalf("legacy grant after the switch: %v %q %q, %v", got, got.Issuer, got.ClientID, err)
				}
				return
			}
			c := challenge(t, up.URL+"/prm-a")
			c.Sent = "Bearer at-a"
			if res := r.Challenged(ctx, c); !res.Retry {
				t.Fatalf("challenge naming as-a: %s, want a retry with a refreshed token", res.Answer)
			}
			if hits := up.at("as-a/token"); len(hits) != 1 || !strings.Contains(hits[0], "rt=RT-A ") {
				t.Fatalf("as-a token endpoint: %q, want one refresh with RT-A", hits)
			}
			switchToB("Bearer at-as-a-new")
			got, err := store.Get(ctx, k)
			if err != nil || got.RefreshToken != "rt-as-a-new" || got.Issuer != up.URL+"/as-a" {
				t.Fatalf("the grant of as-a after the switch: %v (issuer %q), %v", got, got.Issuer, err)
			}
		})
	}
}

// TestRemoteSecretNeedsIssuer: a client secret is never sent where the
// server's metadata points: without an issuer the shim refuses; with
// one, a challenge naming another authorization server changes nothing.
func TestRemoteSecretNeedsIssuer(t *testing.T) {
	ctx := context.Background()
	up := newTwoAS(t)
	server := up.URL + "/mcp"
	r := &oauthuser.Remote{Server: server, User: "local", Store: &oauthuser.MemoryStore{},
		Config: oauthuser.Config{ClientID: "c", ClientSecret: "SHARED-SECRET", Resource: server}}
	defer r.Close()
	res := r.Challenged(ctx, challenge(t, up.URL+"/prm-b"))
	if !strings.Contains(string(res.Answer), "the authorization server is not pinned") {
		t.Fatalf("secret without issuer: %s", res.Answer)
	}
	pinned := &oauthuser.Remote{Server: server, User: "local", Store: &oauthuser.MemoryStore{},
		Config: oauthuser.Config{ClientID: "c", ClientSecret: "SHARED-SECRET", Issuer: up.URL + "/as-a", Resource: server}}
	defer pinned.Close()
	for _, prm := range []string{"/prm-a", "/prm-b"} {
		res := pinned.Challenged(ctx, challenge(t, up.URL+prm))
		if !strings.Contains(string(res.Answer), up.URL+"/as-a/authorize?") {
			t.Fatalf("challenge naming %s: the consent is not at the pinned issuer:\n%s", prm, res.Answer)
		}
	}
	if hits := up.at("as-b/"); len(hits) != 0 {
		t.Fatalf("as-b got: %q", hits)
	}
}

// TestPinnedEndpointsTakeNothingFromMetadata: an authorization server
// pinned by its token endpoint and not its issuer is refused without the
// authorization endpoint; pinned by both, a revocation reaches only the
// configured revocation endpoint, or none: never the one the metadata of
// the server's authorization server names, which would get the refresh
// token with the client secret.
func TestPinnedEndpointsTakeNothingFromMetadata(t *testing.T) {
	ctx := context.Background()
	up := newTwoAS(t)
	var mu sync.Mutex
	var revoked []string
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		revoked = append(revoked, r.URL.Path+" "+user+":"+pass+" "+r.PostForm.Get("token"))
		mu.Unlock()
	}))
	defer real.Close()
	resource := up.URL + "/mcp" // its metadata names as-a (with a revocation endpoint)
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}}
	err := m.AddServer("s", oauthuser.Config{Resource: resource, TokenURL: real.URL + "/token", ClientID: "gw", ClientSecret: "SHARED-SECRET", RedirectURL: "https://gw.example/cb"})
	if err == nil || !strings.Contains(err.Error(), "token URL is set without the authorization URL or the issuer") {
		t.Fatalf("token URL only: %v", err)
	}
	for _, revocation := range []string{"", real.URL + "/revoke"} {
		m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}}
		if err := m.AddServer("s", oauthuser.Config{Resource: resource, AuthURL: real.URL + "/authorize", TokenURL: real.URL + "/token", RevocationURL: revocation,
			ClientID: "gw", ClientSecret: "SHARED-SECRET", RedirectURL: "https://gw.example/cb"}); err != nil {
			t.Fatal(err)
		}
		cr, err := m.ConsentURL(ctx, "alice", "s")
		if err != nil || !strings.HasPrefix(cr.URL, real.URL+"/authorize?") {
			t.Fatalf("consent: %v %v", cr, err)
		}
		if err := m.Store.Put(ctx, oauthuser.Key{User: "alice", Server: "s"}, oauthuser.Token{AccessToken: "at", RefreshToken: "REAL-RT"}); err != nil {
			t.Fatal(err)
		}
		if err := m.Revoke(ctx, "alice", "s"); err != nil {
			t.Fatalf("revoke (revocation %q): %v", revocation, err)
		}
		if hits := up.at(""); len(hits) != 0 {
			t.Fatalf("the upstream's authorization server got: %q", hits)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(revoked) != 1 || revoked[0] != "/revoke gw:SHARED-SECRET REAL-RT" {
		t.Errorf("the pinned authorization server got %q, want one revocation at the configured revocation_url only", revoked)
	}
}

// TestConsentRecordsTheIssuer: a grant obtained through the redirect
// records the authorization server and client that issued it.
func TestConsentRecordsTheIssuer(t *testing.T) {
	ctx := context.Background()
	up := newTwoAS(t)
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}}
	if err := m.AddServer("s", oauthuser.Config{Issuer: up.URL + "/as-a", ClientID: "c", RedirectURL: "https://gw.example/cb"}); err != nil {
		t.Fatal(err)
	}
	cr, err := m.ConsentURL(ctx, "alice", "s")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cr.URL)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.RedirectHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cb?code=x&state="+url.QueryEscape(u.Query().Get("state")), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("redirect: %d %s", rec.Code, rec.Body)
	}
	got, err := m.Store.Get(ctx, oauthuser.Key{User: "alice", Server: "s"})
	if err != nil || got.Issuer != up.URL+"/as-a" || got.ClientID != "c" {
		t.Fatalf("grant: %v issuer %q client %q, %v", got, got.Issuer, got.ClientID, err)
	}
}

// TestNewProcessRefreshesOnlyAtTheIssuer: a gateway started anew (a new
// Manager) discovers its server's authorization server again; when the
// metadata now names as-b, the stored grant issued by as-a is not
// refreshed there: the person is asked to consent at as-b, and as-b's
// token endpoint gets nothing.
func TestNewProcessRefreshesOnlyAtTheIssuer(t *testing.T) {
	ctx := context.Background()
	up := newTwoAS(t)
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, ProbeChallenge: true}
	if err := m.AddServer("s", oauthuser.Config{Resource: up.URL + "/mcp", ResourceMetadataURL: up.URL + "/prm-b", ClientID: "c", RedirectURL: "https://gw.example/cb"}); err != nil {
		t.Fatal(err)
	}
	k := oauthuser.Key{User: "alice", Server: "s"}
	if err := m.Store.Put(ctx, k, oauthuser.Token{AccessToken: "old", RefreshToken: "RT-FROM-AS-A", Expiry: time.Now().Add(-time.Minute), Issuer: up.URL + "/as-a", ClientID: "c"}); err != nil {
		t.Fatal(err)
	}
	var events []oauthuser.EventKind
	m.Sink = oauthuser.SinkFunc(func(_ context.Context, e oauthuser.Event) { events = append(events, e.Kind) })
	_, err := m.Token(ctx, "alice", "s")
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) || !strings.HasPrefix(cr.URL, up.URL+"/as-b/authorize?") {
		t.Fatalf("token: %v, want a consent at as-b", err)
	}
	if hits := up.at("as-b/"); len(hits) != 0 {
		t.Fatalf("as-b got the grant of as-a: %q", hits)
	}
	if len(events) == 0 || events[0] != oauthuser.EventOtherIssuer {
		t.Errorf("events %v, want other_issuer first", events)
	}
	if err := m.Revoke(ctx, "alice", "s"); err == nil || !strings.Contains(err.Error(), "it was issued by "+up.URL+"/as-a") {
		t.Errorf("revoke: %v, want it refused at as-b", err)
	}
	if hits := up.at(""); len(hits) != 0 {
		t.Fatalf("an authorization server got: %q", hits)
	}
}
