package creds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
)

// TestOAuthUserRefreshKeepsIssuer: a grant refreshed from the vault stays
// bound to the authorization server and client that issued it
// (login/oauthuser refreshes and revokes a grant only there; a refresh
// that dropped the binding would leave it to whichever server came next).
func TestOAuthUserRefreshKeepsIssuer(t *testing.T) {
	refreshed := 0
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "rt-1" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		refreshed++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at-2","refresh_token":"rt-2","token_type":"Bearer","expires_in":3600}`))
	}))
	defer as.Close()
	kek, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	st, err := vault.OpenFile(filepath.Join(t.TempDir(), "vault.json"), kek)
	if err != nil {
		t.Fatal(err)
	}
	v := &vault.Vault{Store: st}
	ctx := context.Background()
	if err := v.PutToken(ctx, "ann", "s", vault.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(-time.Minute),
		Issuer: as.URL, ClientID: "gw"}); err != nil {
		t.Fatal(err)
	}
	in := &Injector{Vault: v, Secrets: &secretref.Resolver{Getenv: func(string) string { return "cs-1" }}}
	s := &catalog.Server{ID: "s", Auth: catalog.Auth{Type: catalog.AuthOAuthUser, TokenURL: as.URL, ClientID: "gw", ClientSecret: "env:CS"}}
	c, err := in.For(ctx, Request{Server: s, User: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "http://up.example/mcp", nil)
	if err := c.Apply(r); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer at-2" || refreshed != 1 {
		t.Fatalf("upstream Authorization = %q after %d refreshes, want the refreshed token after one", got, refreshed)
	}
	got, err := v.Token(ctx, "ann", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "rt-2" || got.Issuer != as.URL || got.ClientID != "gw" {
		t.Fatalf("stored grant after the refresh: refresh %q issuer %q client %q, want rt-2 bound to %s and gw", got.RefreshToken, got.Issuer, got.ClientID, as.URL)
	}
	// A grant another authorization server issued is not refreshed at the
	// one the catalog names now: its refresh token never reaches it.
	if err := v.PutToken(ctx, "bob", "s", vault.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(-time.Minute),
		Issuer: "https://other-as.example", ClientID: "gw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.For(ctx, Request{Server: s, User: "bob"}); err == nil || !strings.Contains(err.Error(), "another authorization server") {
		t.Fatalf("a grant of another authorization server: %v, want it refused", err)
	}
	if refreshed != 1 {
		t.Fatalf("the authorization server got %d refreshes, want only ann's", refreshed)
	}
}
