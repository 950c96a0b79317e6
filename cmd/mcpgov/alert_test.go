package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/audittest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func writeTrail(t *testing.T, recs []*audit.Record) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "audit")
	s, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// alertLogs reads the collector's files: the severity of each alert log
// record, by rule.
func alertLogs(t *testing.T, file string) map[string]int {
	t.Helper()
	got := map[string]int{}
	b, err := os.ReadFile(file)
	if err != nil {
		return got
	}
	// The collector may be mid-write: a last line without its newline is
	// not there yet.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var req struct {
			ResourceLogs []struct {
				ScopeLogs []struct {
					LogRecords []struct {
						EventName      string `json:"eventName"`
						SeverityNumber int    `json:"severityNumber"`
						Attributes     []struct {
							Key   string `json:"key"`
							Value struct {
								StringValue string `json:"stringValue"`
							} `json:"value"`
						} `json:"attributes"`
					} `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			t.Fatal(err)
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					if lr.EventName != audit.AlertEventName {
						t.Fatalf("log record %+v is not an alert", lr)
					}
					for _, a := range lr.Attributes {
						if a.Key == "mcpgov.alert.rule" {
							got[a.Value.StringValue] = lr.SeverityNumber
						}
					}
				}
			}
		}
	}
	return got
}

// TestAuditAlert: the alert rules fire on a synthetic trail with one
// anomaly per rule — printed, appended to the trail as alert records, and
// sent to a real OpenTelemetry Collector with their severity — and stay
// quiet on the same trail without the anomalies.
func TestAuditAlert(t *testing.T) {
	if ok, err := haveProgram("otelcol-mcpgov"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("otelcol-mcpgov not built (make otelcol)")
	}
	sb := newSandbox(t)
	rules := filepath.Join(t.TempDir(), "alerts.toml")
	if err := os.WriteFile(rules, []byte(audittest.AlertRules), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	out := filepath.Join(t.TempDir(), "alerts.jsonl")
	c := startCollector(t, addr, out)

	clean := writeTrail(t, audittest.AlertTrail(false))
	if got := sb.must("", "audit", "alert", "--rules", rules, "--dir", clean, "--json", "--record", "--otlp", "http://"+addr).Stdout; got != "" {
		t.Fatalf("alerts on the clean trail:\n%s", got)
	}

	dir := writeTrail(t, audittest.AlertTrail(true))
	stdout := sb.must("", "audit", "alert", "--rules", rules, "--dir", dir, "--json", "--record", "--otlp", "http://"+addr).Stdout
	fired := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var a audit.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		fired[a.Rule] = a.Severity
	}
	want := map[string]string{"volume": "warning", "db-after-hours": "critical", "no-access": "error", "guardrail-spike": "warning"}
	for rule, sev := range want {
		if fired[rule] != sev {
			t.Errorf("rule %s: fired with severity %q, want %q (all: %v)", rule, fired[rule], sev, fired)
		}
	}
	if len(fired) != len(want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
	if got := strings.TrimSpace(sb.must("", "audit", "query", "--dir", dir, "--kind", audit.KindAlert, "--count").Stdout); got != "4" {
		t.Errorf("alert records in the trail: %s, want 4", got)
	}
	if got := strings.TrimSpace(sb.must("", "audit", "query", "--dir", clean, "--kind", audit.KindAlert, "--count").Stdout); got != "0" {
		t.Errorf("alert records in the clean trail: %s, want 0", got)
	}
	sevs := map[string]int{"volume": 13, "db-after-hours": 21, "no-access": 17, "guardrail-spike": 13}
	await.Until(t, "the collector writes the four alerts", func() bool { return len(alertLogs(t, out)) == len(sevs) })
	c.stop()
	got := alertLogs(t, out)
	for rule, n := range sevs {
		if got[rule] != n {
			t.Errorf("OTLP alert %s: severity %d, want %d (all: %v)", rule, got[rule], n, got)
		}
	}
}

// TestAuditAlertFollow: with --follow the rules run on records as they
// are appended, and an alert appears once its anomaly is in the trail.
func TestAuditAlertFollow(t *testing.T) {
	sb := newSandbox(t)
	rules := filepath.Join(t.TempDir(), "alerts.toml")
	if err := os.WriteFile(rules, []byte(audittest.AlertRules), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeTrail(t, audittest.AlertTrail(false))
	ctx, cancel := context.WithCancel(await.Context(t))
	defer cancel()
	cmd := sb.command(ctx, "", "audit", "alert", "--rules", rules, "--dir", dir, "--json", "--follow")
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	s, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	when := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		r := &audit.Record{Kind: audit.KindToolCall, Time: when.Add(time.Duration(i) * time.Minute), Identity: audit.Identity{Method: "none"},
			Server: audit.ServerRef{ID: "github"}, Method: "tools/call", Tool: "search", Outcome: audit.OutcomeDenied,
			Decision: audit.Decision{Enforced: true, PreDenied: true, Mode: "enforce", RuleIDs: []string{"identity-required"}}}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	await.Until(t, "the following alert run reports the no-access alert", func() bool {
		return strings.Contains(stdout.String(), `"rule":"no-access"`)
	})
	if n := strings.Count(strings.TrimSpace(stdout.String()), "\n") + 1; n != 1 {
		t.Errorf("want one alert, got:\n%s", stdout)
	}
}
