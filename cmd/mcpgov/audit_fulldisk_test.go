package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
)

// TestAuditFullDisk puts the audit trail on a 192 KiB tmpfs and calls
// through the real shim in enforce mode until the disk is full: every call
// the client got a result for has its record, every other call got an
// error that says the audit trail could not record it (no space left) and
// never ran upstream, and the trail still verifies. Mounting needs root; without it the
// injected-writer unit test in audit/ covers ENOSPC.
func TestAuditFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; audit.TestFullDiskFailsAppendAndKeepsChain covers ENOSPC")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=192k"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); audit.TestFullDiskFailsAppendAndKeepsChain covers ENOSPC", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, 0) })
	dir := filepath.Join(mnt, "audit")

	bundle := t.TempDir()
	cat := "[catalog]\nmode = \"enforce\"\n\n[servers.lenient]\nstatus = \"approved\"\n[servers.lenient.launch]\ncommand = \"lenient-mcp-server\"\n"
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server logs every call it runs (outside the full disk), so the
	// test can tell a refused call from one that ran unrecorded.
	ranLog := filepath.Join(t.TempDir(), "executed.log")
	cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--", "lenient-mcp-server")
	cmd.Env = append(os.Environ(), "MCPGOV_AUDIT_DIR="+dir, "MCPGOV_CONFIG=", "MCPGOV_BUNDLE=", "LENIENT_LOG="+ranLog)
	cmd.Stderr = io.Discard
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	replies := bufio.NewScanner(stdout)
	replies.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() string {
		if !replies.Scan() {
			t.Fatalf("shim closed stdout: %v", replies.Err())
		}
		return replies.Text()
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"full","version":"1"}}}`)
	next()
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	var answered []string
	var firstRefusal string
	refused := 0
	// One call at a time, so each reply belongs to the call just sent.
	for i := 1; i <= 600 && refused < 20; i++ {
		msg := fmt.Sprintf("call-%d-%s", i, strings.Repeat("x", 200))
		fmt.Fprintf(stdin, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`+"\n", i, msg)
		line := next()
		var rep struct {
			Result *struct {
				IsError bool                    `json:"isError"`
				Content []struct{ Text string } `json:"content"`
			} `json:"result"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatalf("reply %q: %v", line, err)
		}
		switch {
		case rep.Result != nil && !rep.Result.IsError && len(rep.Result.Content) == 1 && rep.Result.Content[0].Text == msg:
			if refused > 0 {
				t.Fatalf("call %d ran after the trail was full: %s", i, line)
			}
			answered = append(answered, msg)
		case strings.Contains(line, "audit trail") && strings.Contains(line, "no space left on device"):
			if refused == 0 {
				firstRefusal = line
			}
			refused++
		default:
			t.Fatalf("call %d: neither its result nor an audit-trail error: %s", i, line)
		}
	}
	if len(answered) < 10 || refused == 0 {
		t.Fatalf("%d calls answered, %d refused: the disk never filled", len(answered), refused)
	}
	recorded := map[string]bool{}
	err := audit.Records(dir, audit.Filter{Kind: audit.KindToolCall}, func(r *audit.Record, _ []byte) error {
		var args struct{ Message string }
		_ = json.Unmarshal(r.Arguments, &args)
		recorded[args.Message] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range answered {
		if !recorded[m] {
			t.Fatalf("call %.10s… was answered without a record", m)
		}
	}
	// No call ran upstream without its record: the store reports the disk
	// full while its reserved space still holds the refusals' records, so
	// the first call after that is refused before it runs.
	ranBytes, _ := os.ReadFile(ranLog)
	if ran := strings.Count(string(ranBytes), "EXEC "); ran != len(answered) {
		t.Fatalf("the server ran %d calls, %d were answered and recorded: a call ran unrecorded", ran, len(answered))
	}
	if out, errOut, code := mcpgovRun(t, "audit", "verify", dir); code != 0 {
		t.Fatalf("verify a full trail: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%d calls answered and recorded, then %d refused with the disk full; the first refusal:\n%s", len(answered), refused, firstRefusal)
}
