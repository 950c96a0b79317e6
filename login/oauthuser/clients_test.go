package oauthuser_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRegisteredClientKeptAcrossRuns: a client mcpgov registered (RFC
// 7591) is kept in the keyring and used again by the next run for the
// same server and redirect URL (its grants are bound to it), and a new
// one is registered when the redirect URL changed.
func TestRegisteredClientKeptAcrossRuns(t *testing.T) {
	var regs atomic.Int32
	mux := http.NewServeMux()
	as := httptest.NewServer(mux)
	defer as.Close()
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "authorization_endpoint": as.URL + "/authorize",
			"token_endpoint": as.URL + "/token", "registration_endpoint": as.URL + "/register",
			"response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"none"}})
	})
	mux.HandleFunc("/register", func(w http.ResponseWriter, r *http.Request) {
		var meta struct {
			RedirectURIs []string `json:"redirect_uris"`
		}
		json.NewDecoder(r.Body).Decode(&meta)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client_id": fmt.Sprintf("client-%d", regs.Add(1)), "redirect_uris": meta.RedirectURIs,
			"token_endpoint_auth_method": "none"})
	})
	keyring.MockInit()
	store := oauthuser.KeyringStore{Secrets: login.Keyring{Getenv: func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "unix:path=/mock"
		}
		return ""
	}}}
	ctx := await.Context(t)
	run := func(redirect string) string {
		t.Helper()
		m := &oauthuser.Manager{Store: store, Clients: store}
		if err := m.AddServer("remote", oauthuser.Config{Issuer: as.URL, RedirectURL: redirect, Scopes: []string{"mcp"}}); err != nil {
			t.Fatal(err)
		}
		cr, err := m.ConsentURL(ctx, "local", "remote")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(cr.URL)
		return u.Query().Get("client_id")
	}
	first := run("http://127.0.0.1:45001/callback")
	second := run("http://127.0.0.1:45001/callback")
	if first != "client-1" || second != first || regs.Load() != 1 {
		t.Errorf("two runs, one redirect: clients %q and %q, %d registrations; want one client, registered once", first, second, regs.Load())
	}
	moved := run("http://127.0.0.1:45002/callback")
	if moved != "client-2" || regs.Load() != 2 {
		t.Errorf("another redirect URL: client %q, %d registrations; want a new registration", moved, regs.Load())
	}
	item, err := keyring.Get("mcpgov-oauth-client:remote", "client")
	if err != nil || !strings.Contains(item, `"client-2"`) || !strings.Contains(item, "45002") {
		t.Errorf("keyring item of the registration: %q %v", item, err)
	}
}
