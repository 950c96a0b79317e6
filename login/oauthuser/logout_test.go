package oauthuser_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// grantAt has the shim's Manager (its keyring store: kr, or kr without
// its index for a grant stored before the index existed) register at
// issuer and obtain a grant for server through the consent flow, which
// the issuer approves at once.
func grantAt(t *testing.T, store oauthuser.TokenStore, clients oauthuser.ClientStore, issuer, server string) oauthuser.Token {
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
	return tok
}

// introspect asks the issuer (RFC 7662) whether tok is active, as the
// client reg.
func introspect(t *testing.T, issuer string, reg oauthuser.Registration, tok string) bool {
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

// TestRevokeAllAtIssuer: logout's revocation of the shim's grants against
// node oidc-provider. Two grants: one noted in the shim's index, one
// stored before the index existed (found through the servers wrap
// fronts). RevokeAll revokes each at the issuer as the client the shim
// registered, and removes both with their clients and the index;
// introspection at the issuer then says both refresh tokens are inactive.
// An issuer without a revocation endpoint: the grant is removed here
// only, and RevokeAll says so.
func TestRevokeAllAtIssuer(t *testing.T) {
	issuer := oauthusertest.StartRevokingIssuer(t, true)
	ctx := await.Context(t)
	sec := &mapSecrets{m: map[[2]string]string{}}
	kr := oauthuser.IndexedKeyring{KeyringStore: oauthuser.KeyringStore{Secrets: sec}, Index: filepath.Join(t.TempDir(), "shim-oauth", "servers")}
	indexed, old, stranger := "https://notes.example/mcp", "https://old.example/mcp", "https://never.example/mcp"
	tokA := grantAt(t, kr, kr, issuer, indexed)
	tokB := grantAt(t, kr.KeyringStore, kr.KeyringStore, issuer, old) // before the index
	regA, _ := kr.GetClient(ctx, indexed)
	regB, _ := kr.GetClient(ctx, old)
	if got, _ := kr.Servers(); len(got) != 1 || got[0] != indexed {
		t.Fatalf("index: %q", got)
	}
	if !introspect(t, issuer, regA, tokA.RefreshToken) || !introspect(t, issuer, regB, tokB.RefreshToken) {
		t.Fatal("the grants are not active before logout")
	}

	revoked, err := kr.RevokeAll(ctx, "local", nil, []oauthuser.Fronted{{URL: old}, {URL: stranger}})
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 2 || revoked[0].Server != indexed || !revoked[0].AtIssuer || revoked[1].Server != old || !revoked[1].AtIssuer {
		t.Fatalf("RevokeAll: %+v; want both revoked at the issuer, the stranger untouched", revoked)
	}
	if introspect(t, issuer, regA, tokA.RefreshToken) || introspect(t, issuer, regB, tokB.RefreshToken) {
		t.Error("a refresh token is still active at the issuer after logout")
	}
	if introspect(t, issuer, regA, tokA.AccessToken) {
		t.Error("the access token of the revoked grant is still active at the issuer")
	}
	if len(sec.m) != 0 {
		t.Errorf("keyring items left after RevokeAll: %d", len(sec.m))
	}
	if got, _ := kr.Servers(); len(got) != 0 {
		t.Errorf("index after RevokeAll: %q", got)
	}

	// No revocation endpoint: removed here, and said so.
	plain := oauthusertest.StartRevokingIssuer(t, false)
	tokC := grantAt(t, kr, kr, plain, indexed)
	regC, _ := kr.GetClient(ctx, indexed)
	revoked, err = kr.RevokeAll(ctx, "local", nil, nil)
	if err != nil || len(revoked) != 1 || revoked[0].AtIssuer || !strings.Contains(revoked[0].LocalOnly, "offers no revocation endpoint") {
		t.Fatalf("RevokeAll without a revocation endpoint: %+v %v", revoked, err)
	}
	if !introspect(t, plain, regC, tokC.RefreshToken) {
		t.Error("the grant an issuer could not revoke is inactive: the test does not test what it says")
	}
	if _, err := kr.Get(ctx, oauthuser.Key{User: "local", Server: indexed}); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("the grant after RevokeAll: %v", err)
	}
}
