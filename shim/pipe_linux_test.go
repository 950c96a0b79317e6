//go:build linux

package shim

import (
	"bytes"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOutputPipeModes: the read end of a server's output pipe is in
// blocking mode when asked for (Command.BlockingRead) and non-blocking,
// read through the poller, otherwise.
func TestOutputPipeModes(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		r, w, err := outputPipe(blocking)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := r.SyscallConn() // not Fd(), which would make it blocking
		if err != nil {
			t.Fatal(err)
		}
		var flags int
		var ferr error
		if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil {
			t.Fatal(err)
		}
		if ferr != nil {
			t.Fatal(ferr)
		}
		if nonblock := flags&unix.O_NONBLOCK != 0; nonblock == blocking {
			t.Errorf("outputPipe(%v): read end O_NONBLOCK = %v", blocking, nonblock)
		}
		r.Close()
		w.Close()
	}
}

// TestBlocking: only files in blocking mode count as read and written in
// blocking system calls.
func TestBlocking(t *testing.T) {
	br, bw, err := outputPipe(true)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	defer bw.Close()
	nr, nw, err := os.Pipe() // non-blocking, through the poller
	if err != nil {
		t.Fatal(err)
	}
	defer nr.Close()
	defer nw.Close()
	for _, c := range []struct {
		name    string
		streams []any
		want    bool
	}{
		{"blocking pipe", []any{br, bw}, true},
		{"non-blocking pipe", []any{nr}, false},
		{"one of each", []any{br, nw}, false},
		{"not a file", []any{br, &bytes.Buffer{}}, false},
	} {
		if got := Blocking(c.streams...); got != c.want {
			t.Errorf("%s: Blocking = %v, want %v", c.name, got, c.want)
		}
	}
}
