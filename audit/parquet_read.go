package audit

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ReadParquet reads records back from a Parquet export (`audit export
// --format parquet`): one file, or every *.parquet under a directory, in
// sequence order. What the export flattens comes back as it was stored
// (arguments, annotations, decision, guardrail names and verdicts);
// findings and result details, which it counts, do not.
func ReadParquet(path string) ([]*Record, error) {
	var files []string
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		files = []string{path}
	}
	var recs []*Record
	for _, f := range files {
		rows, err := parquet.ReadFile[ParquetRow](f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		for i := range rows {
			recs = append(recs, fromParquetRow(&rows[i]))
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	return recs, nil
}

func fromParquetRow(row *ParquetRow) *Record {
	r := &Record{
		Version: SchemaVersion, ID: row.ID, Seq: uint64(row.Seq), Time: row.Time.UTC(), Kind: row.Kind, Session: row.Session,
		Identity: Identity{Subject: row.IdentitySubject, Email: row.IdentityEmail, Method: row.IdentityMethod, Groups: row.IdentityGroups},
		Client:   Client{Name: row.ClientName, Version: row.ClientVersion},
		Server:   ServerRef{ID: row.ServerID, Name: row.ServerName, Transport: row.ServerTransport},
		Method:   row.Method, Tool: row.Tool, Outcome: row.Outcome, Reason: row.Reason, Logging: row.Logging,
		ArgumentsKept: row.ArgumentsKept,
		Decision: Decision{Allow: row.Decision == "allow", Enforced: row.Enforced, Mode: row.DecisionMode,
			Reasons: row.Reasons, RuleIDs: row.RuleIDs, Revision: row.BundleRevision, PreDenied: row.PreDenied},
		Latency: Latency{TotalUS: row.LatencyTotalUS, UpstreamUS: row.UpstreamUS, PolicyUS: row.PolicyUS},
		Prev:    row.Prev,
	}
	if row.Kind == KindPlaceholder {
		// The export keeps what a placeholder stands for only as its kind.
		r.SuppressedKind = KindToolCall
	}
	if row.Arguments != "" && row.Arguments != "null" && json.Valid([]byte(row.Arguments)) {
		r.Arguments = json.RawMessage(row.Arguments)
	}
	if row.ToolAnnotations != "" && row.ToolAnnotations != "null" && json.Valid([]byte(row.ToolAnnotations)) {
		r.ToolAnnotations = json.RawMessage(row.ToolAnnotations)
	}
	if row.Kind == KindToolCall || row.Kind == KindPlaceholder {
		r.Result = &ResultSummary{IsError: row.ResultIsError, Bytes: int(row.ResultBytes), Redactions: int(row.ResultRedacted)}
	}
	if row.CostTotal != 0 {
		r.Cost = &Cost{Total: row.CostTotal}
	}
	for _, g := range row.Guardrails {
		r.Guardrails = append(r.Guardrails, Guardrail{Name: g.Name, Hook: g.Hook, Mode: g.Mode, Verdict: g.Verdict, DurationUS: g.DurationUS, Mutated: g.Mutated, Error: g.Error})
	}
	return r
}
