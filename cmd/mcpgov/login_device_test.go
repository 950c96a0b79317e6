//go:build unix

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// lockWaitersEnv names, for this test binary only (which runs as mcpgov
// in these tests: testscript.Main), a directory in which a process that
// finds the login's refresh lock held notes, as a file named by its
// process id, that it waits for it. The shipped binary has no such
// variable: the hook is installed here, from Go code.
const lockWaitersEnv = "MCPGOV_TEST_LOCK_WAITERS"

func init() {
	dir := os.Getenv(lockWaitersEnv)
	if dir == "" {
		return
	}
	govern.OnLockWait = func() {
		// A failure is the test's to see (it waits for the file).
		fd, err := syscall.Open(filepath.Join(dir, strconv.Itoa(os.Getpid())), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err == nil {
			syscall.Close(fd)
		}
	}
}

const deviceCodeRE = `one-time code: ([A-Z0-9-]+)`

// deviceLogin runs `mcpgov login` (device flow) and approves its code
// through Dex's forms, as a person in a browser would.
func deviceLogin(t *testing.T, d *dex, sb *loginSandbox, args ...string) result {
	t.Helper()
	m, wait := sb.startLogin(deviceCodeRE, args...)
	approveDevice(t, d, m[1])
	return wait()
}

// TestLoginDeviceFlow: a device-flow login against a real Dex stores a
// verified identity with groups; an expired access token is refreshed;
// five processes refreshing at once end with one valid login; logout
// removes it.
func TestLoginDeviceFlow(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	sb.config(dexProfile(d))

	r := deviceLogin(t, d, sb)
	r.wantExit(t, 0, "logged in to "+d.Issuer+" as alice@example.com (groups: eng, mcp-admins)",
		"warning: no usable keyring", sb.sessionFile("default"))
	if r.Stdout != "" {
		t.Errorf("login wrote to stdout: %q", r.Stdout)
	}
	fi, err := os.Stat(sb.sessionFile("default"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v, mode %v; want 0600", err, fi.Mode())
	}

	st, r := sb.status()
	r.wantExit(t, 0)
	for k, want := range map[string]any{
		"loggedIn": true, "issuer": d.Issuer, "email": "alice@example.com", "name": "Alice Example",
		"kind": "oidc", "storage": "file", "storagePath": sb.sessionFile("default"), "expired": false, "refreshable": true,
	} {
		if st[k] != want {
			t.Errorf("status %s = %v, want %v", k, st[k], want)
		}
	}
	if g, _ := st["groups"].([]any); len(g) != 2 || g[0] != "eng" || g[1] != "mcp-admins" {
		t.Errorf("status groups = %v, want [eng mcp-admins]", st["groups"])
	}
	if sub, _ := st["subject"].(string); sub == "" || st["expiry"] == nil {
		t.Errorf("status lacks subject or expiry: %v", st)
	}

	// A fresh token is handed out as stored: no refresh.
	before := sb.session("default")
	tok := strings.TrimSpace(sb.must("", "auth", "token").Stdout)
	if tok != before["accessToken"] {
		t.Fatal("auth token refreshed a fresh token or printed another one")
	}

	// After expiry the next use refreshes, and the rotated refresh token
	// is stored.
	sb.expire("default")
	tok2 := strings.TrimSpace(sb.must("", "auth", "token").Stdout)
	after := sb.session("default")
	if tok2 == tok || after["accessToken"] != tok2 || after["refreshedAt"] == nil {
		t.Fatal("an expired access token was not refreshed")
	}
	if after["secret"] == before["secret"] {
		t.Fatal("the refresh token was not rotated; the concurrency check below would prove nothing")
	}

	// Five processes find the token expired at once. Dex rotates refresh
	// tokens and refuses a used one, so without the lock all but one
	// would fail; with it one refreshes and the others reuse its result.
	// Dex holds the refresh it gets until each of the five processes is
	// either at Dex or waiting at the profile's lock (each waiting one
	// notes its pid in waiters), so the five surely overlap.
	sb.expire("default")
	refreshes := d.Refreshes.Load()
	waiters := t.TempDir()
	env := sb.Env
	sb.Env = append(slices.Clip(env), lockWaitersEnv+"="+waiters)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseDex := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseDex()
	hold := func() { <-release }
	d.HoldRefresh.Store(&hold)
	var wg sync.WaitGroup
	results := make([]result, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = sb.run("", "auth", "token")
		}()
	}
	await.Until(t, "each of the five auth token processes at Dex or waiting at the lock", func() bool {
		waiting, err := os.ReadDir(waiters)
		return err == nil && int(d.Refreshes.Load()-refreshes)+len(waiting) >= len(results)
	})
	releaseDex()
	wg.Wait()
	if waiting, err := os.ReadDir(waiters); err == nil {
		t.Logf("%d auth token processes waited at the lock while one refreshed", len(waiting))
	}
	d.HoldRefresh.Store(nil)
	sb.Env = env
	if n := d.Refreshes.Load() - refreshes; n != 1 {
		t.Errorf("five concurrent auth token processes sent %d refresh grants to Dex, want 1", n)
	}
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("concurrent auth token %d: exit %d: %s", i, r.Code, r.Stderr)
		}
		if r.Stdout != results[0].Stdout {
			t.Errorf("concurrent auth token %d printed another token: more than one refresh ran", i)
		}
	}
	// The login that remains is valid: it refreshes again.
	sb.expire("default")
	if strings.TrimSpace(sb.must("", "auth", "token").Stdout) == strings.TrimSpace(results[0].Stdout) {
		t.Fatal("the login left by the concurrent refresh did not refresh")
	}

	// Logout removes it; Dex has no revocation endpoint, which --revoke says.
	sb.run("", "logout", "--revoke").wantExit(t, 0, "offers no token revocation endpoint", "logged out of "+d.Issuer)
	if _, err := os.Stat(sb.sessionFile("default")); !os.IsNotExist(err) {
		t.Errorf("session file still there after logout: %v", err)
	}
	st, r = sb.status()
	r.wantExit(t, 4, "not logged in", "hint: run `mcpgov login`")
	if st["loggedIn"] != false {
		t.Errorf("status after logout: %v", st)
	}
	sb.run("", "auth", "token").wantExit(t, 4, "not logged in")
}

// TestLoginDeviceCodeExpired: a code nobody approves expires; login says
// so and exits 4.
func TestLoginDeviceCodeExpired(t *testing.T) {
	d := startDex(t, "3s")
	sb := newSandbox(t)
	sb.config(dexProfile(d))
	_, wait := sb.startLogin(deviceCodeRE)
	wait().wantExit(t, 4, "device code expired", "hint: run `mcpgov login`")
}
