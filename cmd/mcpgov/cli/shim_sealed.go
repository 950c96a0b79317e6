package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/vault"
)

// sessionSealed is where the shim keeps its grants and registered
// clients on a machine without an OS keyring: a vault file in the state
// dir (shim-oauth/vault.json), each item sealed with AES-256-GCM (bound to
// its name) under a key kept in the login session's runtime directory
// ($XDG_RUNTIME_DIR/mcpgov/shim-vault.key, 0600), a tmpfs the system
// empties at logout and reboot. The file on disk alone (a backup, a copied
// home) opens nothing; within the session the grants outlive each shim,
// as the keyring's do. It implements login.SecretStore, so the keyring's
// item layout is kept as is.
type sessionSealed struct {
	fs *vault.FileStore
	// path is the vault file; warn is where a sealed item that does not
	// open is reported (the shim's stderr).
	path string
	warn io.Writer
}

var _ login.SecretStore = sessionSealed{}

// openSessionSealed opens the session-sealed store, creating the key at
// the session's first use; an error when there is no runtime directory
// of the session (XDG_RUNTIME_DIR unset, not an absolute directory, or
// open to others).
func openSessionSealed(f *Factory) (sessionSealed, error) {
	rd := f.Getenv("XDG_RUNTIME_DIR")
	if rd == "" || !filepath.IsAbs(rd) {
		return sessionSealed{}, errors.New("no XDG_RUNTIME_DIR (the login session's runtime directory)")
	}
	if fi, err := os.Stat(rd); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return sessionSealed{}, fmt.Errorf("XDG_RUNTIME_DIR %s is not a directory only its owner can open", rd)
	}
	dir := filepath.Join(rd, "mcpgov")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sessionSealed{}, err
	}
	keyPath := filepath.Join(dir, "shim-vault.key")
	raw, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = makeSessionKey(dir, keyPath)
	}
	if err != nil {
		return sessionSealed{}, err
	}
	kek, err := vault.ParseKey(string(raw))
	if err != nil {
		return sessionSealed{}, fmt.Errorf("%s: %w", keyPath, err)
	}
	sd, err := stateDir(f, "shim-oauth")
	if err != nil {
		return sessionSealed{}, err
	}
	if err := os.MkdirAll(sd, 0o700); err != nil {
		return sessionSealed{}, err
	}
	path := filepath.Join(sd, "vault.json")
	st, err := vault.OpenFile(path, kek)
	if err != nil {
		return sessionSealed{}, err
	}
	s := sessionSealed{fs: st, path: path, warn: io.Discard}
	if f.IO != nil && f.IO.ErrOut != nil {
		s.warn = f.IO.ErrOut
	}
	return s, nil
}

// makeSessionKey makes the session's key at keyPath, or reads the one
// another shim starting at once made: the key is written whole to a
// temporary file beside it, then linked into place, which fails if the
// name exists; a reader never sees a key half written.
func makeSessionKey(dir, keyPath string) ([]byte, error) {
	key := vault.NewKey()
	tmp, err := os.CreateTemp(dir, ".shim-vault.key.*") // 0600
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, werr := tmp.WriteString(key)
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return nil, werr
	}
	switch err := os.Link(tmp.Name(), keyPath); {
	case err == nil:
		return []byte(key), nil
	case errors.Is(err, fs.ErrExist): // another shim made it meanwhile
		return os.ReadFile(keyPath)
	default:
		return nil, err
	}
}

func sealedKey(service, user string) vault.Key {
	return vault.Key{User: user, Server: service, Name: "keyring"}
}

// Get implements login.SecretStore. An item sealed under another
// session's key (or altered) does not open: as if it were not there (a
// new consent replaces it), said on stderr without naming the item.
func (s sessionSealed) Get(service, user string) (string, error) {
	e, err := s.fs.Get(context.Background(), sealedKey(service, user))
	if errors.Is(err, vault.ErrTampered) {
		fmt.Fprintf(s.warn, "mcpgov: warning: a sealed item in %s does not open under this login session's key (sealed in an earlier session, or altered); it is ignored and a new consent replaces it\n", s.path)
		return "", login.ErrSecretNotFound
	}
	if errors.Is(err, vault.ErrNotFound) {
		return "", login.ErrSecretNotFound
	}
	if err != nil {
		return "", err
	}
	return e.Secret, nil
}

// Set implements login.SecretStore.
func (s sessionSealed) Set(service, user, secret string) error {
	return s.fs.Put(context.Background(), vault.Entry{Key: sealedKey(service, user), Kind: vault.KindSecret, Secret: secret})
}

// Delete implements login.SecretStore.
func (s sessionSealed) Delete(service, user string) error {
	err := s.fs.Delete(context.Background(), sealedKey(service, user))
	if errors.Is(err, vault.ErrNotFound) {
		return nil
	}
	return err
}
