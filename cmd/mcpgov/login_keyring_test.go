//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// startSecretService runs a private D-Bus session bus with gnome-keyring's
// Secret Service (unlocked with a throwaway password, keyrings under home)
// and returns the bus address. The user's own session bus and keyring are
// never involved.
func startSecretService(t *testing.T, home string) string {
	t.Helper()
	for _, prog := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if ok, err := haveProgram(prog); err != nil {
			t.Fatal(err)
		} else if !ok {
			t.Skipf("%s not installed (make keyring-deps installs it)", prog)
		}
	}
	addrFile := filepath.Join(t.TempDir(), "bus")
	script := `echo -n test-password | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null || exit 1
echo "$DBUS_SESSION_BUS_ADDRESS" > "$1.tmp" && mv "$1.tmp" "$1"
exec sleep infinity`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script, "sh", addrFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	for deadline := await.Deadline(t); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("the Secret Service did not start:\n%s", log.String())
	return ""
}

// TestLoginKeyring: with a real Secret Service (gnome-keyring) the refresh
// token lives in the keyring, not in the session file; refresh rotates it
// there; logout deletes it.
func TestLoginKeyring(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	bus := startSecretService(t, sb.Home)
	sb.Env = append(sb.Env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	sb.config(dexProfile(d))

	r := deviceLogin(t, d, sb)
	r.wantExit(t, 0, "stored in the keyring")
	if strings.Contains(r.Stderr, "warning") {
		t.Errorf("login with a keyring warned:\n%s", r.Stderr)
	}
	if sess := sb.session("default"); sess["secret"] != nil || sess["storage"] != "keyring" {
		t.Fatalf("session file holds the secret or names the wrong storage: storage=%v secret set=%v", sess["storage"], sess["secret"] != nil)
	}
	st, _ := sb.status()
	if st["storage"] != "keyring" || st["refreshable"] != true {
		t.Errorf("status: %v", st)
	}

	// Read the item the way another program would: over the same bus.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	service := "mcpgov:" + d.Issuer
	rt1, err := keyring.Get(service, "default")
	if err != nil || rt1 == "" {
		t.Fatalf("keyring item %s/default: %v", service, err)
	}
	sb.expire("default")
	sb.must("", "auth", "token")
	rt2, err := keyring.Get(service, "default")
	if err != nil || rt2 == rt1 {
		t.Fatalf("the rotated refresh token did not reach the keyring: %v", err)
	}

	sb.must("", "logout")
	if _, err := keyring.Get(service, "default"); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("keyring item after logout: %v, want not found", err)
	}
}
