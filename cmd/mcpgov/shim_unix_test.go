//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestShimSignalKillsGroup: SIGTERM, SIGINT or SIGHUP to the shim ends the
// upstream's whole process group (observed before: a killed relay left
// server-everything orphaned), even a server that ignores SIGTERM and has
// started a child of its own.
func TestShimSignalKillsGroup(t *testing.T) {
	bundle := writeBundle(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--server", "fake", "--", "fake-mcp-server", "--hang", "--pidfile", pidfile)
			stdin, err := cmd.StdinPipe() // kept open: the client is still there
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() }) // if it never exits
			pids := waitPids(t, pidfile)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			err = await.Recv(t, done, "the shim to exit after "+sig.String())
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("shim exit: %v, want status 1\nstderr: %s", err, stderr.String())
			}
			for _, pid := range pids {
				waitGone(t, pid)
			}
		})
	}
}

func waitPids(t *testing.T, pidfile string) []int {
	t.Helper()
	var pids []int
	await.Until(t, "the fake server's pid file", func() bool {
		b, _ := os.ReadFile(pidfile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return len(pids) == 2 && strings.HasSuffix(string(b), "\n")
	})
	return pids
}

// waitGone waits until pid no longer runs (a zombie awaiting its reaper
// counts as gone); one still running at the test's deadline is killed.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := await.Deadline(t); ; time.Sleep(10 * time.Millisecond) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
				return
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d survived the shim", pid)
		}
	}
}
