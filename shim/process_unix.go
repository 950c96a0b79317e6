//go:build unix

package shim

import (
	"errors"
	"os/exec"
	"syscall"
)

var sigTerm = syscall.SIGTERM

// signalGroup sends sig to the child's whole process group; a group that
// is already gone is not an error.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func killGroup(cmd *exec.Cmd) error { return signalGroup(cmd, syscall.SIGKILL) }
