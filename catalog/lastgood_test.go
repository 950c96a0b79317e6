package catalog

import (
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
	if err := SaveLastGood(b, cache); err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(b, cache); err != nil { // the fast path
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
		if err := SaveLastGood(nb, cache); err != nil {
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
