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
	"github.com/mcpgov/mcpgov/audit/objstore"
)

// AuditShipOptions are the inputs of `mcpgov audit ship`.
type AuditShipOptions struct {
	IO       *IOStreams
	Factory  *Factory
	Dir      string
	OTLP     string
	S3       string
	Replica  string
	Retain   string
	Mode     string
	Headers  []string
	Batch    int
	Follow   bool
	Interval time.Duration
	JSON     bool
}

func newAuditShipCmd(f *Factory, runF func(context.Context, *AuditShipOptions) error) *cobra.Command {
	opts := &AuditShipOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "ship (--otlp URL | --s3 s3://BUCKET/PREFIX)",
		Short: "Send audit records to an OpenTelemetry Collector or an S3-compatible bucket",
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
mcpgov.audit.id. A URL without a path gets /v1/logs.

With --s3, the records go to an S3-compatible bucket (AWS S3, GCS or Azure
through their S3 endpoints, MinIO, versitygw) as zstd Parquet objects
records/dt=DAY/replica=NAME/part-FIRST-LAST.parquet under the prefix, each
a contiguous range of the chain with the exact record lines; after them,
each pass, the newest signed checkpoint they reach goes beside them
(checkpoints/replica=NAME/), with the store's verifier keys
(keys/replica=NAME/). Objects are created
only if absent, so nothing shipped is ever replaced; when the bucket has
Object Lock its default retention applies, or --retain sets one per
object. A crash between an upload and the cursor write sends the same range
under the same key again, which is recognised, so delivery is at least once
and nothing is stored twice. mcpgov audit verify --remote checks the copy.
Each replica (gateway or shim host) needs its own --replica name.
Credentials come from the environment only: AWS_ACCESS_KEY_ID, and
AWS_SECRET_ACCESS_KEY or MCPGOV_S3_SECRET_FILE (a file holding it),
AWS_SESSION_TOKEN. The URL takes endpoint=, region= and path_style=.`,
		Example: `  mcpgov audit ship --otlp http://127.0.0.1:4318
  mcpgov audit ship --otlp https://otel.example.com --header "Authorization: Bearer $TOKEN" --follow
  mcpgov audit ship --s3 s3://audit-lake/mcpgov --replica gw-1 --follow
  mcpgov audit ship --s3 "s3://lake/p?endpoint=http://127.0.0.1:7070&path_style=true" --retain 7y`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.OTLP == "" && opts.S3 == "":
				return flagErrorf("give --otlp URL or --s3 s3://BUCKET/PREFIX")
			case opts.OTLP != "" && opts.S3 != "":
				return flagErrorf("give --otlp or --s3, not both (run one ship per destination)")
			case opts.OTLP != "":
				if _, err := audit.LogsURL(opts.OTLP); err != nil {
					return &FlagError{Err: err}
				}
			default:
				if _, err := objstore.ParseURL(opts.S3); err != nil {
					return &FlagError{Err: err}
				}
				if !cmd.Flags().Changed("batch") {
					opts.Batch = 50_000 // records per object: fewer, larger Parquet files
				}
				if opts.Replica == "" {
					host, _ := os.Hostname()
					opts.Replica = host
				}
				if err := objstore.ValidReplica(opts.Replica); err != nil {
					return &FlagError{Err: fmt.Errorf("--replica: %w", err)}
				}
				if _, _, err := parseRetain(opts.Retain); err != nil {
					return err
				}
				if m := strings.ToUpper(opts.Mode); m != "COMPLIANCE" && m != "GOVERNANCE" {
					return flagErrorf("invalid --retain-mode %q: want compliance or governance", opts.Mode)
				}
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
	cmd.Flags().StringVar(&opts.S3, "s3", "", "S3-compatible bucket, s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true]")
	cmd.Flags().StringVar(&opts.Replica, "replica", "", "with --s3, this store's name in object keys (default: the host name)")
	cmd.Flags().StringVar(&opts.Retain, "retain", "", "with --s3, Object Lock retention per object, like 7y or 2555d (default: the bucket's)")
	cmd.Flags().StringVar(&opts.Mode, "retain-mode", "compliance", "with --retain, compliance or governance")
	cmd.Flags().StringArrayVar(&opts.Headers, "header", nil, `HTTP header "Name: value" to send (repeatable)`)
	cmd.Flags().IntVar(&opts.Batch, "batch", 500, "records per export request (with --s3, per object; default 50000)")
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
	if opts.S3 != "" {
		return auditShipS3(ctx, opts, s.Dir)
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
	var last *audit.ShipReport
	err = shipLoop(ctx, opts, func() (int, uint64, error) {
		rep, err := sh.Ship(ctx)
		if last = rep; rep == nil {
			return 0, 0, err
		}
		total += rep.Sent
		return rep.Sent, rep.Cursor, err
	})
	if !opts.Follow {
		if err != nil {
			if last != nil {
				return withHint(fmt.Errorf("ship audit trail %s: %w (sent %d; cursor at seq %d)", s.Dir, err, last.Sent, last.Cursor),
					"run it again once the endpoint is reachable: shipping resumes after the last accepted record")
			}
			return fmt.Errorf("ship audit trail %s: %w", s.Dir, err)
		}
		return report(last)
	}
	cursor, _ := sh.Cursor()
	endpoint, _ := audit.LogsURL(opts.OTLP)
	return report(&audit.ShipReport{Endpoint: endpoint, Sent: total, Cursor: cursor})
}

// shipLoop runs one shipping pass, or with --follow a pass every
// --interval until ctx is done, a failed pass retried with backoff (doubled
// each time, up to a minute). pass returns what it shipped and the
// cursor. The error is a single pass's; following ends without one.
func shipLoop(ctx context.Context, opts *AuditShipOptions, pass func() (sent int, cursor uint64, err error)) error {
	backoff := opts.Interval
	for {
		sent, cursor, err := pass()
		if !opts.Follow {
			return err
		}
		wait := opts.Interval
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			opts.IO.Warnf("audit ship: %v; retrying in %s", err, backoff)
			wait, backoff = backoff, min(backoff*2, time.Minute)
		} else {
			backoff = opts.Interval
			if sent > 0 && !opts.JSON {
				opts.IO.Notef("shipped %s (cursor at seq %d)", plural(sent, "record", "records"), cursor)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// auditShipS3 is audit ship --s3: one pass, or passes every --interval
// with --follow, retrying failures with backoff.
func auditShipS3(ctx context.Context, opts *AuditShipOptions, dir string) error {
	b, err := openS3(opts.Factory, opts.S3)
	if err != nil {
		return err
	}
	years, d, _ := parseRetain(opts.Retain)
	sh := &objstore.Shipper{Dir: dir, Replica: opts.Replica, Bucket: b, Batch: opts.Batch, Retain: d, RetainYears: years,
		RetainMode: strings.ToUpper(opts.Mode), Version: opts.Factory.Version.Version}
	total := &objstore.ShipReport{Location: b.Location().String(), Replica: opts.Replica}
	add := func(rep *objstore.ShipReport) {
		total.Objects += rep.Objects
		total.Records += rep.Records
		total.Recognised += rep.Recognised
		total.Checkpoints += rep.Checkpoints
		total.Cursor, total.Lock, total.Retained = rep.Cursor, rep.Lock, rep.Retained
	}
	report := func() error {
		if opts.JSON {
			return writeJSON(opts.IO.Out, struct {
				SchemaVersion int `json:"schemaVersion"`
				*objstore.ShipReport
			}{1, total})
		}
		opts.IO.Notef("shipped %s in %s and %s to %s as replica %s (cursor at seq %d; %s)", plural(total.Records, "record", "records"),
			plural(total.Objects, "object", "objects"), plural(total.Checkpoints, "checkpoint", "checkpoints"), total.Location, total.Replica, total.Cursor, total.Lock)
		return nil
	}
	warned := false
	err = shipLoop(ctx, opts, func() (int, uint64, error) {
		rep, err := sh.Ship(ctx)
		if rep == nil {
			return 0, 0, err
		}
		add(rep)
		if rep.Lock != "" && !rep.Retained && !warned {
			opts.IO.Warnf("bucket %s: %s: whoever can write to the bucket can delete what was shipped; create it with Object Lock and a COMPLIANCE default retention, or pass --retain", b.Location(), rep.Lock)
			warned = true
		}
		return rep.Records, rep.Cursor, err
	})
	if err != nil {
		return withHint(fmt.Errorf("ship audit trail %s to %s: %w (cursor at seq %d)", dir, b.Location(), err, total.Cursor),
			"run it again once the bucket is reachable: shipping resumes after the last range the bucket accepted")
	}
	return report()
}
