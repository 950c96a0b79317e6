//go:build !unix

package shim

import (
	"errors"
	"os"
	"os/exec"
)

type signal int

const sigTerm signal = 15

func setProcAttr(*exec.Cmd) {}

func lockThread() {}

// signalGroup kills the child itself: without Unix process groups there is
// no polite signal, and its own children are not reached (that needs a job
// object).
func signalGroup(cmd *exec.Cmd, _ signal) error { return killGroup(cmd) }

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
