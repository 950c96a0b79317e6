package audit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

func TestStoredLinesMatchSchema(t *testing.T) {
	schema, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	sl, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(schema))
	if err != nil {
		t.Fatalf("schema does not compile: %v\n%s", err, schema)
	}
	dir := t.TempDir()
	s, _ := Open(dir, Options{Logging: LoggingHeaderControlled})
	r := testRecord(1)
	r.Guardrails = []Guardrail{{Name: "secrets", Hook: "pre", Mode: "enforce", Verdict: VerdictFail, Findings: []Finding{{Rule: "aws", Message: "AWS key"}}, DurationUS: 12}}
	r.RequestMeta = json.RawMessage(`{"io.mcpgov/logging":"on"}`)
	s.Append(context.Background(), r)
	s.Append(context.Background(), testRecord(2)) // a placeholder
	s.Append(context.Background(), &Record{Kind: KindServerRefused, Reason: "not in the catalog", Identity: Identity{Method: "none"}})
	s.Close()
	n := 0
	err = Records(dir, Filter{}, func(r *Record, line []byte) error {
		res, err := sl.Validate(gojsonschema.NewBytesLoader(line))
		if err != nil {
			return err
		}
		if !res.Valid() {
			t.Errorf("line %d does not match the schema: %v\n%s", r.Seq, res.Errors(), line)
		}
		n++
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("records: %d, %v", n, err)
	}
}

func TestRecordsReportsCorruptSegment(t *testing.T) {
	dir := writeStore(t, 100)
	path := filepath.Join(dir, SegmentName(2))
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("garbage\n"), b...), 0o600)
	err := Records(dir, Filter{}, func(*Record, []byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), SegmentName(2)+" line 1") {
		t.Fatalf("corrupt segment: %v", err)
	}
}
