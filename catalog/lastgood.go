package catalog

import (
	"crypto/sha256"
	"encoding/hex"
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

// ErrNoLastGood means no last good copy has been kept yet.
var ErrNoLastGood = errors.New("no last good bundle kept")

// keepLastGood is how many copies the cache keeps.
const keepLastGood = 3

// SaveLastGood keeps a copy of a bundle that loaded (and verified, where
// keys are pinned) so that a shim keeps working on it when the configured
// bundle later cannot be reached: an unmounted share, a sync that removed
// it, a laptop offline. The copy is made file by file against the bundle's
// manifest (bundle.sig included), in a temporary directory renamed into
// place, so a reader never sees half a copy; it must hold exactly the
// revision that was loaded and, when trusted keys are given, verify
// against them, or it is not kept. It is cheap when the current copy is
// already that revision with that signature and still verifies.
//
// A copy lives in cacheDir/<revision>, or <revision>-<signature digest>
// when signed: the revision covers the files but not bundle.sig, and a
// copy kept before a key was pinned (or signed by a key since rotated out)
// must not pass for one that verifies.
func SaveLastGood(b *Bundle, cacheDir string, trusted []PublicKey) error {
	if b.Revision == "" || strings.ContainsAny(b.Revision, `/\.-`) {
		return fmt.Errorf("bundle %s has no usable revision", b.Dir)
	}
	name, err := copyName(b.Revision, b.Dir)
	if err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	pointer := filepath.Join(cacheDir, lastGoodPointer)
	if cur, _ := os.ReadFile(pointer); string(cur) == name && goodCopy(filepath.Join(cacheDir, name), b.Revision, trusted) == nil {
		return nil
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	if name, err = installCopy(b, cacheDir, trusted); err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	if err := writeAtomic(pointer, []byte(name), 0o600); err != nil {
		return fmt.Errorf("last good bundle cache: %w", err)
	}
	pruneLastGood(cacheDir, name)
	return nil
}

// LoadLastGood loads the last good copy in cacheDir, verified again
// against trusted (a copy is only as good as the keys pinned now). It
// wraps ErrNoLastGood when the cache holds none.
func LoadLastGood(cacheDir string, trusted []PublicKey) (*Bundle, error) {
	dir, err := LastGood(cacheDir)
	if err != nil {
		return nil, err
	}
	return LoadSignedBundle(dir, trusted)
}

// LastGood returns the directory of the last good copy, or an error
// wrapping ErrNoLastGood when the cache holds none.
func LastGood(cacheDir string) (string, error) {
	rev, err := os.ReadFile(filepath.Join(cacheDir, lastGoodPointer))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w in %s", ErrNoLastGood, cacheDir)
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

// copyName names the copy of revision rev of the bundle in dir.
func copyName(rev, dir string) (string, error) {
	sig, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	if errors.Is(err, fs.ErrNotExist) {
		return rev, nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(sig)
	return rev + "-" + hex.EncodeToString(sum[:6]), nil
}

// goodCopy checks that dir holds revision rev and verifies against
// trusted, when any.
func goodCopy(dir, rev string, trusted []PublicKey) error {
	if len(trusted) > 0 {
		if err := VerifyBundle(dir, trusted); err != nil {
			return err
		}
	}
	got, err := ManifestDigest(dir)
	if err != nil {
		return err
	}
	if got != rev {
		return fmt.Errorf("%s holds revision %s, not %s: %w", dir, got, rev, ErrBundleModified)
	}
	return nil
}

// installCopy copies b into the cache, checks the copy (the revision
// loaded, verified against trusted) and renames it into place, replacing
// a damaged copy of the same name. It returns the copy's name.
func installCopy(b *Bundle, cacheDir string, trusted []PublicKey) (string, error) {
	tmp, err := os.MkdirTemp(cacheDir, ".copy-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := copyBundle(b.Dir, tmp); err != nil {
		return "", err
	}
	// The bundle may have changed since it was loaded; what is kept must
	// be what was loaded and verified.
	if err := goodCopy(tmp, b.Revision, trusted); err != nil {
		return "", fmt.Errorf("bundle %s changed since it was loaded, not kept: %w", b.Dir, err)
	}
	name, err := copyName(b.Revision, tmp)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cacheDir, name)
	if _, err := os.Lstat(dst); err == nil {
		if goodCopy(dst, b.Revision, trusted) == nil {
			return name, nil
		}
		if err := setAside(cacheDir, dst); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		// Another shim may have kept the same copy meanwhile.
		if goodCopy(dst, b.Revision, trusted) == nil {
			return name, nil
		}
		return "", err
	}
	return name, nil
}

// setAside moves a damaged copy out of the way and removes it.
func setAside(cacheDir, dir string) error {
	old, err := os.MkdirTemp(cacheDir, ".stale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(old)
	aside := filepath.Join(old, "copy")
	if err := os.Rename(dir, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// copyBundle copies the files of the bundle in src (its manifest, and
// bundle.sig) into the empty directory dst.
func copyBundle(src, dst string) error {
	m, err := BuildManifest(src)
	if err != nil {
		return err
	}
	files := make([]string, 0, len(m.Files)+1)
	for _, f := range m.Files {
		files = append(files, f.Path)
	}
	if _, err := os.Stat(filepath.Join(src, SignatureFile)); err == nil {
		files = append(files, SignatureFile)
	}
	for _, rel := range files {
		if err := copyFile(filepath.Join(src, filepath.FromSlash(rel)), filepath.Join(dst, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
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
