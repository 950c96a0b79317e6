package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditExportOptions are the inputs of `mcpgov audit export`.
type AuditExportOptions struct {
	IO      *IOStreams
	Factory *Factory
	Dir     string
	Format  string
	Out     string
	Since   string
	Until   string
	JSON    bool
}

func newAuditExportCmd(f *Factory, runF func(*AuditExportOptions) error) *cobra.Command {
	opts := &AuditExportOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "export --format parquet|ocsf|jsonl --out DIR",
		Short: "Export audit records as Parquet, OCSF or JSON Lines",
		Long: `Write the local audit store's records (optionally only those between --since
and --until) into DIR:

  parquet  zstd-compressed Parquet in Hive partitions by record date,
           DIR/dt=YYYY-MM-DD/part-FIRSTSEQ-LASTSEQ.parquet, which DuckDB, Spark
           and Athena read directly (read_parquet('DIR/*/*.parquet',
           hive_partitioning = true))
  ocsf     DIR/ocsf-FIRSTSEQ-LASTSEQ.jsonl: OCSF API Activity events (class 6003)
           with the security_control profile, for SIEMs and Security Lake
  jsonl    DIR/audit-FIRSTSEQ-LASTSEQ.jsonl: the stored lines byte for byte,
           still verifiable

Files appear under their final names only once complete.`,
		Example: `  mcpgov audit export --format parquet --out ./lake
  mcpgov audit export --format ocsf --since 7d --out ./siem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch opts.Format {
			case "parquet", "ocsf", "jsonl":
			case "":
				return flagErrorf("--format is required: parquet, ocsf or jsonl")
			default:
				return flagErrorf("invalid --format %q: want parquet, ocsf or jsonl", opts.Format)
			}
			if opts.Out == "" {
				return flagErrorf("--out DIR is required")
			}
			if runF != nil {
				return runF(opts)
			}
			return auditExportRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.Format, "format", "", "parquet, ocsf or jsonl")
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory to write into (created if missing)")
	addAuditFilterFlags(cmd, &opts.Since, &opts.Until)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was written as JSON")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("parquet", "ocsf", "jsonl"))
	return cmd
}

type auditExportReport struct {
	SchemaVersion int      `json:"schemaVersion"`
	Format        string   `json:"format"`
	Records       int      `json:"records"`
	Files         []string `json:"files"`
}

// lineSink writes JSON lines to a temporary file renamed once complete.
type lineSink struct {
	dir, prefix string
	f           *os.File
	w           *bufio.Writer
	first, last uint64
}

func (s *lineSink) write(seq uint64, line []byte) error {
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "."+s.prefix+"-*.tmp")
		if err != nil {
			return fmt.Errorf("create export file: %w", err)
		}
		s.f, s.w, s.first = f, bufio.NewWriterSize(f, 1<<20), seq
	}
	s.last = seq
	s.w.Write(line)
	return s.w.WriteByte('\n')
}

func (s *lineSink) close() (string, error) {
	if s.f == nil {
		return "", nil
	}
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(s.dir, fmt.Sprintf("%s-%012d-%012d.jsonl", s.prefix, s.first, s.last))
	if err == nil {
		err = os.Rename(s.f.Name(), final)
	}
	if err != nil {
		os.Remove(s.f.Name())
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	return final, nil
}

func auditExportRun(opts *AuditExportOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	var filter audit.Filter
	now := opts.Factory.Now()
	if filter.Since, err = auditTime("--since", opts.Since, now); err != nil {
		return err
	}
	if filter.Until, err = auditTime("--until", opts.Until, now); err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("create --out directory: %w", err)
	}
	rep := auditExportReport{SchemaVersion: 1, Format: opts.Format, Files: []string{}}
	pq := &audit.ParquetExporter{Out: opts.Out, Created: opts.Factory.Version.Version}
	sink := &lineSink{dir: opts.Out, prefix: "audit"}
	if opts.Format == "ocsf" {
		sink.prefix = "ocsf"
	}
	err = audit.Records(s.Dir, filter, func(r *audit.Record, line []byte) error {
		rep.Records++
		switch opts.Format {
		case "parquet":
			return pq.Add(r)
		case "ocsf":
			b, err := json.Marshal(audit.OCSF(r, opts.Factory.Version.Version))
			if err != nil {
				return err
			}
			return sink.write(r.Seq, b)
		}
		return sink.write(r.Seq, line)
	})
	var files []string
	var cerr error
	if opts.Format == "parquet" {
		files, cerr = pq.Close()
	} else if name, e := sink.close(); name != "" || e != nil {
		files, cerr = []string{name}, e
	}
	if err != nil {
		return fmt.Errorf("export audit trail %s: %w", s.Dir, err)
	}
	if cerr != nil {
		return cerr
	}
	for _, f := range files {
		if f != "" {
			rep.Files = append(rep.Files, f)
		}
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, rep)
	}
	opts.IO.Notef("exported %s as %s into %s", plural(rep.Records, "record", "records"), opts.Format, opts.Out)
	for _, f := range rep.Files {
		fmt.Fprintln(opts.IO.Out, f)
	}
	return nil
}
