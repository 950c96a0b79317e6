//go:build unix

package shim

import (
	"context"
	"errors"
	"fmt"
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

func startFake(t *testing.T, args ...string) *Process {
	t.Helper()
	p, err := StartProcess(Command{
		Path:   os.Args[0],
		Args:   append(slices.Clone(fakeServerArgs), args...),
		Env:    append(os.Environ(), fakeServerEnv+"=1"),
		Stderr: os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(0) })
	return p
}

// TestProcessRelay relays a real child process end to end and shuts it
// down cleanly at the client's EOF.
func TestProcessRelay(t *testing.T) {
	p := startFake(t)
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
	pidfile := t.TempDir() + "/pids"
	p := startFake(t, "--hang", "--pidfile", pidfile)
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
