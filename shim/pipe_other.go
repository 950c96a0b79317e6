//go:build !linux

package shim

import "os"

// outputPipe returns the pipe a server writes its messages to; outside
// Linux it is always read through the runtime's poller (see
// pipe_linux.go).
func outputPipe(bool) (r, w *os.File, err error) { return os.Pipe() }

// Blocking reports false outside Linux: a server's output is read
// through the poller there (see pipe_linux.go).
func Blocking(...any) bool { return false }
