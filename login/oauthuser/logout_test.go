package oauthuser_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

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
	tokA, regA := oauthusertest.Grant(t, kr, kr, issuer, indexed)
	tokB, regB := oauthusertest.Grant(t, kr.KeyringStore, kr.KeyringStore, issuer, old) // before the index
	if got, _ := kr.Servers(); len(got) != 1 || got[0] != indexed {
		t.Fatalf("index: %q", got)
	}
	if !oauthusertest.Introspect(t, issuer, regA, tokA.RefreshToken) || !oauthusertest.Introspect(t, issuer, regB, tokB.RefreshToken) {
		t.Fatal("the grants are not active before logout")
	}

	revoked, err := kr.RevokeAll(ctx, "local", nil, []oauthuser.Fronted{{URL: old}, {URL: stranger}})
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 2 || revoked[0].Server != indexed || !revoked[0].AtIssuer || revoked[1].Server != old || !revoked[1].AtIssuer {
		t.Fatalf("RevokeAll: %+v; want both revoked at the issuer, the stranger untouched", revoked)
	}
	if oauthusertest.Introspect(t, issuer, regA, tokA.RefreshToken) || oauthusertest.Introspect(t, issuer, regB, tokB.RefreshToken) {
		t.Error("a refresh token is still active at the issuer after logout")
	}
	if oauthusertest.Introspect(t, issuer, regA, tokA.AccessToken) {
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
	tokC, regC := oauthusertest.Grant(t, kr, kr, plain, indexed)
	revoked, err = kr.RevokeAll(ctx, "local", nil, nil)
	if err != nil || len(revoked) != 1 || revoked[0].AtIssuer || !strings.Contains(revoked[0].LocalOnly, "offers no revocation endpoint") {
		t.Fatalf("RevokeAll without a revocation endpoint: %+v %v", revoked, err)
	}
	if !oauthusertest.Introspect(t, plain, regC, tokC.RefreshToken) {
		t.Error("the grant an issuer could not revoke is inactive: the test does not test what it says")
	}
	if _, err := kr.Get(ctx, oauthuser.Key{User: "local", Server: indexed}); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("the grant after RevokeAll: %v", err)
	}
}
