package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// collector is a real OpenTelemetry Collector (otelcol-mcpgov, built by
// make otelcol) receiving OTLP/HTTP logs and traces on a loopback port and
// writing what it receives to a file, one export request per line.
type collector struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	out  string
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startCollector(t *testing.T, addr, out string) *collector {
	t.Helper()
	config := filepath.Join(t.TempDir(), "otelcol.yaml")
	yaml := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file]
    traces:
      receivers: [otlp]
      exporters: [file]
`, addr, out)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("otelcol-mcpgov", "--config", config)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, cmd: cmd, addr: addr, out: out}
	t.Cleanup(c.stop)
	await.Until(t, "the collector listening on "+addr, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return c
}

// stop shuts the collector down cleanly (it flushes the file).
func (c *collector) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	if !await.Closed(c.t, done) {
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// receivedIDs reads the collector's output files and returns the
// mcpgov.audit.id of every log record, with how often each arrived.
func receivedIDs(t *testing.T, files ...string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// The collector may be writing its last line: only whole lines
		// count, the rest is read on the next look.
		b = b[:bytes.LastIndexByte(b, '\n')+1]
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var req struct {
				ResourceLogs []struct {
					ScopeLogs []struct {
						LogRecords []struct {
							EventName  string `json:"eventName"`
							Attributes []struct {
								Key   string `json:"key"`
								Value struct {
									StringValue string `json:"stringValue"`
								} `json:"value"`
							} `json:"attributes"`
							Body struct {
								KvlistValue *struct{} `json:"kvlistValue"`
							} `json:"body"`
						} `json:"logRecords"`
					} `json:"scopeLogs"`
				} `json:"resourceLogs"`
			}
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				t.Fatalf("collector output %s: %v", f, err)
			}
			for _, rl := range req.ResourceLogs {
				for _, sl := range rl.ScopeLogs {
					for _, lr := range sl.LogRecords {
						if lr.EventName != audit.EventName || lr.Body.KvlistValue == nil {
							t.Fatalf("log record without event name or structured body: %+v", lr)
						}
						for _, a := range lr.Attributes {
							if a.Key == "mcpgov.audit.id" {
								ids[a.Value.StringValue]++
							}
						}
					}
				}
			}
		}
	}
	return ids
}

// waitFor polls the collector's files until want records arrived (the file
// exporter flushes on an interval) or the test's deadline is near.
func waitFor(t *testing.T, want []*audit.Record, files ...string) map[string]int {
	t.Helper()
	deadline := await.Deadline(t)
	for {
		ids := receivedIDs(t, files...)
		missing := 0
		for _, r := range want {
			if ids[r.ID] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never reached the collector", missing, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func appendMore(t *testing.T, dir string, n int) []*audit.Record {
	t.Helper()
	s, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*audit.Record
	for i := range n {
		r := &audit.Record{Kind: audit.KindToolCall, Tool: "later", Outcome: audit.OutcomeAllowed, Identity: audit.Identity{Method: "none"},
			Decision: audit.Decision{Allow: true, Mode: "enforce"}, Arguments: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
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

// TestAuditShipOTLP ships a trail to a real OpenTelemetry Collector, then
// across an outage: with the collector down `audit ship` fails and keeps
// its cursor, and `audit ship --follow` running through a collector
// restart delivers every record appended meanwhile.
func TestAuditShipOTLP(t *testing.T) {
	if ok, err := haveProgram("otelcol-mcpgov"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("otelcol-mcpgov not built (make otelcol)")
	}
	dir, outDir := t.TempDir(), t.TempDir()
	addr := freePort(t)
	url := "http://" + addr
	out1, out2 := filepath.Join(outDir, "logs-1.jsonl"), filepath.Join(outDir, "logs-2.jsonl")

	recs := seedTrail(t, dir, 1200, 1<<20)
	c := startCollector(t, addr, out1)
	stdout, errOut, code := mcpgovRun(t, "audit", "ship", "--dir", dir, "--otlp", url, "--batch", "250", "--json")
	if code != 0 || !strings.Contains(stdout, `"sent": 1200`) || !strings.Contains(stdout, `"cursor": 1200`) {
		t.Fatalf("ship: exit %d\n%s%s", code, stdout, errOut)
	}
	waitFor(t, recs, out1)

	// Collector down: shipping fails with the cursor where it was.
	c.stop()
	more := appendMore(t, dir, 300)
	stdout, errOut, code = mcpgovRun(t, "audit", "ship", "--dir", dir, "--otlp", url)
	if code != 1 || !strings.Contains(errOut, "cursor at seq 1200") || !strings.Contains(errOut, "hint: run it again") {
		t.Fatalf("ship to a stopped collector: exit %d\n%s%s", code, stdout, errOut)
	}

	// --follow through the outage: it retries until the collector is back.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := exec.CommandContext(ctx, "mcpgov", "audit", "ship", "--dir", dir, "--otlp", url, "--batch", "100", "--follow", "--interval", "200ms")
	follow.Env = append(os.Environ(), "MCPGOV_CONFIG=")
	follow.Cancel = func() error { return follow.Process.Signal(os.Interrupt) }
	followErr := &syncBuffer{}
	follow.Stderr = followErr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "ship --follow reporting the outage", func() bool {
		return strings.Contains(followErr.String(), "retrying in")
	})
	startCollector(t, addr, out2)
	waitFor(t, more, out2)
	last := appendMore(t, dir, 50) // appended while --follow runs
	ids := waitFor(t, append(append(append([]*audit.Record{}, recs...), more...), last...), out1, out2)
	cancel()
	_ = follow.Wait()
	if len(ids) != 1550 {
		t.Fatalf("collector holds %d distinct records, want 1550", len(ids))
	}
	sh := audit.Shipper{Dir: dir, Endpoint: url}
	if cur, err := sh.Cursor(); err != nil || cur != 1550 {
		t.Fatalf("cursor %d, %v", cur, err)
	}
	t.Logf("1550 records delivered across a collector restart; follow log:\n%s", followErr.String())
}
