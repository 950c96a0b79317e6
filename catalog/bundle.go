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

// LoadBundle reads and validates the bundle in dir.
func LoadBundle(dir string) (*Bundle, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &UnavailableError{fmt.Errorf("bundle %s does not exist", dir)}
	case err != nil:
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, err)}
	case !info.IsDir():
		return nil, fmt.Errorf("bundle %s is a file; a bundle is a directory holding %s", dir, CatalogFile)
	}
	path := filepath.Join(dir, CatalogFile)
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, ErrNoBundle)}
	}
	if err != nil {
		return nil, &UnavailableError{fmt.Errorf("bundle %s: %w", dir, err)}
	}
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
