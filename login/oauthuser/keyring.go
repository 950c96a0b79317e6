package oauthuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpgov/mcpgov/login"
)

// KeyringStore keeps tokens in the OS keyring, one item per user and
// server (service "mcpgov-oauth:" + server, account = user), for the shim
// that fronts a remote server directly. Secrets is normally a
// login.Keyring, whose calls time out instead of hanging on a locked
// Secret Service. Windows caps an item at 2560 bytes: a grant with long
// JWTs may not fit, and Put then fails with login.ErrKeyringUnavailable.
type KeyringStore struct {
	Secrets login.SecretStore
}

var _ TokenStore = KeyringStore{}

func keyringService(server string) string { return "mcpgov-oauth:" + server }

// Get reads the token stored for k.
func (s KeyringStore) Get(_ context.Context, k Key) (Token, error) {
	raw, err := s.Secrets.Get(keyringService(k.Server), k.User)
	if errors.Is(err, login.ErrSecretNotFound) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("read the token for server %q from the keyring: %w", k.Server, err)
	}
	var t Token
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		// The error would quote the item; say only where it is.
		return Token{}, fmt.Errorf("the keyring item %q for %q is not a token; delete it and consent again", keyringService(k.Server), k.User)
	}
	return t, nil
}

// Put stores t for k.
func (s KeyringStore) Put(_ context.Context, k Key, t Token) error {
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := s.Secrets.Set(keyringService(k.Server), k.User, string(raw)); err != nil {
		return fmt.Errorf("store the token for server %q in the keyring: %w", k.Server, err)
	}
	return nil
}

// Delete removes the item for k; a missing one is not an error.
func (s KeyringStore) Delete(_ context.Context, k Key) error {
	if err := s.Secrets.Delete(keyringService(k.Server), k.User); err != nil {
		return fmt.Errorf("remove the token for server %q from the keyring: %w", k.Server, err)
	}
	return nil
}
