package oauthuser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/zalando/go-keyring"
)

// fakeAS is an authorization server whose token endpoint answers status
// and body; it counts token requests.
func fakeAS(t *testing.T, status int, body string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newManager(t *testing.T, tokenURL string) (*oauthuser.Manager, *eventLog, *clock) {
	t.Helper()
	ev := &eventLog{}
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, Sink: ev, Now: c.Now}
	if err := m.AddServer("gh", oauthuser.Config{
		AuthURL: "https://as.example/authorize", TokenURL: tokenURL, ClientID: "cid",
		RedirectURL: "https://gw.example/oauth/callback", Scopes: []string{"repo"},
	}); err != nil {
		t.Fatal(err)
	}
	return m, ev, c
}

// redirect visits the redirect handler with query q.
func redirect(m *oauthuser.Manager, q url.Values) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	m.RedirectHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/callback?"+q.Encode(), nil))
	return rec
}

func stateOf(t *testing.T, cr *oauthuser.ConsentRequired) string {
	t.Helper()
	u, err := url.Parse(cr.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		t.Fatalf("consent URL lacks PKCE or state: %s", cr.URL)
	}
	return q.Get("state")
}

func TestConsentURLIsSharedWhileInFlightAndExpires(t *testing.T) {
	m, _, c := newManager(t, "https://as.example/token")
	ctx := context.Background()
	a, err := m.ConsentURL(ctx, "u1", "gh")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.ConsentURL(ctx, "u1", "gh")
	other, _ := m.ConsentURL(ctx, "u2", "gh")
	if a.URL != b.URL || a.ElicitationID != b.ElicitationID || other.URL == a.URL || stateOf(t, other) == stateOf(t, a) {
		t.Fatalf("consents: same user %v, other user shares it %v", a.URL == b.URL, other.URL == a.URL)
	}
	c.add(oauthuser.DefaultConsentTTL)
	rec := redirect(m, url.Values{"state": {stateOf(t, a)}, "code": {"x"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no longer valid") {
		t.Fatalf("expired state: %d %s", rec.Code, rec.Body)
	}
	if fresh, _ := m.ConsentURL(ctx, "u1", "gh"); fresh.URL == a.URL {
		t.Error("an expired consent was handed out again")
	}
}

func TestRedirectErrors(t *testing.T) {
	m, ev, _ := newManager(t, "https://as.example/token")
	ctx := context.Background()
	cr, _ := m.ConsentURL(ctx, "u1", "gh")
	rec := redirect(m, url.Values{"state": {stateOf(t, cr)}, "error": {"access_denied"}, "error_description": {"<script>x</script>"}})
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "<script>") {
		t.Fatalf("denied: %d %s", rec.Code, rec.Body)
	}
	if e := ev.last(oauthuser.EventConsentFailed); e.Reason != "access_denied" || e.User != "u1" || e.ElicitationID != cr.ElicitationID {
		t.Errorf("consent_failed = %+v", e)
	}
	cr, _ = m.ConsentURL(ctx, "u1", "gh")
	redirect(m, url.Values{"state": {stateOf(t, cr)}, "error": {"Bad <b>code</b> with spaces"}})
	if e := ev.last(oauthuser.EventConsentFailed); e.Reason != "malformed_error" {
		t.Errorf("an attacker-chosen error code reached the audit trail: %q", e.Reason)
	}
	rec = redirect(m, url.Values{"state": {"forged"}, "code": {"c"}})
	if rec.Code != http.StatusBadRequest || ev.last(oauthuser.EventConsentFailed).Reason != "unknown_state" {
		t.Errorf("forged state: %d", rec.Code)
	}
	post := httptest.NewRecorder()
	m.RedirectHandler().ServeHTTP(post, httptest.NewRequest(http.MethodPost, "/oauth/callback", nil))
	if post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", post.Code)
	}
}

