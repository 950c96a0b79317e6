//go:build unix

package oauthuser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// memClients is a ClientStore in memory.
type memClients struct {
	mu sync.Mutex
	m  map[string]oauthuser.Registration
}

func (c *memClients) GetClient(_ context.Context, server string) (oauthuser.Registration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[server]
	if !ok {
		return r, oauthuser.ErrNoClient
	}
	return r, nil
}

func (c *memClients) PutClient(_ context.Context, server string, r oauthuser.Registration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]oauthuser.Registration{}
	}
	c.m[server] = r
	return nil
}

// dcrServer is an authorization server that registers every client (RFC
// 7591, public clients) and gives a token naming the client to any code.
func dcrServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	n := 0
	var base string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/prm":
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, base+"/mcp", base+"/as")
		case "/.well-known/oauth-authorization-server/as":
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"registration_endpoint":%q,"response_types_supported":["code"],"code_challenge_methods_supported":["S256"],"token_endpoint_auth_methods_supported":["none"]}`,
				base+"/as", base+"/as/authorize", base+"/as/token", base+"/as/register")
		case "/as/register":
			var meta struct {
				RedirectURIs []string `json:"redirect_uris"`
			}
			_ = json.NewDecoder(r.Body).Decode(&meta)
			mu.Lock()
			n++
			id := fmt.Sprintf("client-%d", n)
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":%q,"token_endpoint_auth_method":"none"}`, id, meta.RedirectURIs)
		case "/as/token":
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","refresh_token":"rt","expires_in":3600}`, r.PostForm.Get("client_id"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	base = ts.URL
	return ts
}

var authLink = regexp.MustCompile(`http://127\.0\.0\.1:\d+/as/authorize\?\S+`)

// linkOf is the consent link of a tool error answer.
func linkOf(t *testing.T, answer []byte) *url.URL {
	t.Helper()
	var res struct {
		Result struct {
			Content []struct{ Text string } `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(answer, &res); err != nil || len(res.Result.Content) == 0 {
		t.Fatalf("not a tool error with the link: %s", answer)
	}
	u, err := url.Parse(authLink.FindString(res.Result.Content[0].Text))
	if err != nil || u.Host == "" {
		t.Fatalf("no consent link in %q", res.Result.Content[0].Text)
	}
	return u
}

// TestKeepAnswersWithTheClientOfItsGrant: a shim hands its consent (of a
// dynamically registered client) to a keeper and ends; a second shim,
// finding the registered redirect port held by the keeper, listens on
// another and registers another client. The first link, answered by the
// keeper, stores the grant together with the client that got it, so the
// next shim refreshes with the right client; then the keeper returns.
func TestKeepAnswersWithTheClientOfItsGrant(t *testing.T) {
	ctx := await.Context(t)
	ts := dcrServer(t)
	server := ts.URL + "/mcp"
	store, clients := &oauthuser.MemoryStore{}, &memClients{}
	kept := make(chan error, 1)
	keep := func(ln net.Listener) (io.WriteCloser, int, error) {
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			return nil, 0, err
		}
		defer f.Close()
		dup, err := net.FileListener(f)
		if err != nil {
			return nil, 0, err
		}
		pr, pw := io.Pipe()
		go func() {
			kept <- oauthuser.Keep(ctx, oauthuser.KeepOptions{In: pr, Listener: dup, Store: store, Clients: clients})
			dup.Close()
		}()
		return pw, 0, nil
	}
	first := &oauthuser.Remote{Server: server, User: "local", Store: store, Clients: clients, Keep: keep, Config: oauthuser.Config{Resource: server}}
	linkA := linkOf(t, first.Challenged(ctx, challenge(t, ts.URL+"/prm")).Answer)
	redirectA := first.RedirectURL()
	if linkA.Query().Get("client_id") != "client-1" || linkA.Query().Get("redirect_uri") != redirectA {
		t.Fatalf("first link %s: want client-1 and redirect %s", linkA, redirectA)
	}
	if err := first.Close(); err != nil { // ends with the consent pending: handed over
		t.Fatal(err)
	}

	second := &oauthuser.Remote{Server: server, User: "local", Store: store, Clients: clients, Config: oauthuser.Config{Resource: server}}
	defer second.Close()
	linkB := linkOf(t, second.Challenged(ctx, challenge(t, ts.URL+"/prm")).Answer)
	if got := linkB.Query().Get("redirect_uri"); got == redirectA || got != second.RedirectURL() {
		t.Fatalf("second link redirects to %s; want its own listener, not the keeper's %s", got, redirectA)
	}
	if reg, _ := clients.GetClient(ctx, server); reg.ClientID != "client-2" {
		t.Fatalf("the second shim's registration: %+v, want client-2", reg)
	}

	resp, err := http.Get(redirectA + "?code=code-a&state=" + url.QueryEscape(linkA.Query().Get("state")))
	if err != nil {
		t.Fatalf("the keeper does not answer the first link's redirect: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the keeper answered %d", resp.StatusCode)
	}
	if err := await.Recv(t, kept, "the keeper to return after its consent"); err != nil {
		t.Fatalf("keeper: %v", err)
	}
	tok, err := store.Get(ctx, oauthuser.Key{User: "local", Server: server})
	if err != nil || tok.AccessToken != "at-client-1" {
		t.Fatalf("grant after the keeper: %v %v", tok, err)
	}
	if reg, _ := clients.GetClient(ctx, server); reg.ClientID != "client-1" || reg.RedirectURL != redirectA {
		t.Errorf("the stored client after the keeper's grant: %+v; want client-1 at %s, the grant's", reg, redirectA)
	}
}

// TestKeepStops: a keeper told to stop returns at once, without serving,
// and a keeper whose shim ends with nothing handed out returns too.
func TestKeepStops(t *testing.T) {
	ctx := await.Context(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, in := range []string{`{"stop":true}` + "\n" + `{"consent":{}}`, ""} {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- oauthuser.Keep(ctx, oauthuser.KeepOptions{In: pr, Listener: ln, Store: &oauthuser.MemoryStore{}})
		}()
		go func() { io.WriteString(pw, in); pw.Close() }()
		if err := await.Recv(t, done, "Keep to return"); err != nil {
			t.Errorf("Keep on %q: %v", in, err)
		}
	}
}
