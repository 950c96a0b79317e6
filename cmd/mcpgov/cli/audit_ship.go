package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditShipOptions are the inputs of `mcpgov audit ship`.
type AuditShipOptions struct {
	IO       *IOStreams
	Factory  *Factory
	Dir      string
	OTLP     string
	Headers  []string
	Batch    int
	Follow   bool
	Interval time.Duration
	JSON     bool
}

func newAuditShipCmd(f *Factory, runF func(context.Context, *AuditShipOptions) error) *cobra.Command {
	opts := &AuditShipOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "ship --otlp URL",
		Short: "Send audit records to an OpenTelemetry Collector (OTLP/HTTP logs)",
		Long: `Send the local audit store's records to an OTLP/HTTP logs endpoint (an
OpenTelemetry Collector, Grafana Alloy, a vendor's OTLP intake) as OTLP log
records: event name mcpgov.audit.tool_call, the record as a structured body,
and attributes mcpgov.audit.id, mcpgov.audit.seq, mcpgov.decision,
gen_ai.tool.name, mcp.method.name, mcp.session.id.

A cursor per endpoint, kept in the store, moves only after the receiver
accepted a batch, so records are delivered at least once and an outage loses
nothing: without --follow the command exits 1 at the first failed batch and
the next run resumes there; with --follow it keeps shipping new records every
--interval and retries failures until interrupted. Receivers de-duplicate on
mcpgov.audit.id. A URL without a path gets /v1/logs.`,
		Example: `  mcpgov audit ship --otlp http://127.0.0.1:4318
  mcpgov audit ship --otlp https://otel.example.com --header "Authorization: Bearer $TOKEN" --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.OTLP == "" {
				return flagErrorf("--otlp URL is required")
			}
			if _, err := audit.LogsURL(opts.OTLP); err != nil {
				return &FlagError{Err: err}
			}
			for _, h := range opts.Headers {
				if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
					return flagErrorf("invalid --header %q: want \"Name: value\"", h)
				}
			}
			if opts.Batch <= 0 {
				return flagErrorf("invalid --batch %d: want 1 or more", opts.Batch)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditShipRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.OTLP, "otlp", "", "OTLP/HTTP endpoint, http(s)://host:port[/v1/logs]")
	cmd.Flags().StringArrayVar(&opts.Headers, "header", nil, `HTTP header "Name: value" to send (repeatable)`)
	cmd.Flags().IntVar(&opts.Batch, "batch", 500, "records per export request")
	cmd.Flags().BoolVar(&opts.Follow, "follow", false, "keep shipping new records and retrying failures until interrupted")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "with --follow, how often to look for new records")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return cmd
}

func auditShipRun(ctx context.Context, opts *AuditShipOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	for _, h := range opts.Headers {
		name, value, _ := strings.Cut(h, ":")
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	host, _ := os.Hostname()
	sh := &audit.Shipper{Dir: s.Dir, Endpoint: opts.OTLP, Headers: hdr, Batch: opts.Batch,
		Resource: map[string]string{"host.name": host, "service.version": opts.Factory.Version.Version}}
	total := 0
	report := func(rep *audit.ShipReport) error {
		if opts.JSON {
			return writeJSON(opts.IO.Out, struct {
				SchemaVersion int `json:"schemaVersion"`
				*audit.ShipReport
			}{1, rep})
		}
		opts.IO.Notef("shipped %s to %s (cursor at seq %d)", plural(rep.Sent, "record", "records"), rep.Endpoint, rep.Cursor)
		return nil
	}
	if !opts.Follow {
		rep, err := sh.Ship(ctx)
		if err != nil {
			if rep != nil {
				return withHint(fmt.Errorf("ship audit trail %s: %w (sent %d; cursor at seq %d)", s.Dir, err, rep.Sent, rep.Cursor),
					"run it again once the endpoint is reachable: shipping resumes after the last accepted record")
			}
			return fmt.Errorf("ship audit trail %s: %w", s.Dir, err)
		}
		return report(rep)
	}
	backoff := opts.Interval
	for {
		rep, err := sh.Ship(ctx)
		if rep != nil {
			total += rep.Sent
		}
		wait := opts.Interval
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			opts.IO.Warnf("audit ship: %v; retrying in %s", err, backoff)
			wait, backoff = backoff, min(backoff*2, time.Minute)
		} else {
			backoff = opts.Interval
			if rep.Sent > 0 && !opts.JSON {
				opts.IO.Notef("shipped %s (cursor at seq %d)", plural(rep.Sent, "record", "records"), rep.Cursor)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			continue
		}
		break
	}
	cursor, _ := sh.Cursor()
	endpoint, _ := audit.LogsURL(opts.OTLP)
	return report(&audit.ShipReport{Endpoint: endpoint, Sent: total, Cursor: cursor})
}
