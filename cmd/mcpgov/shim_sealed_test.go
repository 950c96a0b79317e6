//go:build linux

package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestShimOAuthSealedWithoutKeyring: with no OS keyring (MCPGOV_KEYRING=off)
// but a login session's runtime directory, the shim's grant is sealed in
// shim-oauth/vault.json under a key in $XDG_RUNTIME_DIR: the next shim
// uses it with no consent, the file holds no token, and a new session
// (the key gone) needs a consent again, with a warning that the sealed
// grant does not open. No "no OS keyring" warning.
func TestShimOAuthSealedWithoutKeyring(t *testing.T) {
	s := newShimOAuthSandbox(t)
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"MCPGOV_KEYRING=off", "XDG_RUNTIME_DIR=" + runtime, "MCPGOV_BROWSER=dex-consent-browser"}
	use := func(wantBrowsed int) string {
		t.Helper()
		cs, stderr, err := s.connect(nil, env)
		if err != nil {
			t.Fatalf("initialize: %v\n%s", err, stderr)
		}
		defer cs.Close()
		if who, isErr := whoami(t, cs); isErr || who != oauthusertest.User {
			t.Fatalf("whoami = %q\n%s", who, stderr)
		}
		if b, _ := os.ReadFile(s.browsed); strings.Count(string(b), "\n") != wantBrowsed {
			t.Fatalf("browser log %q: want %d consents", b, wantBrowsed)
		}
		if strings.Contains(stderr.String(), "no OS keyring") {
			t.Errorf("warned of a grant lasting one run:\n%s", stderr)
		}
		return stderr.String()
	}
	use(1)
	vaultFile := filepath.Join(envValue(s.env, "XDG_STATE_HOME"), "mcpgov", "shim-oauth", "vault.json")
	b, err := os.ReadFile(vaultFile)
	if err != nil || !strings.Contains(string(b), "mcpgov-oauth:"+s.upstream) {
		t.Fatalf("no sealed grant in %s: %v\n%s", vaultFile, err, b)
	}
	if strings.Contains(string(b), "eyJ") || strings.Contains(string(b), "access_token") || strings.Contains(string(b), "refresh_token") {
		t.Errorf("the vault file holds a token in the clear:\n%s", b)
	}
	key := filepath.Join(runtime, "mcpgov", "shim-vault.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session key %s: %v %v", key, fi, err)
	}
	if _, err := s.keyringItem(); err == nil {
		t.Errorf("the grant went to the Secret Service with MCPGOV_KEYRING=off")
	}
	use(1) // the next shim: the sealed grant, no consent

	// A new login session: the runtime directory emptied. The grant does
	// not open (the shim says so); a consent again, sealed under the new
	// key.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if stderr := use(2); !strings.Contains(stderr, "does not open under this login session's key") {
		t.Errorf("the grant sealed in the earlier session was ignored without a warning:\n%s", stderr)
	}
	use(2)
}

// TestShimOAuthSealedLinkKilled: without an OS keyring, the redirect
// helper of a killed shim seals the grant for the session as the shim
// would; the next shim uses it with no consent.
func TestShimOAuthSealedLinkKilled(t *testing.T) {
	s := newShimOAuthSandbox(t)
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "MCPGOV_KEYRING=off", "XDG_RUNTIME_DIR="+runtime)
	ctx := await.Context(t)
	shim := s.startLingerShim(ctx)
	link := shim.link()
	helper := shim.helper()
	shim.kill()
	if status, page, err := oauthusertest.Consent(ctx, link); err != nil || status != http.StatusOK {
		t.Fatalf("consent after the shim was killed: %d %v\n%s\nhelper log:\n%s", status, err, page, s.lingerLog())
	}
	awaitExit(t, helper, "the helper, once the consent was granted")
	cs, stderr, err := s.connect(nil, nil, "--no-browser")
	if err != nil {
		t.Fatalf("the next start: %v\n%s", err, stderr)
	}
	if who, isErr := whoami(t, cs); isErr || who != oauthusertest.User {
		t.Fatalf("whoami on the next start = %q\n%s", who, stderr)
	}
	if _, err := s.keyringItem(); err == nil {
		t.Errorf("the grant went to the Secret Service with MCPGOV_KEYRING=off")
	}
}
