package cli

import (
	"errors"
	"fmt"
	"sort"

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
	// SumCost groups the matching records' cost by identity, team or
	// server.
	SumCost string
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
only how many matched. --sum-cost BY sums the cost of the matching calls
(the catalog's prices, spent against its budgets) by identity, team (each
of the caller's groups) or server: one line per group, GROUP, CALLS, COST,
most expensive first. A segment that
holds something other than records is an error naming it, never skipped.`,
		Example: `  mcpgov audit query --since 24h --decision deny
  mcpgov audit query --server github --tool create_issue --json
  mcpgov audit query --identity alice@example.com --count
  mcpgov audit query --since 30d --sum-cost team`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := audit.ValidDecision(opts.Decision); err != nil {
				return &FlagError{Err: err}
			}
			switch opts.SumCost {
			case "", "identity", "team", "server":
			default:
				return flagErrorf("invalid --sum-cost %q: want identity, team or server", opts.SumCost)
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
	cmd.Flags().StringVar(&opts.SumCost, "sum-cost", "", "sum the calls' cost by identity, team or server")
	_ = cmd.RegisterFlagCompletionFunc("sum-cost", fixedCompletion("identity", "team", "server"))
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
	if opts.SumCost != "" {
		return auditSumCost(opts, s.Dir, filter, format)
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

// costSum is one group of --sum-cost.
type costSum struct {
	Group string  `json:"group"`
	Calls int     `json:"calls"`
	Cost  float64 `json:"cost"`
}

func auditSumCost(opts *AuditQueryOptions, dir string, filter audit.Filter, format string) error {
	sums := map[string]*costSum{}
	add := func(group string, c float64) {
		g := sums[group]
		if g == nil {
			g = &costSum{Group: group}
			sums[group] = g
		}
		g.Calls++
		g.Cost += c
	}
	err := audit.Records(dir, filter, func(r *audit.Record, _ []byte) error {
		if r.Cost == nil {
			return nil
		}
		switch opts.SumCost {
		case "identity":
			id := r.Identity.Email
			if id == "" {
				id = r.Identity.Subject
			}
			if id == "" {
				id = "anonymous"
			}
			add(id, r.Cost.Total)
		case "team":
			if len(r.Identity.Groups) == 0 {
				add("(no team)", r.Cost.Total)
			}
			for _, g := range r.Identity.Groups {
				add(g, r.Cost.Total)
			}
		default:
			srv := r.Server.ID
			if srv == "" {
				srv = r.Server.Name
			}
			add(srv, r.Cost.Total)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("query audit trail %s: %w", dir, err)
	}
	out := make([]*costSum, 0, len(sums))
	for _, g := range sums {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cost != out[j].Cost {
			return out[i].Cost > out[j].Cost
		}
		return out[i].Group < out[j].Group
	})
	if format == formatJSON {
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int        `json:"schemaVersion"`
			Dir           string     `json:"dir"`
			By            string     `json:"by"`
			Sums          []*costSum `json:"sums"`
		}{1, dir, opts.SumCost, out})
	}
	w := newTabWriter(opts.IO.Out)
	if format == formatTable || format == formatTSV {
		fmt.Fprintln(w, palette{on: opts.IO.ColorEnabled() && format == formatTable}.bold("GROUP\tCALLS\tCOST"))
	}
	for _, g := range out {
		fmt.Fprintf(w, "%s\t%d\t%.4f\n", g.Group, g.Calls, g.Cost)
	}
	return w.Flush()
}
