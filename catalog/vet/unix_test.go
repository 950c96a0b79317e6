//go:build unix

package vet

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// processAlive reports whether pid is a running process; a zombie (exited,
// not yet reaped by a container's init) counts as gone.
func processAlive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) state …; comm may contain spaces and parentheses.
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			return s[i+2] != 'Z' && s[i+2] != 'X'
		}
		return true
	} else if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
		return false // /proc works and the process has no entry
	}
	return syscall.Kill(pid, 0) == nil
}

func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
