//go:build linux

package shim

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// outputPipe returns the pipe a server writes its messages to. With
// blocking, its read end is left in blocking mode and never registered
// with the runtime's network poller: the reader then makes blocking
// read(2) calls on a thread of its own, as the shim reads its stdin, and
// the kernel wakes that thread itself when an answer arrives. A poller
// read instead parks the goroutine; the answer wakes the thread waiting
// in epoll, which schedules the goroutine, and a thread that finds work
// this way may wake another for the idle P. See Command.BlockingRead.
func outputPipe(blocking bool) (r, w *os.File, err error) {
	if !blocking {
		return os.Pipe()
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	// NewFile keeps a descriptor that is not non-blocking out of the
	// poller.
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

// Blocking reports whether each of streams is an *os.File whose
// descriptor is in blocking mode, so that the runtime reads or writes it
// in blocking system calls rather than through its poller. The shim's
// stdin and stdout are, when its client made them so (most do): a relay
// whose streams all are has nothing on a call's path that needs the
// poller.
func Blocking(streams ...any) bool {
	for _, s := range streams {
		f, ok := s.(*os.File)
		if !ok {
			return false
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return false
		}
		nonblock := true
		if err := rc.Control(func(fd uintptr) {
			flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
			nonblock = err != nil || flags&unix.O_NONBLOCK != 0
		}); err != nil || nonblock {
			return false
		}
	}
	return true
}
