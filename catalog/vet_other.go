//go:build !unix

package catalog

import (
	"errors"
	"os"
	"os/exec"
)

// setProcessGroup is a no-op where there are no Unix process groups.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the child itself; on Windows its own children are
// not reached (that needs a job object).
func killProcessGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
