package oauthuser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// IndexedKeyring is the shim's KeyringStore, noting in Index (a file, one
// server per line) every server it keeps a grant or a registered client
// for: the OS keyring cannot be listed, and `mcpgov logout` removes them
// by that list (Forget). Without an Index it is a plain KeyringStore.
type IndexedKeyring struct {
	KeyringStore
	Index string
}

var (
	_ TokenStore  = IndexedKeyring{}
	_ ClientStore = IndexedKeyring{}
)

// indexMu serializes this process's updates of an index; shims running
// at once append whole lines (O_APPEND), and duplicates are dropped on
// reading.
var indexMu sync.Mutex

// Put implements TokenStore, noting k.Server in the index.
func (s IndexedKeyring) Put(ctx context.Context, k Key, t Token) error {
	if err := s.KeyringStore.Put(ctx, k, t); err != nil {
		return err
	}
	return s.note(k.Server)
}

// PutClient implements ClientStore, noting server in the index.
func (s IndexedKeyring) PutClient(ctx context.Context, server string, r Registration) error {
	if err := s.KeyringStore.PutClient(ctx, server, r); err != nil {
		return err
	}
	return s.note(server)
}

func (s IndexedKeyring) note(server string) error {
	if s.Index == "" {
		return nil
	}
	if strings.ContainsAny(server, "\r\n") {
		return fmt.Errorf("server %q: a line break cannot be noted in %s", server, s.Index)
	}
	indexMu.Lock()
	defer indexMu.Unlock()
	have, err := s.Servers()
	if err != nil {
		return err
	}
	if slices.Contains(have, server) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.Index), 0o700); err != nil {
		return fmt.Errorf("note the shim's keyring items: %w", err)
	}
	f, err := os.OpenFile(s.Index, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("note the shim's keyring items: %w", err)
	}
	_, err = f.WriteString(server + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("note the shim's keyring items in %s: %w", s.Index, err)
	}
	return nil
}

// Servers lists the servers in the index, each once, in the order noted.
func (s IndexedKeyring) Servers() ([]string, error) {
	b, err := os.ReadFile(s.Index)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the shim's keyring index: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// Forget removes, for every server in the index, user's grant and the
// registered client from the keyring (locally: the authorization server
// is not asked to revoke anything, its endpoints are known only to the
// shim that discovered them), then the index itself. It returns the
// servers whose items are gone; the index keeps those that failed.
func (s IndexedKeyring) Forget(ctx context.Context, user string) (done []string, err error) {
	indexMu.Lock()
	defer indexMu.Unlock()
	servers, err := s.Servers()
	if err != nil {
		return nil, err
	}
	var failed []string
	var errs []error
	for _, srv := range servers {
		e1 := s.Delete(ctx, Key{User: user, Server: srv})
		e2 := s.Secrets.Delete(clientService(srv), "client")
		if e2 != nil {
			e2 = fmt.Errorf("remove the registered client for server %q from the keyring: %w", srv, e2)
		}
		if e := errors.Join(e1, e2); e != nil {
			failed, errs = append(failed, srv), append(errs, e)
			continue
		}
		done = append(done, srv)
	}
	if len(failed) == 0 {
		if err := os.Remove(s.Index); err != nil && !errors.Is(err, os.ErrNotExist) {
			return done, fmt.Errorf("remove the shim's keyring index: %w", err)
		}
		return done, nil
	}
	if werr := os.WriteFile(s.Index, []byte(strings.Join(failed, "\n")+"\n"), 0o600); werr != nil {
		errs = append(errs, werr)
	}
	return done, errors.Join(errs...)
}
