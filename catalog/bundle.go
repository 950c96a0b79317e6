package catalog

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CatalogFile is the catalog's file name inside a bundle.
const CatalogFile = "catalog.toml"

// Bundle is a loaded governance bundle.
type Bundle struct {
	Dir      string
	Catalog  *Catalog
	Revision string // content hash of the bundle's files, for audit records
	// Fallback is set when this is the last good copy, used because the
	// configured bundle could not be (why it could not).
	Fallback error
}

// ErrNoBundle means the directory holds no catalog.toml.
var ErrNoBundle = errors.New("not a bundle: no catalog.toml")

// UnavailableError is a bundle that cannot be reached — missing, not
// mounted, unreadable — as opposed to one that is there and invalid.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// LoadBundle reads and validates the bundle in dir. It verifies no
// signature: a machine that pins keys uses LoadSignedBundle.
func LoadBundle(dir string) (*Bundle, error) {
	text, err := reach(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, CatalogFile)
	c, err := Parse(path, text)
	if err != nil {
		return nil, err
	}
	// The revision covers every file of the bundle (policies too), as the
	// signature does; a bundle whose tree cannot be hashed falls back to its
	// catalog's hash.
	rev, err := ManifestDigest(dir)
	if err != nil {
		sum := sha256.Sum256(text)
		rev = hex.EncodeToString(sum[:6])
	}
	return &Bundle{Dir: dir, Catalog: c, Revision: rev}, nil
}

// reach reads dir's catalog: *UnavailableError when the bundle cannot be
// reached (missing, emptied, unreadable), a plain error when dir is there
// but is no bundle directory.
func reach(dir string) ([]byte, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &UnavailableError{fmt.Errorf("bundle %s does not exist", dir)}
	case err != nil:
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, err)}
	case !info.IsDir():
		return nil, fmt.Errorf("bundle %s is a file; a bundle is a directory holding %s", dir, CatalogFile)
	}
	text, err := os.ReadFile(filepath.Join(dir, CatalogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, ErrNoBundle)}
	}
	if err != nil {
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, err)}
	}
	return text, nil
}

// LoadSignedBundle is LoadBundle for a machine that pins keys: a bundle
// that cannot be reached is an *UnavailableError, as from LoadBundle (so a
// caller can stand a verified copy in for it); one that is there must be
// signed by one of trusted over exactly its files (VerifyBundle's errors
// otherwise), and the files loaded must be the files verified. With no
// trusted keys it is LoadBundle.
func LoadSignedBundle(dir string, trusted []PublicKey) (*Bundle, error) {
	if len(trusted) == 0 {
		return LoadBundle(dir)
	}
	// Reachability first: a missing bundle has no bundle.sig either, and
	// must not read as an unsigned one.
	if _, err := reach(dir); err != nil {
		return nil, err
	}
	sig, err := verifyBundle(dir, trusted)
	if err != nil {
		return nil, err
	}
	b, err := LoadBundle(dir)
	if err != nil {
		return nil, err
	}
	if signed := (Manifest{Files: sig.Files}).Digest(); b.Revision != signed {
		return nil, fmt.Errorf("bundle %s: %w while it was being loaded (revision %s, signed %s)", dir, ErrBundleModified, b.Revision, signed)
	}
	return b, nil
}

//go:embed starter
var starter embed.FS

// WriteStarter writes a commented starter bundle into dir, which must not
// already hold one. It never overwrites a file.
func WriteStarter(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, CatalogFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a bundle (%s exists); nothing written", dir, CatalogFile)
	}
	var written []string
	err := fs.WalkDir(starter, "starter", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("starter", p)
		dst := filepath.Join(dir, rel)
		b, err := starter.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		written = append(written, dst)
		return nil
	})
	return written, err
}
