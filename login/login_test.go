package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fakeIdP answers discovery and the device endpoints; its token endpoint
// answers with tokenErr. (The real flows are tested against Dex in
// cmd/mcpgov; Dex cannot deny a device code, so denial is tested here.)
func fakeIdP(t *testing.T, tokenErr string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": srv.URL, "token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/keys",
			"device_authorization_endpoint": srv.URL + "/device/code", "authorization_endpoint": srv.URL + "/auth",
		})
	})
	mux.HandleFunc("/device/code", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"device_code": "dc", "user_code": "ABCD-EFGH", "verification_uri": srv.URL + "/device",
			"expires_in": 86400, "interval": 1, // a code that cannot expire before the first poll, however slow the machine
		})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": tokenErr, "error_description": "the user said no"})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func testManager(t *testing.T, issuer string) *Manager {
	keyring.MockInit()
	return &Manager{
		Profile: "default", Issuer: issuer, ClientID: "cli", Dir: t.TempDir(),
		Secrets: Keyring{Getenv: func(k string) string {
			if k == "DBUS_SESSION_BUS_ADDRESS" {
				return "unix:path=/nonexistent"
			}
			return ""
		}},
	}
}

func TestDeviceDenied(t *testing.T) {
	srv := fakeIdP(t, "access_denied")
	m := testManager(t, srv.URL)
	var prompted DevicePrompt
	_, err := m.LoginDevice(context.Background(), func(p DevicePrompt) { prompted = p })
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "the user said no") {
		t.Fatalf("err = %v, want ErrDenied with the IdP's description", err)
	}
	if prompted.UserCode != "ABCD-EFGH" {
		t.Errorf("prompt = %+v", prompted)
	}
	if !NeedsLogin(err) {
		t.Error("a denied login does not say a login is needed")
	}
}

func TestKeyringFallback(t *testing.T) {
	m := testManager(t, "http://idp")
	s := &Session{Profile: "default", Issuer: "http://idp"}
	if fell, err := m.putSecret(s, "rt"); err != nil || fell || s.Storage != StorageKeyring || s.Secret != "" {
		t.Fatalf("with a keyring: fell=%v err=%v storage=%s", fell, err, s.Storage)
	}
	if got, _ := m.getSecret(s); got != "rt" {
		t.Fatalf("keyring secret = %q", got)
	}
	keyring.MockInitWithError(errors.New("org.freedesktop.secrets was not provided"))
	s = &Session{Profile: "default", Issuer: "http://idp"}
	fell, err := m.putSecret(s, "rt2")
	if err != nil || !fell || s.Storage != StorageFile || s.Secret != "rt2" {
		t.Fatalf("without a keyring: fell=%v err=%v storage=%s", fell, err, s.Storage)
	}
	if !errors.Is(m.KeyringFallback(), ErrKeyringUnavailable) {
		t.Errorf("fallback reason = %v", m.KeyringFallback())
	}
}

func TestKeyringNoBusNoAutolaunch(t *testing.T) {
	k := Keyring{Getenv: func(k string) string {
		if k == "XDG_RUNTIME_DIR" {
			return t.TempDir() // no bus socket in it
		}
		return ""
	}}
	called := false
	_, err := k.call("read", func() (string, error) { called = true; return "", nil })
	if !errors.Is(err, ErrKeyringUnavailable) || called {
		t.Fatalf("err = %v, keyring called = %v; want unavailable without calling it", err, called)
	}
}

func TestKeyringTimeout(t *testing.T) {
	k := Keyring{Timeout: 10 * time.Millisecond, Getenv: func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "unix:path=/x"
		}
		return ""
	}}
	block := make(chan struct{})
	defer close(block)
	_, err := k.call("read", func() (string, error) { <-block; return "", nil })
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("err = %v", err)
	}
}

func TestDiscoveryErrors(t *testing.T) {
	srv := fakeIdP(t, "")
	m := testManager(t, srv.URL)
	if _, err := m.discover(context.Background(), srv.URL+"/"); !errors.Is(err, ErrIssuerMismatch) {
		t.Errorf("trailing slash: %v", err)
	}
	if _, err := m.discover(context.Background(), srv.URL+"/other"); !errors.Is(err, ErrNotIdP) {
		t.Errorf("404: %v", err)
	}
	if err := ValidProfile("../x"); err == nil {
		t.Error("ValidProfile accepted a path")
	}
}

func TestTokenNotLoggedIn(t *testing.T) {
	m := testManager(t, "http://idp")
	if _, err := m.Token(context.Background()); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("err = %v", err)
	}
}
