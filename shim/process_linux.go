//go:build linux

package shim

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setProcAttr puts the child in its own process group and has the kernel
// kill it when the thread that started it dies, so not even a SIGKILL of
// the shim orphans it. Pdeathsig follows the starting OS thread, hence
// lockThread.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// lockThread keeps the calling goroutine on its OS thread for good: the
// goroutine starts the child and waits for it, and the thread is
// destroyed when the goroutine returns.
func lockThread() { runtime.LockOSThread() }