func TestRedirectForAnotherUserIsRefused(t *testing.T) {
	srv, calls := fakeAS(t, 200, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	m, ev, _ := newManager(t, srv.URL)
	m.CheckUser = func(r *http.Request, user string) error {
		if r.Header.Get("X-Browser-User") != user {
			return errors.New("other user")
		}
		return nil
	}
	cr, _ := m.ConsentURL(context.Background(), "u1", "gh")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/oauth/callback?"+url.Values{"state": {stateOf(t, cr)}, "code": {"c"}}.Encode(), nil)
	req.Header.Set("X-Browser-User", "u2")
	m.RedirectHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || *calls != 0 || ev.last(oauthuser.EventConsentFailed).Reason != "other_user" {
		t.Fatalf("another user's browser: %d, token requests %d", rec.Code, *calls)
	}
}

// An authorization server that fails (not one that refuses the refresh
// token) fails the call and keeps the grant: no consent loop on an outage.
func TestRefreshOutageFailsClosedAndKeepsGrant(t *testing.T) {
	srv, _ := fakeAS(t, 503, `{"error":"temporarily_unavailable"}`)
	m, _, c := newManager(t, srv.URL)
	k := oauthuser.Key{User: "u1", Server: "gh"}
	ctx := context.Background()
	m.Store.Put(ctx, k, oauthuser.Token{AccessToken: "old-access", RefreshToken: "the-refresh", Expiry: c.Now().Add(30 * time.Second)})
	_, err := m.Token(ctx, "u1", "gh")
	var cr *oauthuser.ConsentRequired
	if err == nil || errors.As(err, &cr) || strings.Contains(err.Error(), "the-refresh") || strings.Contains(err.Error(), "old-access") {
		t.Fatalf("err = %v, want a plain error without secrets", err)
	}
	if tok, err := m.Store.Get(ctx, k); err != nil || tok.RefreshToken != "the-refresh" {
		t.Errorf("grant after an outage: %v %v", tok, err)
	}
}

func TestRefreshRejectedMeansConsent(t *testing.T) {
	srv, _ := fakeAS(t, 400, `{"error":"invalid_grant"}`)
	m, ev, c := newManager(t, srv.URL)
	ctx := context.Background()
	m.Store.Put(ctx, oauthuser.Key{User: "u1", Server: "gh"}, oauthuser.Token{AccessToken: "a", RefreshToken: "r", Expiry: c.Now()})
	_, err := m.Token(ctx, "u1", "gh")
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) || ev.last(oauthuser.EventRefreshRejected).Reason != "invalid_grant" {
		t.Fatalf("err = %v", err)
	}
	if _, err := m.Token(ctx, "u1", "nope"); !errors.Is(err, oauthuser.ErrUnknownServer) {
		t.Errorf("unknown server: %v", err)
	}
}

func TestTokenPrintsNoSecret(t *testing.T) {
	tok := oauthuser.Token{AccessToken: "sekrit-access", RefreshToken: "sekrit-refresh"}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok)} {
		if strings.Contains(s, "sekrit") {
			t.Errorf("printed token shows a secret: %s", s)
		}
	}
}

func TestSupportsURLElicitation(t *testing.T) {
	for caps, want := range map[string]bool{
		`{"elicitation":{"url":{}}}`:             true,
		`{"elicitation":{"form":{}},"roots":{}}`: false,
		`{"Elicitation":{"url":{}}}`:             false, // a JavaScript client reads no capability here
		`{"elicitation":{"URL":{}}}`:             false,
		`{"elicitation":{"url":null}}`:           false,
		`{}`:                                     false,
	} {
		got, err := oauthuser.SupportsURLElicitation(json.RawMessage(caps))
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", caps, got, err, want)
		}
	}
	if _, err := oauthuser.SupportsURLElicitation(json.RawMessage(`{"elicitation":{},"elicitation":{"url":{}}}`)); err == nil {
		t.Error("duplicate members accepted")
	}
}

// The two answers read back with the go-sdk's own types.
func TestAnswers(t *testing.T) {
	cr := &oauthuser.ConsentRequired{Server: "gh", URL: "https://as.example/authorize?state=s", ElicitationID: "e1"}
	_, rpcErr := cr.Answer(true)
	var data struct {
		Elicitations []mcp.ElicitParams `json:"elicitations"`
	}
	if rpcErr == nil || rpcErr.Code != -32042 || json.Unmarshal(rpcErr.Data, &data) != nil ||
		len(data.Elicitations) != 1 || data.Elicitations[0].Mode != "url" || data.Elicitations[0].URL != cr.URL || data.Elicitations[0].ElicitationID != "e1" {
		t.Fatalf("rpc error = %+v", rpcErr)
	}
	res, rpcErr := cr.Answer(false)
	var r mcp.CallToolResult
	if rpcErr != nil || json.Unmarshal(res, &r) != nil || !r.IsError || !strings.Contains(resultText(&r), cr.URL) {
		t.Fatalf("tool result = %s", res)
	}
	if strings.Contains(cr.Error(), "state=") {
		t.Error("the error message carries the consent URL")
	}
}

