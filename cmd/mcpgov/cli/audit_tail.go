package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditTailOptions are the inputs of `mcpgov audit tail`.
type AuditTailOptions struct {
	IO      *IOStreams
	Factory *Factory
	Dir     string
	Lines   int
	Follow  bool
	JSON    bool
	Poll    time.Duration
}

func newAuditTailCmd(f *Factory, runF func(context.Context, *AuditTailOptions) error) *cobra.Command {
	opts := &AuditTailOptions{IO: f.IO, Factory: f, Poll: 250 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the latest audit records, and with -f new ones as they come",
		Long: `Print the last -n records of the local audit store, one per line. With -f keep
running and print records as shims append them, until interrupted. --json
prints each stored line as it is (JSON Lines).`,
		Example: `  mcpgov audit tail
  mcpgov audit tail -n 50 --json
  mcpgov audit tail -f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Lines < 0 {
				return flagErrorf("invalid -n %d: want 0 or more", opts.Lines)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditTailRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().IntVarP(&opts.Lines, "lines", "n", 10, "how many of the latest records to print")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing records as they are appended")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the stored JSON lines")
	return cmd
}

func auditTailRun(ctx context.Context, opts *AuditTailOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	type entry struct {
		rec  *audit.Record
		line []byte
	}
	var ring []entry
	var last uint64
	err = audit.Records(s.Dir, audit.Filter{}, func(r *audit.Record, line []byte) error {
		last = r.Seq
		if opts.Lines == 0 {
			return nil
		}
		if len(ring) == opts.Lines {
			ring = ring[1:]
		}
		ring = append(ring, entry{r, append([]byte(nil), line...)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read audit trail %s: %w", s.Dir, err)
	}
	print := func(r *audit.Record, line []byte) error {
		if opts.JSON {
			_, err := opts.IO.Out.Write(append(line, '\n'))
			return err
		}
		printRecordLine(opts.IO.Out, r)
		return nil
	}
	for _, e := range ring {
		if err := print(e.rec, e.line); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	t := time.NewTicker(opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := audit.Records(s.Dir, audit.Filter{AfterSeq: last}, func(r *audit.Record, line []byte) error {
			last = r.Seq
			return print(r, line)
		})
		if err != nil {
			return fmt.Errorf("read audit trail %s: %w", s.Dir, err)
		}
	}
}
