package catalog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// lastGoodPointer names the copy in use inside a last-good cache directory.
const lastGoodPointer = "current"

// keepLastGood is how many copies the cache keeps.
const keepLastGood = 3

// SaveLastGood keeps a copy of a bundle that loaded (and verified, where
// keys are pinned) in cacheDir/<revision>, so that a shim keeps working on
// it when the configured bundle later cannot be used: a half-synced
// update, an unmounted share, a laptop offline. It is cheap when the copy
// is already current. The copy is made file by file against the bundle's
// manifest (bundle.sig included), in a temporary directory renamed into
// place, so a reader never sees half a copy.
func SaveLastGood(b *Bundle, cacheDir string) error {
	if b.Revision == "" || strings.ContainsAny(b.Revision, `/\.`) {
		return fmt.Errorf("bundle %s has no usable revision", b.Dir)
	}
	if cur, _ := os.ReadFile(filepath.Join(cacheDir, lastGoodPointer)); string(cur) == b.Revision {
		if _, err := os.Stat(filepath.Join(cacheDir, b.Revision, CatalogFile)); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	dst := filepath.Join(cacheDir, b.Revision)
	if _, err := os.Stat(filepath.Join(dst, CatalogFile)); err != nil {
		if err := copyBundle(b.Dir, cacheDir, dst); err != nil {
			return fmt.Errorf("last good bundle cache: %w", err)
		}
	}
	if err := writeAtomic(filepath.Join(cacheDir, lastGoodPointer), []byte(b.Revision), 0o600); err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	pruneLastGood(cacheDir, b.Revision)
	return nil
}

// LastGood returns the directory of the last good copy, or ErrNoBundle
// when the cache holds none.
func LastGood(cacheDir string) (string, error) {
	rev, err := os.ReadFile(filepath.Join(cacheDir, lastGoodPointer))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no last good bundle in %s: %w", cacheDir, ErrNoBundle)
	}
	if err != nil {
		return "", fmt.Errorf("last good bundle: %w", err)
	}
	r := strings.TrimSpace(string(rev))
	if r == "" || strings.ContainsAny(r, `/\.`) {
		return "", fmt.Errorf("last good bundle pointer %s is damaged", filepath.Join(cacheDir, lastGoodPointer))
	}
	return filepath.Join(cacheDir, r), nil
}

func copyBundle(src, cacheDir, dst string) error {
	m, err := BuildManifest(src)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".copy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	files := make([]string, 0, len(m.Files)+1)
	for _, f := range m.Files {
		files = append(files, f.Path)
	}
	if _, err := os.Stat(filepath.Join(src, SignatureFile)); err == nil {
		files = append(files, SignatureFile)
	}
	for _, rel := range files {
		if err := copyFile(filepath.Join(src, filepath.FromSlash(rel)), filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	// The copy must be what was loaded: compare its manifest.
	got, err := BuildManifest(tmp)
	if err != nil {
		return err
	}
	if string(got.Canonical()) != string(m.Canonical()) {
		return fmt.Errorf("bundle %s changed while it was being copied", src)
	}
	return os.Rename(tmp, dst)
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pruneLastGood removes the oldest copies beyond keepLastGood, never the
// current one.
func pruneLastGood(cacheDir, current string) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	type copyDir struct {
		name string
		mod  int64
	}
	var copies []copyDir
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == current {
			continue
		}
		if info, err := e.Info(); err == nil {
			copies = append(copies, copyDir{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(copies, func(i, j int) bool { return copies[i].mod > copies[j].mod })
	for i := keepLastGood - 1; i < len(copies); i++ {
		_ = os.RemoveAll(filepath.Join(cacheDir, copies[i].name))
	}
}
