package govern

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLockWaitHookNotFromEnvironment (review: a test-only environment
// variable made the shipped binary create files where it named): with
// MCPGOV_TEST_LOCK_WAITERS in the environment (as an MCP client config's
// server env could set it), the login manager has no lock-wait hook and a
// refresh contention creates nothing; only Go code (a test binary) sets
// the hook.
func TestLockWaitHookNotFromEnvironment(t *testing.T) {
	l := identityFixture(t, time.Now().Add(time.Hour), nil)
	dir := t.TempDir()
	getenv := l.Env.Getenv
	l.Env.Getenv = func(k string) string {
		if k == "MCPGOV_TEST_LOCK_WAITERS" {
			return dir
		}
		return getenv(k)
	}
	ls, err := l.Settings()
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Manager(ls)
	if err != nil {
		t.Fatal(err)
	}
	if m.OnLockWait != nil {
		m.OnLockWait()
		entries, _ := os.ReadDir(dir)
		t.Errorf("MCPGOV_TEST_LOCK_WAITERS in the environment installs a lock-wait hook, which created %d files in %s", len(entries), filepath.Base(dir))
	}

	called := false
	OnLockWait = func() { called = true }
	t.Cleanup(func() { OnLockWait = nil })
	if m, err = l.Manager(ls); err != nil {
		t.Fatal(err)
	}
	if m.OnLockWait == nil {
		t.Fatal("the hook set from Go code is not installed")
	}
	m.OnLockWait()
	if !called {
		t.Error("the installed hook is not the one set")
	}
}
