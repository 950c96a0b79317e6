package oauthusertest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// Grant has a Manager storing in store and clients (the shim's keyring
// store, or one without its index for a grant stored before the index
// existed) register at issuer (StartRevokingIssuer's, which approves at
// once) and obtain a grant for server through the consent flow, for the
// user "local". It returns the grant and the client registered.
func Grant(t testing.TB, store oauthuser.TokenStore, clients oauthuser.ClientStore, issuer, server string) (oauthuser.Token, oauthuser.Registration) {
	t.Helper()
	ctx := await.Context(t)
	m := &oauthuser.Manager{Store: store, Clients: clients}
	cb := httptest.NewServer(m.RedirectHandler())
	t.Cleanup(cb.Close)
	if err := m.AddServer(server, oauthuser.Config{Issuer: issuer, Scopes: []string{"openid", "offline_access"}, RedirectURL: cb.URL + "/callback"}); err != nil {
		t.Fatal(err)
	}
	cr, err := m.ConsentURL(ctx, "local", server)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(cr.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), cb.URL) {
		t.Fatalf("consent ended at %s with %s", resp.Request.URL, resp.Status)
	}
	tok, err := store.Get(ctx, oauthuser.Key{User: "local", Server: server})
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("the grant for %s: %v (refresh token issued: %v)", server, err, tok.RefreshToken != "")
	}
	reg, err := clients.GetClient(ctx, server)
	if err != nil {
		t.Fatalf("the client registered for %s: %v", server, err)
	}
	return tok, reg
}

// Introspect asks issuer (RFC 7662) whether tok is active, as the client
// reg.
func Introspect(t testing.TB, issuer string, reg oauthuser.Registration, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token/introspection", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(reg.ClientID), url.QueryEscape(reg.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active *bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Active == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %s, %v", resp.Status, err)
	}
	return *out.Active
}
