package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
)

// sealedFactory is a shim's Factory in a login session whose runtime
// directory is runtime, its state under state.
func sealedFactory(runtime, state string) *Factory {
	io, _, _, _ := TestStreams()
	env := map[string]string{"XDG_RUNTIME_DIR": runtime, "XDG_STATE_HOME": state, "HOME": state}
	return &Factory{IO: io, Getenv: func(k string) string { return env[k] }, Now: time.Now}
}

// TestSessionSealedConcurrentFirstStart: shims starting at once on a
// session's first use all open the store, under one key: none reads the
// key another is still writing.
func TestSessionSealedConcurrentFirstStart(t *testing.T) {
	state := t.TempDir()
	for round := range 100 {
		runtime := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(runtime, 0o700); err != nil {
			t.Fatal(err)
		}
		const shims = 8
		var wg sync.WaitGroup
		errs := make([]error, shims)
		stores := make([]sessionSealed, shims)
		for i := range shims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := sealedFactory(runtime, state)
				stores[i], errs[i] = openSessionSealed(f)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: shim %d of %d starting at once: %v", round, i, shims, err)
			}
		}
		if err := stores[0].Set("svc", "u", "grant"); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			if got, err := s.Get("svc", "u"); err != nil || got != "grant" {
				t.Fatalf("round %d: shim %d reads %q, %v: its key is not the one the others sealed with", round, i, got, err)
			}
		}
		left, _ := filepath.Glob(filepath.Join(runtime, "mcpgov", "*"))
		if len(left) != 1 {
			t.Fatalf("round %d: the runtime directory holds %v, want the key alone (no temporary file left)", round, left)
		}
	}
}

// TestSessionSealedForeignKeyWarns: a grant sealed under another
// session's key (an earlier login session, or an altered file) reads as
// absent, so a new consent replaces it, and the shim says so on stderr,
// without naming the item's server or secret.
func TestSessionSealedForeignKeyWarns(t *testing.T) {
	state := t.TempDir()
	mk := func() string {
		d := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	f1 := sealedFactory(mk(), state)
	s1, err := openSessionSealed(f1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Set("https://notes.example/mcp", "shim", "secret-grant"); err != nil {
		t.Fatal(err)
	}
	io, _, _, errOut := TestStreams()
	f2 := sealedFactory(mk(), state)
	f2.IO = io
	s2, err := openSessionSealed(f2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get("https://notes.example/mcp", "shim"); !errors.Is(err, login.ErrSecretNotFound) {
		t.Fatalf("a grant sealed under another session's key: %v, want ErrSecretNotFound (a new consent)", err)
	}
	warn := errOut.String()
	if !strings.Contains(warn, "does not open under this login session's key") || !strings.Contains(warn, filepath.Join(state, "mcpgov")) {
		t.Errorf("stderr %q, want a warning that a sealed item does not open, naming the vault file", warn)
	}
	if strings.Contains(warn, "secret-grant") || strings.Contains(warn, "notes.example") {
		t.Errorf("the warning %q names the item's secret or server", warn)
	}
	// A missing item is silent.
	errOut.Reset()
	if _, err := s2.Get("https://other.example/mcp", "shim"); !errors.Is(err, login.ErrSecretNotFound) || errOut.Len() != 0 {
		t.Errorf("a missing item: %v, stderr %q; want ErrSecretNotFound and no warning", err, errOut.String())
	}
}
