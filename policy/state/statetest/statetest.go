// Package statetest starts a real Redis-protocol server (redis-server or
// valkey-server from Debian's packages, installed by `make scale-deps`)
// on a Unix socket in a test's temporary directory, for the tests of the
// shared state store and of the gateway's replicas.
package statetest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// Server is one redis-server process, restartable on the same socket.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	Sock string // the Unix socket it listens on
	cmd  *exec.Cmd
}

// Binary finds redis-server or valkey-server on PATH. Without either, the
// test is skipped, or fails under MCPGOV_E2E=1 (make test installs it).
func Binary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"redis-server", "valkey-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "redis-server or valkey-server not found on PATH; run `make scale-deps` (apt-get install redis-server)"
	if os.Getenv("MCPGOV_E2E") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts a server with no persistence on a socket under a
// temporary directory, and waits until it answers. It is killed when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "mcpgov-redis-") // short: a socket path is limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{t: t, bin: Binary(t), dir: dir, Sock: filepath.Join(dir, "redis.sock")}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// URL is the store URL of the server.
func (s *Server) URL() string { return "unix://" + s.Sock }

// Start starts the server (again, after Kill) and waits until it answers
// PING.
func (s *Server) Start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", "0", "--unixsocket", s.Sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	s.cmd = cmd
	await.Until(s.t, "redis-server answering on "+s.Sock, s.answers)
}

// answers reports whether the server answers PING on its socket.
func (s *Server) answers() bool {
	c, err := net.Dial("unix", s.Sock)
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Kill kills the server (SIGKILL: a crash, no shutdown) and waits for it
// to exit; its socket is gone with it.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	_ = os.Remove(s.Sock)
}
