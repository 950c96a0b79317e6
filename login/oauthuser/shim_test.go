package oauthuser_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/zalando/go-keyring"
)

// The shim's case: a remote server it fronts directly, a public client
// with a loopback redirect, the authorization server found from the
// server's own protected-resource metadata (no issuer configured), and the
// grant kept in the OS keyring (go-keyring's mock here, never the real
// one).
func TestShimFlowKeyringLoopbackDiscoveredIssuer(t *testing.T) {
	ctx := await.Context(t)
	dex := oauthusertest.StartDex(t, "http://127.0.0.1:1/unused")
	// The remote server runs as its own process, from testdata.
	upURL := oauthusertest.StartBearerServer(t, dex.Issuer, oauthusertest.PublicClientID)

	keyring.MockInit()
	store := oauthuser.KeyringStore{Secrets: login.Keyring{Getenv: func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "unix:path=/mock"
		}
		return ""
	}}}
	cbLn := oauthusertest.Listen(t)
	ev := &eventLog{}
	m := &oauthuser.Manager{Store: store, Sink: ev, LockDir: t.TempDir()}
	if err := m.AddServer("remote", oauthuser.Config{
		ClientID: oauthusertest.PublicClientID, Scopes: []string{"openid", "email", "offline_access"},
		RedirectURL: "http://" + cbLn.Addr().String() + "/callback", Resource: upURL,
	}); err != nil {
		t.Fatal(err)
	}
	serve(t, cbLn, m.RedirectHandler())

	_, err := m.Token(ctx, "local-user", "remote")
	var cr *oauthuser.ConsentRequired
	if !errors.As(err, &cr) || !strings.HasPrefix(cr.URL, dex.Issuer+"/auth?") {
		t.Fatalf("first token: %v, want a consent at %s", err, dex.Issuer)
	}
	status, page, err := oauthusertest.Consent(ctx, cr.URL)
	if err != nil || status != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s", status, err, page)
	}
	stored, err := keyring.Get("mcpgov-oauth:remote", "local-user")
	if err != nil || !strings.Contains(stored, "refresh_token") {
		t.Fatalf("keyring item: %v", err)
	}
	tok, err := m.Token(ctx, "local-user", "remote")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := callUpstream(ctx, upURL, tok); err != nil || got != oauthusertest.User {
		t.Fatalf("upstream with the token: %q %v", got, err)
	}
	if _, err := callUpstream(ctx, upURL, "not-a-token"); err == nil {
		t.Errorf("the upstream took a bad token: %v", err)
	}
	if err := m.Revoke(ctx, "local-user", "remote"); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get("mcpgov-oauth:remote", "local-user"); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("keyring item after revoke: %v", err)
	}
}
