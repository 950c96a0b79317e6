//go:build unix

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// shimKeeper starts the shim's redirect keeper (`mcpgov __shim-linger`,
// the same binary) when a consent link goes to the client: in a session
// of its own (setsid), so the client's kill of the shim's process group
// does not reach it; holding a copy of the redirect listener's socket
// (fd 3) and the read end of a pipe (stdin) whose write end only the
// shim holds; its notes go to shim-oauth/linger.log in the state dir,
// not to the client's stderr pipe (a client waits for that to close).
// The first line on the pipe says whom its records name.
func shimKeeper(f *Factory, id audit.Identity, server audit.ServerRef) oauthuser.KeepFunc {
	return func(ln net.Listener) (io.WriteCloser, int, error) {
		sc, ok := ln.(syscall.Conn)
		if !ok {
			return nil, 0, errors.New("the redirect listener has no socket to hand over")
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return nil, 0, err
		}
		// A duplicate of the raw descriptor, not an *os.File: handing an
		// *os.File to a child makes the socket blocking, for the shim's
		// own listener too (they share the open file).
		lnfd, derr := -1, error(nil)
		if err := raw.Control(func(fd uintptr) { lnfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
			return nil, 0, err
		}
		if derr != nil {
			return nil, 0, fmt.Errorf("duplicate the redirect listener: %w", derr)
		}
		defer unix.Close(lnfd)
		exe, err := os.Executable()
		if err != nil {
			return nil, 0, err
		}
		dir, err := stateDir(f, "shim-oauth")
		if err != nil {
			return nil, 0, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, 0, err
		}
		logFile, err := os.OpenFile(filepath.Join(dir, "linger.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, 0, err
		}
		defer logFile.Close()
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return nil, 0, err
		}
		defer devnull.Close()
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, 0, err
		}
		defer pr.Close()
		// argv[0] as this process got it: a multi-call binary (the tests')
		// dispatches on it.
		pid, err := syscall.ForkExec(exe, []string{os.Args[0], "__shim-linger"}, &syscall.ProcAttr{
			Dir: "/", Env: os.Environ(),
			Files: []uintptr{pr.Fd(), devnull.Fd(), logFile.Fd(), uintptr(lnfd)},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			pw.Close()
			return nil, 0, err
		}
		if p, err := os.FindProcess(pid); err == nil {
			go func() { _, _ = p.Wait() }() // no zombie while the shim runs
		}
		hello, _ := json.Marshal(shimKeepHello{Identity: id, Server: server})
		if _, err := pw.Write(append(hello, '\n')); err != nil {
			pw.Close()
			return nil, 0, err
		}
		return pw, pid, nil
	}
}
