//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
)

// TestLogoutRevokesShimGrants: `mcpgov logout` ends the grants the shim
// keeps in the OS keyring (a real Secret Service) at their authorization
// server, node oidc-provider, which advertises RFC 7009 revocation. One
// grant is in the shim's index; two were stored before the index existed:
// one is found through the remote server wrap put behind a shim (its
// manifest), the other through a shim entry written by hand in Cursor's
// config. After logout the issuer's introspection says both
// refresh tokens are inactive, and the keyring holds neither.
func TestLogoutRevokesShimGrants(t *testing.T) {
	issuer := oauthusertest.StartRevokingIssuer(t, true)
	env := sandboxEnv(t)
	bus := startSecretService(t, envValue(env, "HOME"))
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus) // this process's keyring calls, on the sandbox's bus
	state := filepath.Join(envValue(env, "XDG_STATE_HOME"), "mcpgov")
	secrets := login.Keyring{Getenv: os.Getenv}
	kr := oauthuser.IndexedKeyring{KeyringStore: oauthuser.KeyringStore{Secrets: secrets}, Index: filepath.Join(state, "shim-oauth", "servers")}

	// The shim's grants, as its Manager stores them: one noted in the
	// index, one stored without it.
	indexed, old, hand := "https://notes.example/mcp", "https://old.example/mcp", "https://hand.example/mcp"
	tokA, regA := oauthusertest.Grant(t, kr, kr, issuer, indexed)
	tokB, regB := oauthusertest.Grant(t, kr.KeyringStore, kr.KeyringStore, issuer, old)
	tokC, regC := oauthusertest.Grant(t, kr.KeyringStore, kr.KeyringStore, issuer, hand)
	cursor := filepath.Join(envValue(env, "HOME"), ".cursor", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(cursor), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cursor, `{"mcpServers": {"hand": {"command": "mcpgov", "args": ["shim", "--url", "`+hand+`"]}}}`)
	if err := os.MkdirAll(filepath.Join(state, "wrap"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(state, "wrap", "manifest.json"), `{"schemaVersion": 2, "entries": [{"file": "/home/u/.codex/config.toml", "client": "codex",
  "scope": "user", "server": "old", "pointer": "mcp_servers.old", "format": "toml", "command": "", "args": [], "url": "`+old+`", "spans": []}]}`)
	active := func(reg oauthuser.Registration, tok string) bool {
		return oauthusertest.Introspect(t, issuer, reg, tok)
	}
	if !active(regA, tokA.RefreshToken) || !active(regB, tokB.RefreshToken) || !active(regC, tokC.RefreshToken) {
		t.Fatal("the grants are not active before logout")
	}

	cmd := exec.Command("mcpgov", "logout")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	for _, srv := range []string{indexed, old, hand} {
		if !strings.Contains(string(out), "revoked the shim's OAuth grant for "+srv+" at its authorization server") {
			t.Errorf("logout does not say it revoked the grant for %s:\n%s", srv, out)
		}
		if _, err := keyring.Get("mcpgov-oauth:"+srv, "local"); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("the keyring item for %s after logout: %v", srv, err)
		}
	}
	if active(regA, tokA.RefreshToken) || active(regB, tokB.RefreshToken) || active(regC, tokC.RefreshToken) {
		t.Error("a refresh token is still active at the issuer after logout")
	}
	if strings.Contains(string(out), tokA.RefreshToken) || strings.Contains(string(out), regA.ClientSecret) {
		t.Errorf("logout printed a token or a client secret:\n%s", out)
	}
}
