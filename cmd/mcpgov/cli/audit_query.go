package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditQueryOptions are the inputs of `mcpgov audit query`.
type AuditQueryOptions struct {
	IO       *IOStreams
	Factory  *Factory
	Dir      string
	Since    string
	Until    string
	Server   string
	Tool     string
	Identity string
	Decision string
	Kind     string
	Limit    int
	Count    bool
	Format   string
	JSON     bool
}

func newAuditQueryCmd(f *Factory, runF func(*AuditQueryOptions) error) *cobra.Command {
	opts := &AuditQueryOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Find audit records by time, server, tool, identity and decision",
		Long: `Read the local audit store and print the records that match every filter
given. --since and --until take a time (2026-11-23, 2026-11-23T10:00:00Z) or
an age counted back from now (90m, 24h, 7d). --decision takes allow or deny
(calls and servers), hidden (tools a tools/list hid: not allowed, drifted
from their pin, or flagged by review; one record per tool and session), or
an outcome: allowed, denied, error, cancelled, redacted.

Piped, each record is one tab-separated line (--format plain; --format tsv
adds a header line): TIME (UTC), SEQ, KIND, DECISION (allow, deny, hidden),
OUTCOME, IDENTITY (email or subject), SERVER (catalog ID, else name), TOOL,
REASON; "-" stands for an empty field. --format jsonl prints the stored
lines byte for byte; --json wraps the records in a report; --count prints
only how many matched. A segment that
holds something other than records is an error naming it, never skipped.`,
		Example: `  mcpgov audit query --since 24h --decision deny
  mcpgov audit query --server github --tool create_issue --json
  mcpgov audit query --identity alice@example.com --count`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := audit.ValidDecision(opts.Decision); err != nil {
				return &FlagError{Err: err}
			}
			if opts.Limit < 0 {
				return flagErrorf("invalid --limit %d: want 0 (no limit) or more", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return auditQueryRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	addAuditFilterFlags(cmd, &opts.Since, &opts.Until)
	cmd.Flags().StringVar(&opts.Server, "server", "", "only this server (catalog ID or name)")
	cmd.Flags().StringVar(&opts.Tool, "tool", "", "only this tool")
	cmd.Flags().StringVar(&opts.Identity, "identity", "", "only calls by this subject or email")
	cmd.Flags().StringVar(&opts.Decision, "decision", "", "allow, deny, hidden (tools a listing hid), or an outcome (allowed, denied, error, cancelled, redacted)")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only this kind of record (tool_call, placeholder, server_refused, tool_drift, …)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "stop after this many records (0: all)")
	cmd.Flags().BoolVar(&opts.Count, "count", false, "print only the number of matching records")
	cmd.Flags().StringVar(&opts.Format, "format", "", "output format: table, plain, tsv, json or jsonl (default: table on a terminal, plain when piped)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "shorthand for --format json")
	_ = cmd.RegisterFlagCompletionFunc("decision", fixedCompletion("allow", "deny", "hidden", "allowed", "denied", "error", "cancelled", "redacted"))
	return cmd
}

func addAuditFilterFlags(cmd *cobra.Command, since, until *string) {
	cmd.Flags().StringVar(since, "since", "", "only records at or after this time or age (2026-11-23, 24h, 7d)")
	cmd.Flags().StringVar(until, "until", "", "only records before this time or age")
}

type auditQueryReport struct {
	SchemaVersion int             `json:"schemaVersion"`
	Dir           string          `json:"dir"`
	Count         int             `json:"count"`
	Records       []*audit.Record `json:"records"`
}

var errLimit = errors.New("limit reached")

func auditQueryRun(opts *AuditQueryOptions) error {
	format, err := resolveFormat(opts.IO, opts.Format, opts.JSON, formatTable, formatPlain, formatTSV, formatJSON, "jsonl")
	if err != nil {
		return err
	}
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	filter := audit.Filter{Server: opts.Server, Tool: opts.Tool, Identity: opts.Identity, Decision: opts.Decision, Kind: opts.Kind}
	now := opts.Factory.Now()
	if filter.Since, err = auditTime("--since", opts.Since, now); err != nil {
		return err
	}
	if filter.Until, err = auditTime("--until", opts.Until, now); err != nil {
		return err
	}
	rep := auditQueryReport{SchemaVersion: 1, Dir: s.Dir, Records: []*audit.Record{}}
	w := newTabWriter(opts.IO.Out)
	if format == formatTable && !opts.Count {
		fmt.Fprintln(w, palette{on: opts.IO.ColorEnabled()}.bold(auditLineHeader))
	}
	if format == formatTSV && !opts.Count {
		fmt.Fprintln(opts.IO.Out, auditLineHeader)
	}
	err = audit.Records(s.Dir, filter, func(r *audit.Record, line []byte) error {
		rep.Count++
		switch {
		case opts.Count:
		case format == formatJSON:
			rep.Records = append(rep.Records, r)
		case format == "jsonl":
			if _, err := opts.IO.Out.Write(append(line, '\n')); err != nil {
				return err
			}
		case format == formatTable:
			printRecordLine(w, r)
		default:
			printRecordLine(opts.IO.Out, r)
		}
		if opts.Limit > 0 && rep.Count >= opts.Limit {
			return errLimit
		}
		return nil
	})
	if err != nil && !errors.Is(err, errLimit) {
		return fmt.Errorf("query audit trail %s: %w", s.Dir, err)
	}
	switch {
	case opts.Count && format == formatJSON:
		rep.Records = nil
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int    `json:"schemaVersion"`
			Dir           string `json:"dir"`
			Count         int    `json:"count"`
		}{1, s.Dir, rep.Count})
	case opts.Count:
		fmt.Fprintln(opts.IO.Out, rep.Count)
	case format == formatJSON:
		return writeJSON(opts.IO.Out, rep)
	case format == formatTable:
		return w.Flush()
	}
	return nil
}
