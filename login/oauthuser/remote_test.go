package oauthuser_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// readCountingStore counts the reads that reach the store (a keyring read is
// a D-Bus round trip).
type readCountingStore struct {
	oauthuser.MemoryStore
	gets atomic.Int32
}

func (s *readCountingStore) Get(ctx context.Context, k oauthuser.Key) (oauthuser.Token, error) {
	s.gets.Add(1)
	return s.MemoryStore.Get(ctx, k)
}

// TestRemoteReadsTheStoreOnce: a server that never challenges costs one
// read of the store per run, not one per request; with a grant, calls
// with its fresh token do not read the store either.
func TestRemoteReadsTheStoreOnce(t *testing.T) {
	ctx := context.Background()
	empty := &readCountingStore{}
	r := &oauthuser.Remote{Server: "http://127.0.0.1:1/mcp", User: "local", Store: empty, Config: oauthuser.Config{Resource: "http://127.0.0.1:1/mcp"}}
	defer r.Close()
	for range 100 {
		if v, err := r.Authorization(ctx); err != nil || v != "" {
			t.Fatalf("no grant: %q %v", v, err)
		}
	}
	if n := empty.gets.Load(); n != 1 {
		t.Errorf("100 requests without a grant read the store %d times, want 1", n)
	}

	granted := &readCountingStore{}
	k := oauthuser.Key{User: "local", Server: "http://127.0.0.1:1/mcp"}
	if err := granted.Put(ctx, k, oauthuser.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r2 := &oauthuser.Remote{Server: k.Server, User: "local", Store: granted,
		Config: oauthuser.Config{ClientID: "c", AuthURL: "http://127.0.0.1:1/authorize", TokenURL: "http://127.0.0.1:1/token", Resource: k.Server}}
	defer r2.Close()
	for range 100 {
		if v, err := r2.Authorization(ctx); err != nil || v != "Bearer at-1" {
			t.Fatalf("with a grant: %q %v", v, err)
		}
	}
	if n := granted.gets.Load(); n > 2 {
		t.Errorf("100 requests with a fresh grant read the store %d times, want at most 2", n)
	}
}

// challenge is a 401 to a tools/call, its WWW-Authenticate naming metaURL.
func challenge(t *testing.T, metaURL string) shim.Challenge {
	t.Helper()
	call, err := rpc.Parse([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if metaURL != "" {
		h.Set("WWW-Authenticate", `Bearer resource_metadata="`+metaURL+`"`)
	}
	return shim.Challenge{Status: http.StatusUnauthorized, Header: h, Call: call}
}

// TestRemoteListensOnlyForConsent: with a stored grant the shim opens no
// loopback listener and says nothing of a missing keyring; the first
// consent opens the listener (its link's redirect_uri is that listener)
// and says once that the grant lasts only while the shim runs.
func TestRemoteListensOnlyForConsent(t *testing.T) {
	ctx := context.Background()
	const server = "http://127.0.0.1:1/mcp"
	store := &oauthuser.MemoryStore{}
	if err := store.Put(ctx, oauthuser.Key{User: "local", Server: server}, oauthuser.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r := &oauthuser.Remote{Server: server, User: "local", Store: store, Log: &log, NoKeyring: "no D-Bus session bus",
		Config: oauthuser.Config{ClientID: "c", AuthURL: "http://127.0.0.1:1/authorize", TokenURL: "http://127.0.0.1:1/token", Resource: server}}
	defer r.Close()
	if v, err := r.Authorization(ctx); err != nil || v != "Bearer at-1" {
		t.Fatalf("with a grant: %q %v", v, err)
	}
	if u := r.RedirectURL(); u != "" {
		t.Errorf("a stored grant opened a listener at %s", u)
	}
	if log.Len() != 0 {
		t.Errorf("a stored grant logged:\n%s", log.String())
	}

	// The grant goes (revoked elsewhere): the server's 401 needs a consent.
	if err := store.Delete(ctx, oauthuser.Key{User: "local", Server: server}); err != nil {
		t.Fatal(err)
	}
	c := challenge(t, "")
	c.Sent = "Bearer at-1"
	res := r.Challenged(ctx, c)
	redirect := r.RedirectURL()
	if redirect == "" || !strings.HasPrefix(redirect, "http://127.0.0.1:") {
		t.Fatalf("no listener after a consent was asked for: %q", redirect)
	}
	if !strings.Contains(string(res.Answer), "redirect_uri="+url.QueryEscape(redirect)) {
		t.Errorf("the consent link does not come back to the listener %s:\n%s", redirect, res.Answer)
	}
	resp, err := http.Get(redirect + "?state=unknown&code=x")
	if err != nil {
		t.Fatalf("the listener does not answer: %v", err)
	}
	resp.Body.Close()
	r.Challenged(ctx, challenge(t, ""))
	if n := strings.Count(log.String(), "warning: no OS keyring (no D-Bus session bus)"); n != 1 {
		t.Errorf("the keyring warning was said %d times, want once at the consent:\n%s", n, log.String())
	}
}

// TestRemoteFollowsNewResourceMetadata: a later challenge naming another
// protected-resource metadata location (the server moved its metadata to
// another authorization server) is followed: its consent goes to the new
// authorization server, not the one the first challenge named.
func TestRemoteFollowsNewResourceMetadata(t *testing.T) {
	ctx := context.Background()
	var base string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/prm-a" || r.URL.Path == "/prm-b":
			as := base + "/as-" + strings.TrimPrefix(r.URL.Path, "/prm-")
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, base+"/mcp", as)
		case strings.HasPrefix(r.URL.Path, "/.well-known/oauth-authorization-server/as-"):
			as := base + strings.TrimPrefix(r.URL.Path, "/.well-known/oauth-authorization-server")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}`, as, as+"/authorize", as+"/token")
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	base = ts.URL
	r := &oauthuser.Remote{Server: base + "/mcp", User: "local", Store: &oauthuser.MemoryStore{},
		Config: oauthuser.Config{ClientID: "c", Resource: base + "/mcp"}}
	defer r.Close()
	for _, as := range []string{"a", "b"} {
		res := r.Challenged(ctx, challenge(t, base+"/prm-"+as))
		if want := base + "/as-" + as + "/authorize?"; !strings.Contains(string(res.Answer), want) {
			t.Errorf("challenge naming /prm-%s: the consent is not at %s:\n%s", as, want, res.Answer)
		}
	}
}
