package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest"
)

// TestAttackCancelledAnswer guards the class "cancelled calls forgotten":
// a server that answers a call after the client cancelled it (the lenient
// server does) used to have that answer passed to the client unchecked.
// Through the real shim: the late answer is dropped, the client never
// sees it, and the call's one record says it was cancelled after it went
// upstream and that the upstream answered. The client cancels only once
// the server has logged the call: a cancellation while the call is still
// being decided never reaches the server at all (TestRelaySlowDecider).
func TestAttackCancelledAnswer(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "gov")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	cat := "[catalog]\nmode = \"enforce\"\n\n[servers.lenient]\nstatus = \"approved\"\n[servers.lenient.launch]\ncommand = \"lenient-mcp-server\"\n"
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath, auditDir := filepath.Join(dir, "executed.log"), filepath.Join(dir, "audit")
	cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--", "lenient-mcp-server")
	cmd.Env = append(os.Environ(), "MCPGOV_AUDIT_DIR="+auditDir, "MCPGOV_CONFIG=", "MCPGOV_BUNDLE=", "LENIENT_LOG="+logPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	replies := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !replies.Scan() {
			t.Fatalf("shim closed stdout: %v\nstderr: %s", replies.Err(), stderr.String())
		}
		return replies.Text()
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}}`)
	next()
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"slow","arguments":{}}}`)
	waitForLine(t, logPath, "EXEC slow ")
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow-1","reason":"user gave up"}}`)
	waitForLine(t, logPath, "CANCELLED ")
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":9,"method":"ping"}`)
	if got := next(); got != `{"jsonrpc":"2.0","id":9,"result":{}}` {
		t.Fatalf("after the cancellation the client got %s", got)
	}
	stdin.Close()
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("shim: %v\nstderr: %s", err, stderr.String())
	}
	if strings.Contains(string(rest), shimtest.EnvSecret) || strings.Contains(string(rest), "slow-1") {
		t.Fatalf("the cancelled call's answer reached the client: %s", rest)
	}
	out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--tool", "slow", "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"outcome":"cancelled"`) ||
		!strings.Contains(lines[0], "cancelled by the client after it was sent upstream; the upstream answered with a result, which was dropped") {
		t.Fatalf("records of the cancelled call:\n%s", out)
	}
}

// waitForLine waits until the file at path has a line starting with
// prefix; the test's own deadline bounds the wait.
func waitForLine(t *testing.T, path, prefix string) {
	t.Helper()
	for {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
		if d, ok := t.Deadline(); ok && time.Until(d) < 5*time.Second {
			t.Fatalf("%s never got a line starting %q; it has:\n%s", path, prefix, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
