package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
)

// duckdb runs SQL in a real DuckDB (npm @duckdb/node-api through
// duckdb-query, installed by make e2e-deps) and returns the rows.
func duckdb(t *testing.T, sql string) []map[string]any {
	t.Helper()
	out, err := exec.Command("duckdb-query", sql).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("duckdb %q: %v\n%s", sql, err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return rows
}

func queryCount(t *testing.T, args ...string) int {
	t.Helper()
	out, errOut, code := mcpgovRun(t, append([]string{"audit", "query", "--count"}, args...)...)
	if code != 0 {
		t.Fatalf("audit query %v: exit %d\n%s", args, code, errOut)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("audit query --count printed %q", out)
	}
	return n
}

// TestAuditParquetDuckDB exports a trail as Parquet and reads it with a
// real DuckDB: the counts per decision, per outcome and per day partition
// equal what `mcpgov audit query` counts, and the nested columns read.
func TestAuditParquetDuckDB(t *testing.T) {
	if ok, err := haveProgram("duckdb-query"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("duckdb-query not installed (make e2e-deps)")
	}
	dir, out := t.TempDir(), t.TempDir()
	seedTrail(t, dir, 600, 64<<10)
	stdout, errOut, code := mcpgovRun(t, "audit", "export", "--dir", dir, "--format", "parquet", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	var rep struct {
		Records int      `json:"records"`
		Files   []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Records != 600 || len(rep.Files) != 4 {
		t.Fatalf("export report: %v\n%s", err, stdout)
	}
	for _, f := range rep.Files {
		if !strings.Contains(f, string(filepath.Separator)+"dt=2026-11-2") || !strings.HasSuffix(f, ".parquet") {
			t.Fatalf("file %s is not in a dt=YYYY-MM-DD partition", f)
		}
	}
	src := "read_parquet('" + filepath.Join(out, "*", "*.parquet") + "', hive_partitioning = true)"

	for _, row := range duckdb(t, "SELECT decision, count(*) AS n FROM "+src+" GROUP BY decision ORDER BY decision") {
		d := row["decision"].(string)
		if got, want := int(row["n"].(float64)), queryCount(t, "--dir", dir, "--decision", d); got != want {
			t.Errorf("decision %s: DuckDB counts %d, audit query %d", d, got, want)
		}
	}
	outcomes := duckdb(t, "SELECT outcome, count(*) AS n FROM "+src+" GROUP BY outcome ORDER BY outcome")
	if len(outcomes) != 5 {
		t.Fatalf("outcomes: %v", outcomes)
	}
	for _, row := range outcomes {
		o := row["outcome"].(string)
		if got, want := int(row["n"].(float64)), queryCount(t, "--dir", dir, "--decision", o); got != want {
			t.Errorf("outcome %s: DuckDB counts %d, audit query %d", o, got, want)
		}
	}
	days := duckdb(t, "SELECT CAST(dt AS VARCHAR) AS day, count(*) AS n FROM "+src+" GROUP BY dt ORDER BY dt")
	if len(days) != 4 {
		t.Fatalf("partitions: %v", days)
	}
	for _, row := range days {
		day := row["day"].(string)
		next := map[string]string{"2026-11-21": "2026-11-22", "2026-11-22": "2026-11-23", "2026-11-23": "2026-11-24", "2026-11-24": "2026-11-25"}[day]
		if got, want := int(row["n"].(float64)), queryCount(t, "--dir", dir, "--since", day, "--until", next); got != want {
			t.Errorf("partition dt=%s: DuckDB counts %d, audit query %d", day, got, want)
		}
	}
	// Nested and typed columns: guardrail structs, JSON arguments,
	// timestamps, the chain hash.
	row := duckdb(t, `SELECT count(*) FILTER (WHERE len(guardrails) > 0) AS guarded,
		count(*) FILTER (WHERE guardrails[1].mutated) AS mutated,
		sum(CAST(json_extract(arguments, '$.n') AS BIGINT)) AS nsum,
		min(seq) AS lo, max(seq) AS hi, count(DISTINCT id) AS ids,
		count(*) FILTER (WHERE length(prev) = 64) AS chained,
		CAST(min(time) AS VARCHAR) AS first FROM `+src)[0]
	redacted := queryCount(t, "--dir", dir, "--decision", "redacted")
	want := map[string]float64{"guarded": float64(redacted), "mutated": float64(redacted), "nsum": 599 * 600 / 2, "lo": 1, "hi": 600, "ids": 600, "chained": 600}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %v, want %v (row %v)", k, row[k], v, row)
		}
	}
	if row["first"] != "2026-11-21 09:00:00+00" {
		t.Errorf("first time %v", row["first"])
	}
}

// TestAuditExportJSONLAndOCSF checks the other two export formats: JSON
// Lines byte for byte as stored, OCSF API Activity events one per record.
func TestAuditExportJSONLAndOCSF(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	seedTrail(t, dir, 120, 16<<10)
	var stored []byte
	segs, _ := audit.ListSegments(dir)
	for _, s := range segs {
		b, _ := os.ReadFile(s.Path)
		stored = append(stored, b...)
	}
	stdout, errOut, code := mcpgovRun(t, "audit", "export", "--dir", dir, "--format", "jsonl", "--out", out)
	if code != 0 {
		t.Fatalf("export jsonl: exit %d\n%s", code, errOut)
	}
	got, err := os.ReadFile(strings.TrimSpace(stdout))
	if err != nil || !bytes.Equal(got, stored) {
		t.Fatalf("jsonl export differs from the stored lines (%v)", err)
	}
	stdout, errOut, code = mcpgovRun(t, "audit", "export", "--dir", dir, "--format", "ocsf", "--out", out)
	if code != 0 {
		t.Fatalf("export ocsf: exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 120 {
		t.Fatalf("ocsf: %d events", len(lines))
	}
	blocked := 0
	for _, l := range lines {
		var ev struct {
			ClassUID    int    `json:"class_uid"`
			TypeUID     int    `json:"type_uid"`
			ActionID    int    `json:"action_id"`
			Disposition string `json:"disposition"`
			Metadata    struct {
				UID string `json:"uid"`
			} `json:"metadata"`
			Resources []struct{ Name string } `json:"resources"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ClassUID != 6003 || ev.TypeUID != 600399 || ev.Metadata.UID == "" || len(ev.Resources) != 1 {
			t.Fatalf("ocsf event: %v %s", err, l)
		}
		if ev.ActionID == 2 && ev.Disposition == "Blocked" {
			blocked++
		}
	}
	if want := queryCount(t, "--dir", dir, "--decision", "deny"); blocked != want {
		t.Fatalf("ocsf blocked %d, query deny %d", blocked, want)
	}
}
