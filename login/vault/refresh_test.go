package vault_test

import (
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/login/vault/vaulttest"
)

// TestVaultRefreshOncePerToken: two stores over one file (two processes:
// flock locks differ per open file) and many callers each: a token about
// to expire is refreshed once.
func TestVaultRefreshOncePerToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.json")
	kek, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	open := func() *vault.Vault {
		s, err := vault.OpenFile(path, kek)
		if err != nil {
			t.Fatal(err)
		}
		return &vault.Vault{Store: s}
	}
	vaulttest.RefreshOnce(t, open(), open())
}