func TestKeyringStore(t *testing.T) {
	keyring.MockInit()
	s := oauthuser.KeyringStore{Secrets: login.Keyring{Getenv: func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "unix:path=/mock"
		}
		return ""
	}}}
	ctx := context.Background()
	k := oauthuser.Key{User: "u1", Server: "gh"}
	if _, err := s.Get(ctx, k); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Fatalf("empty keyring: %v", err)
	}
	want := oauthuser.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Unix(1800000000, 0).UTC(), Scopes: []string{"repo"}}
	if err := s.Put(ctx, k, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, k); err != nil || got.AccessToken != "a" || got.RefreshToken != "r" || !got.Expiry.Equal(want.Expiry) || got.Scopes[0] != "repo" {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if _, err := s.Get(ctx, oauthuser.Key{User: "u2", Server: "gh"}); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("another user's grant: %v", err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("after delete: %v", err)
	}
	keyring.MockInitWithError(errors.New("org.freedesktop.secrets was not provided"))
	if err := s.Put(ctx, k, want); !errors.Is(err, login.ErrKeyringUnavailable) {
		t.Errorf("no keyring: %v", err)
	}
}

// With an RFC 7009 endpoint, Revoke revokes the refresh token there (as
// the client, Basic auth) before forgetting it; when that fails the grant
// is still removed here and the error says the token may live on.
func TestRevokeAtIssuer(t *testing.T) {
	var mu sync.Mutex
	var got url.Values
	var user, pass string
	status := http.StatusOK
	rev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		r.ParseForm()
		got = r.PostForm
		user, pass, _ = r.BasicAuth()
		w.WriteHeader(status)
	}))
	t.Cleanup(rev.Close)
	ev := &eventLog{}
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, Sink: ev}
	if err := m.AddServer("gh", oauthuser.Config{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token",
		RevocationURL: rev.URL, ClientID: "cid", ClientSecret: "csecret", RedirectURL: "https://gw.example/cb"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k := oauthuser.Key{User: "u1", Server: "gh"}
	m.Store.Put(ctx, k, oauthuser.Token{AccessToken: "a", RefreshToken: "r1"})
	if err := m.Revoke(ctx, "u1", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got.Get("token") != "r1" || got.Get("token_type_hint") != "refresh_token" || user != "cid" || pass != "csecret" {
		t.Errorf("revocation request: %v, basic %q", got, user)
	}
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if e := ev.last(oauthuser.EventRevoke); !e.AtIssuer {
		t.Errorf("revoke event = %+v, want AtIssuer", e)
	}
	m.Store.Put(ctx, k, oauthuser.Token{AccessToken: "a", RefreshToken: "r2"})
	err := m.Revoke(ctx, "u1", "gh")
	if err == nil || !strings.Contains(err.Error(), "may stay valid") || strings.Contains(err.Error(), "r2") {
		t.Fatalf("failed revocation: %v", err)
	}
	if _, err := m.Store.Get(ctx, k); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("the grant survived a failed revocation: %v", err)
	}
	if e := ev.last(oauthuser.EventRevoke); e.AtIssuer {
		t.Errorf("revoke event after a failure = %+v", e)
	}
}

// StepUp asks for the grant's scopes plus the missing ones, replacing a
// narrower consent in flight, and refuses to loop when the grant already
// holds what the server asks for.
func TestStepUp(t *testing.T) {
	m, ev, _ := newManager(t, "https://as.example/token")
	ctx := context.Background()
	narrow, _ := m.ConsentURL(ctx, "u1", "gh")
	m.Store.Put(ctx, oauthuser.Key{User: "u1", Server: "gh"}, oauthuser.Token{AccessToken: "a", Scopes: []string{"repo"}})
	cr, err := m.StepUp(ctx, "u1", "gh", []string{"repo", "admin:org"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cr.URL)
	if got := u.Query().Get("scope"); got != "repo admin:org" {
		t.Errorf("step-up scope = %q", got)
	}
	if rec := redirect(m, url.Values{"state": {stateOf(t, narrow)}, "code": {"c"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("the narrower consent still works: %d", rec.Code)
	}
	if again, _ := m.StepUp(ctx, "u1", "gh", []string{"admin:org"}); again.URL != cr.URL {
		t.Error("the same step-up made a second consent")
	}
	if e := ev.last(oauthuser.EventConsentRequested); len(e.Scopes) != 2 {
		t.Errorf("consent_requested scopes = %v", e.Scopes)
	}
	if _, err := m.StepUp(ctx, "u1", "gh", []string{"repo"}); !errors.Is(err, oauthuser.ErrScopeLoop) {
		t.Errorf("asking again for a granted scope: %v", err)
	}
}
