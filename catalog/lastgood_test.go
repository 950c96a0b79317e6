package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLastGood(t *testing.T) {
	dir, cache := t.TempDir(), filepath.Join(t.TempDir(), "lastgood")
	if _, err := WriteStarter(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LastGood(cache); err == nil {
		t.Fatal("empty cache returned a copy")
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(b, cache, nil); err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(b, cache, nil); err != nil { // the fast path
		t.Fatal(err)
	}
	got, err := LastGood(cache)
	if err != nil {
		t.Fatal(err)
	}
	copyB, err := LoadBundle(got)
	if err != nil {
		t.Fatal(err)
	}
	if copyB.Revision != b.Revision {
		t.Errorf("copy revision %s, want %s", copyB.Revision, b.Revision)
	}

	// A new revision becomes current; the old copies are pruned to three.
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(dir, "extra.txt"), []byte{byte('a' + i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		nb, err := LoadBundle(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := SaveLastGood(nb, cache, nil); err != nil {
			t.Fatal(err)
		}
		if cur, _ := LastGood(cache); filepath.Base(cur) != nb.Revision {
			t.Errorf("current %s, want %s", cur, nb.Revision)
		}
	}
	entries, _ := os.ReadDir(cache)
	dirs := 0
	for _, e := range entries {
		if e.IsDir() {
			dirs++
		}
	}
	if dirs != keepLastGood {
		t.Errorf("%d copies kept, want %d", dirs, keepLastGood)
	}
}

// Bug (issue 12 item 9): with trusted keys pinned, a bundle that could not
// be reached was read as an unsigned one, so the shim never stood the last
// good copy in for it. Missing or emptied, it is unavailable; there but
// unsigned, it is refused.
func TestLoadSignedBundleUnreachableIsUnavailable(t *testing.T) {
	pub, priv := sigTestKey(t, 1)
	trusted := []PublicKey{pub}
	dir := sigTestBundle(t)
	var unavailable *UnavailableError

	_, err := LoadSignedBundle(filepath.Join(dir, "gone"), trusted)
	if !errors.As(err, &unavailable) || errors.Is(err, ErrNotSigned) {
		t.Errorf("missing bundle: %v, want an *UnavailableError, not unsigned", err)
	}
	if _, err := LoadSignedBundle(dir, trusted); !errors.Is(err, ErrNotSigned) || errors.As(err, &unavailable) {
		t.Errorf("unsigned bundle: %v, want ErrNotSigned", err)
	}
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	b, err := LoadSignedBundle(dir, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if b.Revision == "" {
		t.Error("no revision")
	}
	// A sync emptied it: bundle.sig is left, catalog.toml is gone.
	if err := os.Remove(filepath.Join(dir, CatalogFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSignedBundle(dir, trusted); !errors.As(err, &unavailable) {
		t.Errorf("emptied bundle: %v, want an *UnavailableError", err)
	}
}

// Bug (issue 12 item 9): a copy kept before a key was pinned (the revision
// does not cover bundle.sig) or signed by a key since rotated out stayed
// current, so the pinned-key fallback never verified. The copy kept must
// verify against the keys pinned when it is kept.
func TestSaveLastGoodKeepsAVerifiedCopy(t *testing.T) {
	pub1, priv1 := sigTestKey(t, 1)
	pub2, priv2 := sigTestKey(t, 2)
	dir, cache := sigTestBundle(t), filepath.Join(t.TempDir(), "lastgood")

	save := func(trusted []PublicKey) {
		t.Helper()
		b, err := LoadSignedBundle(dir, trusted)
		if err != nil {
			t.Fatal(err)
		}
		if err := SaveLastGood(b, cache, trusted); err != nil {
			t.Fatal(err)
		}
	}
	fallback := func(trusted []PublicKey) error {
		t.Helper()
		_, err := LoadLastGood(cache, trusted)
		return err
	}

	save(nil) // unsigned, no key pinned
	if err := fallback([]PublicKey{pub1}); !errors.Is(err, ErrNotSigned) {
		t.Errorf("unsigned copy with a pinned key: %v, want ErrNotSigned", err)
	}
	if err := SignBundle(dir, priv1); err != nil {
		t.Fatal(err)
	}
	save([]PublicKey{pub1}) // same revision, now signed
	if err := fallback([]PublicKey{pub1}); err != nil {
		t.Errorf("signed copy: %v", err)
	}

	if err := SignBundle(dir, priv2); err != nil { // the key rotates
		t.Fatal(err)
	}
	save([]PublicKey{pub2})
	if err := fallback([]PublicKey{pub2}); err != nil {
		t.Errorf("copy after the key rotated: %v", err)
	}
	if err := fallback([]PublicKey{pub1}); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("copy checked against the old key: %v, want ErrUntrustedKey", err)
	}

	// A copy tampered with in the cache is refused when used, and replaced
	// by the next save.
	cur, err := LastGood(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cur, CatalogFile), []byte("[catalog]\nname = \"evil\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fallback([]PublicKey{pub2}); !errors.Is(err, ErrBundleModified) {
		t.Errorf("tampered copy: %v, want ErrBundleModified", err)
	}
	save([]PublicKey{pub2})
	if err := fallback([]PublicKey{pub2}); err != nil {
		t.Errorf("copy after the repairing save: %v", err)
	}
	if _, err := LoadLastGood(filepath.Join(t.TempDir(), "none"), nil); !errors.Is(err, ErrNoLastGood) {
		t.Errorf("empty cache: %v, want ErrNoLastGood", err)
	}
}

// A bundle that changed between loading and keeping is not kept: the copy
// must be the revision that was loaded (and verified).
func TestSaveLastGoodRefusesAChangedBundle(t *testing.T) {
	pub, priv := sigTestKey(t, 1)
	trusted := []PublicKey{pub}
	dir, cache := sigTestBundle(t), filepath.Join(t.TempDir(), "lastgood")
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	b, err := LoadSignedBundle(dir, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte("# changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(b, cache, trusted); !errors.Is(err, ErrBundleModified) {
		t.Errorf("changed bundle kept: %v, want ErrBundleModified", err)
	}
	// Re-signed after the change, it verifies but is not the revision
	// loaded: still not kept.
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(b, cache, trusted); !errors.Is(err, ErrBundleModified) {
		t.Errorf("other revision kept: %v, want ErrBundleModified", err)
	}
	if _, err := LastGood(cache); !errors.Is(err, ErrNoLastGood) {
		t.Errorf("cache after refused saves: %v, want none kept", err)
	}
}
