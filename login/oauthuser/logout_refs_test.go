package oauthuser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	// An authorization server for every path of ts: its metadata, and a
	// revocation endpoint noting the client that asks.
	var ts *httptest.Server
	var asked []string // client id:secret of each revocation
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource/"):
			res := ts.URL + "/" + strings.TrimPrefix(r.URL.Path, "/.well-known/oauth-protected-resource/")
			_, _ = fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, res, ts.URL)
		case r.URL.Path == "/.well-known/oauth-authorization-server":
			_, _ = fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/authorize","token_endpoint":"%[1]s/token","revocation_endpoint":"%[1]s/revoke","response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}`, ts.URL)
		case r.URL.Path == "/revoke":
			_ = r.ParseForm()
			id, secret, ok := r.BasicAuth()
			if ok { // form-encoded (RFC 6749 2.3.1)
				id, _ = url.QueryUnescape(id)
				secret, _ = url.QueryUnescape(secret)
			} else {
				id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
			}
			asked = append(asked, id+":"+secret)
		default:
			http.NotFound(w, r)
		}
	}))
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
		f := oauthuser.Fronted{URL: u, ClientID: id, SecretRef: ref, Resolve: resolve}
		if ref != "" {
			f.Issuer = ts.URL // a secret comes with the issuer it is registered at
		}
		return f
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
	slices.Sort(asked)
	if !slices.Equal(asked, []string{"cfg:cs-file:one", "dyn-1:"}) {
		t.Errorf("revocations asked for by %q; want the config's client with its resolved secret for one, the registration for registered", asked)
	}
	if r := got[one]; !r.AtIssuer {
		t.Errorf("the grant of the one configured client: %+v", r)
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
