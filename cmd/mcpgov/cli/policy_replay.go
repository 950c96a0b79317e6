package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy"
)

// PolicyReplayOptions are the inputs of `mcpgov policy replay`.
type PolicyReplayOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	Since   string
	Audit   string
	Parquet string
	JSON    bool
}

func newPolicyReplayCmd(f *Factory, runF func(context.Context, *PolicyReplayOptions) error) *cobra.Command {
	opts := &PolicyReplayOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "replay --bundle CANDIDATE",
		Short: "Re-decide recorded calls under a candidate bundle and show what would change",
		Long: `Read the tool calls in the audit trail (or, with --parquet, a Parquet export
of one) and decide each again under the
candidate bundle, as the shim would before the call goes upstream: its
catalog (blocked servers, allowed tools), guardrails and policies, on the
decision input each record keeps (identity, client, server, tool, its
annotations, the arguments), with each recorded session's facts rebuilt in
order for session rules (input.session: servers, tools, data classes and
untrusted content from the calls before). Print what would change, grouped by change,
rule, server, tool and identity:

  newly_denied        allowed as recorded, refused by the candidate
  newly_allowed       refused as recorded, allowed by the candidate
  newly_redacted      the candidate redacts the results with a guardrail
                      the recorded call did not run (results are not
                      kept, so whether it would find anything is unknown)
  no_longer_redacted  recorded redacted; no candidate guardrail redacts
  undecidable         the logging mode kept no arguments (or only a
                      digest) and the candidate's guardrails or policies
                      read them

A call re-decided on masked arguments (secrets and PII replaced in the
record) counts as approximate. Refusals that came from the moment — a rate
limit, a missing identity, a tool that drifted from its pin, a failed
trail — stand as recorded; rate limits are not counted.

--json prints the report: {"schemaVersion","candidate_revision","calls",
"redecided","unchanged","changes":{CHANGE:N},"groups":[{"change","rule",
"server","tool","identity","count","approximate","reason","seqs"}]}.
Exits 0 whatever would change; 1 on error.`,
		Example: `  mcpgov policy replay --bundle ./governance-next --since 30d
  mcpgov policy replay --bundle ./governance-next --parquet ./lake --json
  mcpgov policy replay --bundle ./governance-next --audit /var/log/mcpgov --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Audit != "" && opts.Parquet != "" {
				return flagErrorf("--audit and --parquet both name the records to replay; give one")
			}
			if opts.Bundle == "" {
				return flagErrorf("--bundle is required: the candidate bundle to replay the trail under")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return policyReplayRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "the candidate governance bundle directory")
	cmd.Flags().StringVar(&opts.Since, "since", "30d", "replay records at or after this time or age (2026-11-23, 24h, 30d)")
	cmd.Flags().StringVar(&opts.Audit, "audit", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.Parquet, "parquet", "", "replay a Parquet export (audit export --format parquet): a file or its directory")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	return cmd
}

func policyReplayRun(ctx context.Context, opts *PolicyReplayOptions) error {
	since, err := auditTime("--since", opts.Since, opts.Factory.Now())
	if err != nil {
		return err
	}
	s, err := resolveAuthoringBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	// A candidate is reviewed before it is signed: replay enforces nothing.
	b, _, err := loadForReview(opts.IO.ErrOut, s, true, "policy replay")
	if err != nil {
		return err
	}
	r, err := policy.NewReplayer(b, opts.Factory.Getenv)
	if err != nil {
		return fmt.Errorf("load candidate %s: %w", b.Dir, err)
	}
	if opts.Parquet != "" {
		recs, err := audit.ReadParquet(opts.Parquet)
		if err != nil {
			return fmt.Errorf("replay %s: %w", opts.Parquet, err)
		}
		for _, rec := range recs {
			if rec.Time.Before(since) {
				continue
			}
			if err := r.Add(ctx, rec); err != nil {
				return err
			}
		}
	} else {
		trail, err := existingTrail(opts.Factory, opts.Audit)
		if err != nil {
			return err
		}
		err = audit.Records(trail.Dir, audit.Filter{Since: since}, func(rec *audit.Record, _ []byte) error {
			return r.Add(ctx, rec)
		})
		if err != nil {
			return fmt.Errorf("replay audit trail %s: %w", trail.Dir, err)
		}
	}
	rep := r.Report()
	if opts.JSON {
		return writeJSON(opts.IO.Out, rep)
	}
	printReplay(opts.IO, rep)
	return nil
}

func printReplay(io *IOStreams, rep *policy.ReplayReport) {
	out := io.Out
	fmt.Fprintf(out, "%d calls read, %d re-decided, %d unchanged under candidate %s\n", rep.Calls, rep.Redecided, rep.Unchanged, shortRevision(rep.Candidate))
	if len(rep.Groups) == 0 {
		fmt.Fprintln(out, "nothing would change")
		return
	}
	w := newTabWriter(out)
	fmt.Fprintln(w, palette{on: io.ColorEnabled()}.bold("CHANGE\tCOUNT\tRULE\tSERVER\tTOOL\tIDENTITY\tREASON"))
	for _, g := range rep.Groups {
		count := fmt.Sprint(g.Count)
		if g.Approximate > 0 {
			count += fmt.Sprintf(" (%d approx.)", g.Approximate)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Change, count, dash(g.Rule), dash(g.Server), g.Tool, g.Identity, oneLine(g.Reason))
	}
	_ = w.Flush()
}

func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return dash(rev)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		return s[:157] + "..."
	}
	return s
}

// dash stands for an empty field in a table.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
