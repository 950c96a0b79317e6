//go:build unix

package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

const fakeServerEnv = "MCPGOV_SHIM_FAKE_SERVER"

// TestFakeServerProcess is not a test: it is the fake MCP server when the
// test binary is re-executed with fakeServerEnv set.
func TestFakeServerProcess(t *testing.T) { catalogtest.RunIfHelperProcess(fakeServerEnv) }

// fakeServerArgs make the test binary run TestFakeServerProcess only.
var fakeServerArgs = catalogtest.HelperProcessArgs

// startFake starts the fake server; blocking is Command.BlockingRead.
func startFake(t *testing.T, blocking bool, args ...string) *Process {
	t.Helper()
	p, err := StartProcess(Command{
		Path:         os.Args[0],
		Args:         append(slices.Clone(fakeServerArgs), args...),
		Env:          append(os.Environ(), fakeServerEnv+"=1"),
		Stderr:       os.Stderr,
		BlockingRead: blocking,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(0) })
	return p
}

// readModes are the two ways a Process reads its server's output
// (Command.BlockingRead).
var readModes = []struct {
	name     string
	blocking bool
}{{"poller", false}, {"blocking", true}}

// TestProcessRelay relays a real child process end to end and shuts it
// down cleanly at the client's EOF, reading its output either way.
func TestProcessRelay(t *testing.T) {
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) { testProcessRelay(t, m.blocking) })
	}
}

func testProcessRelay(t *testing.T, blocking bool) {
	p := startFake(t, blocking)
	in := strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}
`)
	out := &syncBuffer{}
	r := &Relay{In: in, Out: out, Stderr: os.Stderr}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(out.String(), `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"hi"}]}}`) {
		t.Fatalf("output:\n%s", out.String())
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("child still running after Run returned")
	}
}

// TestProcessShutdownKillsGroup: a server that ignores stdin EOF and
// SIGTERM, and has started a child of its own, is killed with its whole
// process group: Shutdown returns (the server would never end by itself)
// and both processes are gone.
func TestProcessShutdownKillsGroup(t *testing.T) {
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) { testProcessShutdownKillsGroup(t, m.blocking) })
	}
}

func testProcessShutdownKillsGroup(t *testing.T, blocking bool) {
	pidfile := t.TempDir() + "/pids"
	p := startFake(t, blocking, "--hang", "--pidfile", pidfile)
	var pids []int
	await.Until(t, "the fake server's pid file", func() bool {
		b, _ := os.ReadFile(pidfile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return len(pids) == 2 && strings.HasSuffix(string(b), "\n")
	})
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(100 * time.Millisecond) }()
	if err := await.Recv(t, done, "Shutdown to return"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		// The grandchild is reparented and reaped by init; until then it
		// is a zombie, which signal 0 still finds.
		await.Until(t, fmt.Sprintf("process %d to be gone after shutdown", pid), func() bool {
			err := syscall.Kill(pid, 0)
			return errors.Is(err, syscall.ESRCH) || isZombie(pid)
		})
	}
}

// TestProcessRelayEnds: whichever way the server's output is read, a
// relay whose pump is waiting in that read ends in each way Run can end:
// the context is cancelled (the server, which ignores SIGTERM and its
// stdin's EOF, is killed), the server exits by itself, the client closes
// its input while the server never answers. A blocking read cannot be
// interrupted, so each of these must end it by ending the server's output.
func TestProcessRelayEnds(t *testing.T) {
	const call = `{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n"
	for _, m := range readModes {
		t.Run(m.name+"/cancelled", func(t *testing.T) {
			p := startFake(t, m.blocking, "--hang")
			in, client := io.Pipe() // the client never closes its input
			defer client.Close()
			ctx, cancel := context.WithCancel(context.Background())
			r := &Relay{In: in, Out: &syncBuffer{}, Stderr: io.Discard}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, p) }()
			if _, err := io.WriteString(client, call); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := await.Recv(t, done, "Run to return after the cancellation"); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			if !await.Closed(t, p.Done()) {
				t.Fatal("server still running")
			}
		})
		t.Run(m.name+"/server-exits", func(t *testing.T) {
			p := startFake(t, m.blocking, "--exit-early")
			in, client := io.Pipe()
			defer client.Close()
			r := &Relay{In: in, Out: &syncBuffer{}, Stderr: io.Discard}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), p) }()
			err := await.Recv(t, done, "Run to return after the server's exit")
			if !errors.Is(err, ErrUpstreamExited) || !strings.Contains(err.Error(), "exit status 1") {
				t.Fatalf("Run = %v, want ErrUpstreamExited with the exit status", err)
			}
		})
		t.Run(m.name+"/client-eof", func(t *testing.T) {
			p := startFake(t, m.blocking, "--hang")
			out := &syncBuffer{}
			r := &Relay{In: strings.NewReader(call), Out: out, Stderr: io.Discard, Drain: time.Millisecond, Grace: time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), p) }()
			if err := await.Recv(t, done, "Run to return after the client's EOF"); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if !await.Closed(t, p.Done()) {
				t.Fatal("server still running")
			}
		})
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestLookCommandMissing(t *testing.T) {
	t.Setenv("PATH", "/nonexistent/bin")
	_, err := LookCommand("no-such-mcp-server", "/nonexistent/bin")
	var nf *CommandNotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), `"no-such-mcp-server" not found in PATH "/nonexistent/bin"`) {
		t.Fatalf("err = %v", err)
	}
}
