package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditAlertOptions are the inputs of `mcpgov audit alert`.
type AuditAlertOptions struct {
	IO      *IOStreams
	Factory *Factory
	Dir     string
	Rules   string
	Since   string
	Follow  bool
	Record  bool
	OTLP    string
	Headers []string
	JSON    bool
	Poll    time.Duration
}

func newAuditAlertCmd(f *Factory, runF func(context.Context, *AuditAlertOptions) error) *cobra.Command {
	opts := &AuditAlertOptions{IO: f.IO, Factory: f, Poll: 250 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "alert --rules FILE",
		Short: "Run alert rules over the audit trail (unusual volume, off-hours access, …)",
		Long: `Read the tool-call records of the local audit store in order and run the
alert rules of FILE (TOML, one [[rule]] table each) over them; print each
alert that fires. With --follow keep running on records as shims append
them. Windows are counted on the records' own times.

Rule kinds (name, severity = info | warning | error | critical, and
servers/tools globs that narrow any rule):

  volume           one identity's calls in a window (window, default 1h)
                   exceed factor (3) times its own mean over the previous
                   baseline (24) windows, and at least threshold (20)
  off_hours        an allowed call of the sensitive servers/tools outside hours
                   ("08:00-19:00") on days (mon…fri) in timezone (UTC)
  no_access        an identity without MCP access (unauthenticated, or
                   refused by rules: identity-required, group-access,
                   approved-servers-only) refused threshold (1) times in a
                   window
  guardrail_spike  guardrails blocked threshold (10) calls in a window,
                   and with factor set more than factor times the mean of
                   the previous baseline windows

--record appends each alert to the trail as a record of kind "alert" (so
"audit ship" sends it on, severity and all); --otlp URL sends each alert to
an OTLP/HTTP logs endpoint as a log record with its severity (event
mcpgov.audit.alert). --json prints one alert per line: {"rule","kind",
"severity","subject","message","count","baseline","since","until",
"evidence":[SEQ…]}. Exits 0 whether or not alerts fired; 1 on error.`,
		Example: `  mcpgov audit alert --rules alerts.toml --since 7d
  mcpgov audit alert --rules alerts.toml --follow --record
  mcpgov audit alert --rules alerts.toml --follow --otlp https://otel.example.com --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Rules == "" {
				return flagErrorf("--rules is required: the alert rules file")
			}
			for _, h := range opts.Headers {
				if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
					return flagErrorf("invalid --header %q: want \"Name: value\"", h)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditAlertRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.Rules, "rules", "", "alert rules file (TOML)")
	cmd.Flags().StringVar(&opts.Since, "since", "", "only records at or after this time or age (2026-11-23, 24h, 7d)")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep running on records as they are appended")
	cmd.Flags().BoolVar(&opts.Record, "record", false, "append each alert to the trail as a record of kind alert")
	cmd.Flags().StringVar(&opts.OTLP, "otlp", "", "send each alert to this OTLP/HTTP endpoint as a log record")
	cmd.Flags().StringArrayVar(&opts.Headers, "header", nil, `HTTP header "Name: value" for --otlp (repeatable)`)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON alert per line")
	return cmd
}

func auditAlertRun(ctx context.Context, opts *AuditAlertOptions) error {
	rules, err := audit.LoadAlertRules(opts.Rules)
	if err != nil {
		return err
	}
	since, err := auditTime("--since", opts.Since, opts.Factory.Now())
	if err != nil {
		return err
	}
	trail, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	var store *audit.Store
	if opts.Record {
		if store, err = audit.Open(trail.Dir, trail.Options); err != nil {
			return fmt.Errorf("open audit trail %s: %w", trail.Dir, err)
		}
		defer store.Close()
	}
	hdr := http.Header{}
	for _, h := range opts.Headers {
		name, value, _ := strings.Cut(h, ":")
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	ev := audit.NewAlertEvaluator(rules)
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetEscapeHTML(false)
	emit := func(a *audit.Alert) error {
		rec := audit.AlertRecord(a, opts.Factory.Now())
		if store != nil {
			if err := store.Append(ctx, rec); err != nil {
				return fmt.Errorf("record alert: %w", err)
			}
		}
		if opts.OTLP != "" {
			if rec.ID == "" {
				rec.ID = a.Rule + "-" + a.Since.Format("20060102T150405Z") + "-" + a.Subject
			}
			if err := audit.SendOTLP(ctx, opts.OTLP, hdr, []*audit.Record{rec}); err != nil {
				// An endpoint down must not stop the rules: say so and go on.
				opts.IO.Warnf("alert %s not sent: %v", a.Rule, err)
			}
		}
		if opts.JSON {
			return enc.Encode(a)
		}
		_, err := fmt.Fprintf(opts.IO.Out, "%s\t%s\t%s\t%s\n", a.Since.Format(time.RFC3339), strings.ToUpper(a.Severity), a.Rule, a.Message)
		return err
	}
	var last uint64
	read := func(f audit.Filter) error {
		return audit.Records(trail.Dir, f, func(r *audit.Record, _ []byte) error {
			last = r.Seq
			for _, a := range ev.Add(r) {
				if err := emit(a); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := read(audit.Filter{Since: since}); err != nil {
		return fmt.Errorf("read audit trail %s: %w", trail.Dir, err)
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
		if err := read(audit.Filter{AfterSeq: last}); err != nil {
			return fmt.Errorf("read audit trail %s: %w", trail.Dir, err)
		}
	}
}
