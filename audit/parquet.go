package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// ParquetRow is one record as a Parquet row: the columns analysts filter
// on are flat, guardrail results a list of structs, arguments a JSON
// string (Athena and older Spark do not read VARIANT).
type ParquetRow struct {
	Seq             int64          `parquet:"seq,delta"`
	ID              string         `parquet:"id"`
	Time            time.Time      `parquet:"time,timestamp(microsecond)"`
	Kind            string         `parquet:"kind,dict"`
	Session         string         `parquet:"session,dict"`
	IdentitySubject string         `parquet:"identity_subject,dict"`
	IdentityEmail   string         `parquet:"identity_email,dict"`
	IdentityMethod  string         `parquet:"identity_method,dict"`
	IdentityGroups  []string       `parquet:"identity_groups,list"`
	ClientName      string         `parquet:"client_name,dict"`
	ClientVersion   string         `parquet:"client_version,dict"`
	ServerID        string         `parquet:"server_id,dict"`
	ServerName      string         `parquet:"server_name,dict"`
	ServerTransport string         `parquet:"server_transport,dict"`
	Method          string         `parquet:"method,dict"`
	Tool            string         `parquet:"tool,dict"`
	Outcome         string         `parquet:"outcome,dict"`
	Reason          string         `parquet:"reason"`
	Logging         string         `parquet:"logging,dict"`
	Arguments       string         `parquet:"arguments,json"`
	ArgumentsKept   string         `parquet:"arguments_kept,dict"`
	ToolAnnotations string         `parquet:"tool_annotations,json"`
	ResultIsError   bool           `parquet:"result_is_error"`
	ResultBytes     int64          `parquet:"result_bytes"`
	ResultRedacted  int64          `parquet:"result_redactions"`
	Decision        string         `parquet:"decision,dict"` // allow | deny
	DecisionMode    string         `parquet:"decision_mode,dict"`
	Enforced        bool           `parquet:"decision_enforced"`
	PreDenied       bool           `parquet:"decision_pre_denied"`
	Reasons         []string       `parquet:"decision_reasons,list"`
	RuleIDs         []string       `parquet:"decision_rule_ids,list"`
	BundleRevision  string         `parquet:"bundle_revision,dict"`
	Guardrails      []GuardrailRow `parquet:"guardrails,list"`
	LatencyTotalUS  int64          `parquet:"latency_total_us"`
	UpstreamUS      int64          `parquet:"latency_upstream_us"`
	PolicyUS        int64          `parquet:"latency_policy_us"`
	CostTotal       float64        `parquet:"cost_total"`
	Prev            string         `parquet:"prev"`
}

// GuardrailRow is one guardrail result in a ParquetRow.
type GuardrailRow struct {
	Name       string `parquet:"name"`
	Hook       string `parquet:"hook"`
	Mode       string `parquet:"mode"`
	Verdict    string `parquet:"verdict"`
	Findings   int64  `parquet:"findings"`
	DurationUS int64  `parquet:"duration_us"`
	Mutated    bool   `parquet:"mutated"`
	Error      string `parquet:"error"`
}

