package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
)

// seedTrail appends n varied records (decisions, outcomes, servers, tools,
// identities, spread over three days) to a new store in dir, the way the
// shim's core does, and returns the records.
func seedTrail(t *testing.T, dir string, n int, segBytes int64) []*audit.Record {
	t.Helper()
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	s, err := audit.Open(dir, audit.Options{MaxSegmentBytes: segBytes, MaxSegmentAge: -1, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := []string{audit.OutcomeAllowed, audit.OutcomeAllowed, audit.OutcomeDenied, audit.OutcomeError, audit.OutcomeRedacted, audit.OutcomeCancelled}
	var recs []*audit.Record
	for i := range n {
		out := outcomes[i%len(outcomes)]
		r := &audit.Record{
			Time:      base.Add(time.Duration(i) * 3 * 24 * time.Hour / time.Duration(n)),
			Kind:      audit.KindToolCall,
			Session:   fmt.Sprintf("s%d", i%4),
			Identity:  audit.Identity{Subject: fmt.Sprintf("user%d", i%3), Email: fmt.Sprintf("user%d@example.com", i%3), Method: "oidc", Groups: []string{"eng"}},
			Client:    audit.Client{Name: "Cursor", Version: "1.7"},
			Server:    audit.ServerRef{ID: []string{"github", "fs"}[i%2], Transport: "stdio"},
			Method:    "tools/call",
			Tool:      []string{"create_issue", "read_file", "search"}[i%3],
			Outcome:   out,
			Arguments: json.RawMessage(fmt.Sprintf(`{"n":%d,"path":"/tmp/f%d"}`, i, i)),
			Result:    &audit.ResultSummary{Bytes: 100 + i, IsError: out == audit.OutcomeError, ContentTypes: []string{"text"}},
			Decision:  audit.Decision{Allow: out != audit.OutcomeDenied, Enforced: true, Mode: "enforce", Revision: "rev1"},
			Latency:   audit.Latency{TotalUS: int64(200 + i), UpstreamUS: int64(150 + i)},
		}
		if out == audit.OutcomeDenied {
			r.Decision.Reasons, r.Decision.RuleIDs = []string{"tool not allowed"}, []string{"tool-denied"}
		}
		if out == audit.OutcomeRedacted {
			r.Guardrails = []audit.Guardrail{{Name: "pii", Hook: "post", Mode: "enforce", Verdict: audit.VerdictFail, DurationUS: 9, Mutated: true,
				Findings: []audit.Finding{{Rule: "email", Message: "email address"}}}}
		}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// mcpgovRun runs the real binary and returns stdout, stderr and the exit
// code.
func mcpgovRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("mcpgov", args...)
	cmd.Env = append(os.Environ(), "MCPGOV_CONFIG=", "MCPGOV_BUNDLE=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mcpgov %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func segmentLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	return lines[:len(lines)-1]
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTamper edits a copy of a trail the way someone covering their
// tracks would, and checks that `mcpgov audit verify` exits 3 naming the
// segment and record.
func TestAuditTamper(t *testing.T) {
	clean := t.TempDir()
	seedTrail(t, clean, 300, 16<<10)
	if out, errOut, code := mcpgovRun(t, "audit", "verify", clean); code != 0 || !strings.HasPrefix(out, "ok: 300 records in ") {
		t.Fatalf("clean trail: exit %d\n%s%s", code, out, errOut)
	}
	seg3 := audit.SegmentName(3)
	for _, tc := range []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"flip one byte", func(dir string) {
			p := filepath.Join(dir, seg3)
			b, _ := os.ReadFile(p)
			i := bytes.Index(b, []byte(`"outcome":"`)) + len(`"outcome":"`)
			b[i] ^= 0x20
			os.WriteFile(p, b, 0o600)
		}, seg3 + " line 1 (record seq"},
		{"delete a line", func(dir string) {
			p := filepath.Join(dir, seg3)
			l := segmentLines(t, p)
			writeLines(t, p, append(l[:4], l[5:]...))
		}, seg3 + " line 5 (record seq"},
		{"reorder two lines", func(dir string) {
			p := filepath.Join(dir, seg3)
			l := segmentLines(t, p)
			l[6], l[7] = l[7], l[6]
			writeLines(t, p, l)
		}, seg3 + " line 7 (record seq"},
		{"truncate the newest segment", func(dir string) {
			segs, _ := audit.ListSegments(dir)
			for i := len(segs) - 1; i >= 0; i-- {
				if l := segmentLines(t, segs[i].Path); len(l) > 0 {
					writeLines(t, segs[i].Path, l[:len(l)-1])
					return
				}
			}
		}, "records were removed"},
		{"truncate an older segment mid-record", func(dir string) {
			p := filepath.Join(dir, seg3)
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()-100)
		}, seg3 + " line"},
		{"delete a whole segment", func(dir string) { os.Remove(filepath.Join(dir, seg3)) }, seg3 + ": segment is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(clean)); err != nil {
				t.Fatal(err)
			}
			tc.edit(dir)
			out, errOut, code := mcpgovRun(t, "audit", "verify", dir)
			if code != 3 || !strings.HasPrefix(out, "FAILED: ") || !strings.Contains(out, tc.want) || !strings.Contains(out, "audit-") {
				t.Fatalf("verify after %s: exit %d, want 3 naming %q\n%s%s", tc.name, code, tc.want, out, errOut)
			}
			if !strings.Contains(errOut, "audit trail does not verify") {
				t.Fatalf("stderr: %s", errOut)
			}
			t.Log(strings.TrimSpace(out))
			jsonOut, _, code := mcpgovRun(t, "audit", "verify", "--json", dir)
			var rep struct {
				OK    bool `json:"ok"`
				Error struct {
					Segment string `json:"segment"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(jsonOut), &rep); err != nil || code != 3 || rep.OK || rep.Error.Segment == "" {
				t.Fatalf("verify --json: exit %d %v\n%s", code, err, jsonOut)
			}
		})
	}
}
