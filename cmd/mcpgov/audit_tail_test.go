package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestAuditTailFollow: `audit tail -f` prints the last records, then the
// ones appended while it runs, until interrupted.
func TestAuditTailFollow(t *testing.T) {
	dir := t.TempDir()
	seedTrail(t, dir, 20, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "mcpgov", "audit", "tail", "-f", "-n", "3", "--dir", dir)
	cmd.Env = append(os.Environ(), "MCPGOV_CONFIG=")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := await.Context(t)
	read := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("tail -f exited")
			}
			return l
		case <-wait.Done():
			t.Fatal("tail -f printed nothing by the test's deadline")
		}
		return ""
	}
	for _, seq := range []string{"\t18\t", "\t19\t", "\t20\t"} {
		if l := read(); !strings.Contains(l, seq) {
			t.Fatalf("want the record with seq %s, got %q", strings.TrimSpace(seq), l)
		}
	}
	appendMore(t, dir, 2)
	for _, seq := range []string{"\t21\ttool_call\tallow\tallowed\t", "\t22\t"} {
		if l := read(); !strings.Contains(l, seq) || !strings.Contains(l, "later") {
			t.Fatalf("want the new record %s, got %q", strings.TrimSpace(seq), l)
		}
	}
	cancel()
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
}

// TestAuditPruneCLI removes old segments through the binary; what remains
// verifies and keeps every newer record.
func TestAuditPruneCLI(t *testing.T) {
	dir := t.TempDir()
	recs := seedTrail(t, dir, 400, 8<<10)
	before, _ := audit.ListSegments(dir)
	// Records from 2026-11-21 09:00 on; everything before "now" minus
	// the age goes, by whole segments.
	cutoff := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	age := time.Since(cutoff).Round(time.Hour)
	stdout, errOut, code := mcpgovRun(t, "audit", "prune", "--dir", dir, "--older-than", age.String(), "--json")
	if code != 0 {
		t.Fatalf("prune: exit %d\n%s%s", code, stdout, errOut)
	}
	after, _ := audit.ListSegments(dir)
	if len(after) >= len(before) || len(after) == 0 {
		t.Fatalf("prune kept %d of %d segments\n%s", len(after), len(before), stdout)
	}
	out, errOut, code := mcpgovRun(t, "audit", "verify", dir)
	if code != 0 || !strings.Contains(out, "pruned; the chain starts at seq") {
		t.Fatalf("verify after prune: exit %d\n%s%s", code, out, errOut)
	}
	kept := queryCount(t, "--dir", dir)
	newer := 0
	for _, r := range recs {
		if !r.Time.Before(time.Now().Add(-age)) {
			newer++
		}
	}
	if kept < newer || kept >= len(recs) {
		t.Fatalf("kept %d records; %d are newer than the cutoff, %d in all", kept, newer, len(recs))
	}
}