func toParquetRow(r *Record) ParquetRow {
	row := ParquetRow{
		Seq: int64(r.Seq), ID: r.ID, Time: r.Time.UTC(), Kind: r.Kind, Session: r.Session,
		IdentitySubject: r.Identity.Subject, IdentityEmail: r.Identity.Email, IdentityMethod: r.Identity.Method,
		IdentityGroups: r.Identity.Groups, ClientName: r.Client.Name, ClientVersion: r.Client.Version,
		ServerID: r.Server.ID, ServerName: r.Server.Name, ServerTransport: r.Server.Transport,
		Method: r.Method, Tool: r.Tool, Outcome: r.Outcome, Reason: r.Reason, Logging: r.Logging,
		Arguments: string(r.Arguments), Decision: DecisionOf(r), DecisionMode: r.Decision.Mode,
		Enforced: r.Decision.Enforced, Reasons: r.Decision.Reasons, RuleIDs: r.Decision.RuleIDs,
		BundleRevision: r.Decision.Revision, LatencyTotalUS: r.Latency.TotalUS,
		UpstreamUS: r.Latency.UpstreamUS, PolicyUS: r.Latency.PolicyUS, Prev: r.Prev,
	}
	if row.Arguments == "" {
		row.Arguments = "null"
	}
	row.ArgumentsKept, row.PreDenied = r.ArgumentsKept, r.Decision.PreDenied
	row.ToolAnnotations = string(r.ToolAnnotations)
	if row.ToolAnnotations == "" {
		row.ToolAnnotations = "null"
	}
	if r.Cost != nil {
		row.CostTotal = r.Cost.Total
	}
	if r.Result != nil {
		row.ResultIsError, row.ResultBytes, row.ResultRedacted = r.Result.IsError, int64(r.Result.Bytes), int64(r.Result.Redactions)
	}
	for _, g := range r.Guardrails {
		row.Guardrails = append(row.Guardrails, GuardrailRow{Name: g.Name, Hook: g.Hook, Mode: g.Mode, Verdict: g.Verdict,
			Findings: int64(len(g.Findings)), DurationUS: g.DurationUS, Mutated: g.Mutated, Error: g.Error})
	}
	return row
}

// parquetPart is one partition file being written.
type parquetPart struct {
	tmp         string
	f           *os.File
	w           *parquet.GenericWriter[ParquetRow]
	first, last uint64
	rows        int
}

// ParquetExporter writes records as zstd Parquet files in Hive partitions
// OUT/dt=YYYY-MM-DD/part-FIRSTSEQ-LASTSEQ.parquet (by record time, UTC).
// Files appear under their final name only when complete.
type ParquetExporter struct {
	Out     string
	Created string // written as the file's created_by
	parts   map[string]*parquetPart
	batch   []ParquetRow
}

// Add queues one record.
func (e *ParquetExporter) Add(r *Record) error {
	if e.parts == nil {
		e.parts = map[string]*parquetPart{}
	}
	day := r.Time.UTC().Format("2006-01-02")
	p := e.parts[day]
	if p == nil {
		dir := filepath.Join(e.Out, "dt="+day)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create partition: %w", err)
		}
		f, err := os.CreateTemp(dir, ".part-*.parquet.tmp")
		if err != nil {
			return fmt.Errorf("create partition file: %w", err)
		}
		p = &parquetPart{tmp: f.Name(), f: f, first: r.Seq,
			w: parquet.NewGenericWriter[ParquetRow](f,
				parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
				parquet.MaxRowsPerRowGroup(100_000),
				parquet.CreatedBy("mcpgov", orDefault(e.Created, "dev"), ""),
				parquet.KeyValueMetadata("mcpgov.schema_version", fmt.Sprint(SchemaVersion)))}
		e.parts[day] = p
	}
	e.batch = append(e.batch[:0], toParquetRow(r))
	if _, err := p.w.Write(e.batch); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	p.last = r.Seq
	p.rows++
	return nil
}

// Close finishes every partition file and returns their paths, sorted.
func (e *ParquetExporter) Close() ([]string, error) {
	var files []string
	var firstErr error
	for _, p := range e.parts {
		err := p.w.Close()
		if err == nil {
			err = p.f.Sync()
		}
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
		final := filepath.Join(filepath.Dir(p.tmp), fmt.Sprintf("part-%012d-%012d.parquet", p.first, p.last))
		if err == nil {
			err = os.Rename(p.tmp, final)
		}
		if err != nil {
			os.Remove(p.tmp)
			if firstErr == nil {
				firstErr = fmt.Errorf("finish %s: %w", final, err)
			}
			continue
		}
		files = append(files, final)
	}
	sort.Strings(files)
	return files, firstErr
}
