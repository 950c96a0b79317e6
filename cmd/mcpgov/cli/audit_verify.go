package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditVerifyOptions are the inputs of `mcpgov audit verify`.
type AuditVerifyOptions struct {
	IO      *IOStreams
	Factory *Factory
	Dir     string
	Key     string
	JSON    bool
}

func newAuditVerifyCmd(f *Factory, runF func(*AuditVerifyOptions) error) *cobra.Command {
	opts := &AuditVerifyOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "verify [DIR]",
		Short: "Check that the audit trail is complete and unedited",
		Long: `Check every segment of the audit store: each record follows the previous one
(seq) and carries the SHA-256 of its line (prev), every signed checkpoint
verifies and matches the chain, and no checkpoint vouches for more records
than remain. Exit 0 when all holds; exit 3 naming the first bad segment and
record when a record was edited, deleted, reordered or truncated away.

Records after the last checkpoint are reported as unwitnessed. A last line
cut short by a killed writer (never acknowledged to any client) is reported,
not failed. Pin the store's verifier key (signing.pub) with --key to detect a
history rewritten and re-signed on this machine.`,
		Example: `  mcpgov audit verify
  mcpgov audit verify ./audit-copy --key "$(cat signing.pub)"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Dir != "" {
					return flagErrorf("give the store as DIR or --dir, not both")
				}
				opts.Dir = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return auditVerifyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.Key, "key", "", "verifier key checkpoints must be signed with (default: the store's signing.pub)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	return cmd
}

type auditVerifyReport struct {
	SchemaVersion int `json:"schemaVersion"`
	*audit.VerifyReport
	OK    bool              `json:"ok"`
	Error *audit.ChainError `json:"error,omitempty"`
}

func auditVerifyRun(opts *AuditVerifyOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	rep, verr := audit.Verify(s.Dir, audit.VerifyOptions{Key: opts.Key})
	var chain *audit.ChainError
	if verr != nil && !errors.As(verr, &chain) {
		return fmt.Errorf("verify audit trail %s: %w", s.Dir, verr)
	}
	out := auditVerifyReport{SchemaVersion: 1, VerifyReport: rep, OK: verr == nil, Error: chain}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else if verr == nil {
		fmt.Fprintf(opts.IO.Out, "ok: %s in %s (seq %d-%d), %s, head %s\n", plural(int(rep.Records), "record", "records"),
			plural(rep.Segments, "segment", "segments"), rep.FirstSeq, rep.LastSeq, plural(rep.Checkpoints, "signed checkpoint", "signed checkpoints"), short(rep.Head))
		if rep.Unwitnessed > 0 {
			fmt.Fprintf(opts.IO.Out, "note: the last %s follow the last checkpoint\n", plural(int(rep.Unwitnessed), "record", "records"))
		}
		if rep.TornTail != "" {
			fmt.Fprintf(opts.IO.Out, "note: %s ends in an incomplete record from a killed writer (never acknowledged); the next append drops it\n", rep.TornTail)
		}
		if rep.Pruned {
			fmt.Fprintf(opts.IO.Out, "note: pruned; the chain starts at seq %d (signed anchor)\n", rep.FirstSeq)
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "FAILED: %s\n", chain)
	}
	if verr != nil {
		return &FindingsError{Summary: "audit trail does not verify: " + chain.Error()}
	}
	return nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
