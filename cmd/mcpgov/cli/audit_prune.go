package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditPruneOptions are the inputs of `mcpgov audit prune`.
type AuditPruneOptions struct {
	IO        *IOStreams
	Factory   *Factory
	Dir       string
	OlderThan string
	JSON      bool
}

func newAuditPruneCmd(f *Factory, runF func(*AuditPruneOptions) error) *cobra.Command {
	opts := &AuditPruneOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "prune --older-than AGE",
		Short: "Remove whole audit segments older than an age, keeping the rest verifiable",
		Long: `Remove the oldest segments of the local audit store whose newest record is
older than AGE (90d, 36h), never the segment being written. The store is
verified first: a broken history is never pruned. A signed anchor
(anchor.json) records where the remaining chain starts, so "mcpgov audit
verify" still passes. Export or ship the records first if they must be kept.`,
		Example: `  mcpgov audit prune --older-than 90d`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.OlderThan == "" {
				return flagErrorf("--older-than is required (for example 90d)")
			}
			if _, err := audit.ParseAge(opts.OlderThan); err != nil {
				return &FlagError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return auditPruneRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.OlderThan, "older-than", "", "remove segments whose newest record is older than this (90d, 36h)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was removed as JSON")
	return cmd
}

func auditPruneRun(opts *AuditPruneOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	age, _ := audit.ParseAge(opts.OlderThan)
	rep, err := audit.Prune(s.Dir, opts.Factory.Now().Add(-age), s.Options)
	if err != nil {
		return fmt.Errorf("prune audit trail %s: %w", s.Dir, err)
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int `json:"schemaVersion"`
			*audit.PruneReport
		}{1, rep})
	}
	for _, name := range rep.Removed {
		fmt.Fprintln(opts.IO.Out, "removed", name)
	}
	opts.IO.Notef("pruned %s, kept %s", plural(len(rep.Removed), "segment", "segments"), plural(rep.Kept, "segment", "segments"))
	return nil
}
