package oauthuser_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRevokeAllResolvesOnlyWhatItUses: RevokeAll resolves a config's
// --oauth-client-secret reference only for a URL that has a grant, no
// registration in the keyring, and one client named for it by the
// configs: not for a URL without a grant, not where the keyring's
// registration is the grant's client, and not where two configs name
// different clients for the URL (which one got the grant is unknown, so
// neither's secret is sent, and the result says so).
func TestRevokeAllResolvesOnlyWhatItUses(t *testing.T) {
	ctx := await.Context(t)
	ts := httptest.NewServer(http.NotFoundHandler()) // no metadata: discovery fails at once
	defer ts.Close()
	sec := &mapSecrets{m: map[[2]string]string{}}
	kr := oauthuser.IndexedKeyring{KeyringStore: oauthuser.KeyringStore{Secrets: sec}, Index: filepath.Join(t.TempDir(), "shim-oauth", "servers")}
	noGrant, registered, clash, one := ts.URL+"/nogrant", ts.URL+"/registered", ts.URL+"/clash", ts.URL+"/one"
	for _, u := range []string{registered, clash, one} {
		if err := kr.KeyringStore.Put(ctx, oauthuser.Key{User: "local", Server: u}, oauthuser.Token{AccessToken: "at", RefreshToken: "rt"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := kr.KeyringStore.PutClient(ctx, registered, oauthuser.Registration{ClientID: "dyn-1"}); err != nil {
		t.Fatal(err)
	}
	var resolved []string
	resolve := func(_ context.Context, ref string) (string, error) {
		resolved = append(resolved, ref)
		return "cs-" + ref, nil
	}
	fr := func(u, id, ref string) oauthuser.Fronted {
		return oauthuser.Fronted{URL: u, ClientID: id, SecretRef: ref, Resolve: resolve}
	}
	revoked, err := kr.RevokeAll(ctx, "local", nil, []oauthuser.Fronted{
		fr(noGrant, "cfg", "file:nogrant"),
		fr(registered, "cfg", "file:registered"),
		fr(clash, "cfg-a", "file:a"), fr(clash, "cfg-b", "file:b"),
		fr(one, "cfg", "file:one"), fr(one, "", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resolved, []string{"file:one"}) {
		t.Errorf("references resolved: %q, want only file:one", resolved)
	}
	got := map[string]oauthuser.Revoked{}
	for _, r := range revoked {
		got[r.Server] = r
	}
	if len(revoked) != 3 {
		t.Fatalf("RevokeAll: %+v; want the three grants, the URL without one untouched", revoked)
	}
	if r := got[clash]; r.AtIssuer || !strings.Contains(r.LocalOnly, "name different OAuth clients") {
		t.Errorf("clashing configs: %+v", r)
	}
	for _, u := range []string{registered, clash, one} {
		if _, err := kr.KeyringStore.Get(ctx, oauthuser.Key{User: "local", Server: u}); err == nil {
			t.Errorf("the grant for %s is still in the keyring", u)
		}
	}
}
