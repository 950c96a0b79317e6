package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

func newAuditCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "audit <command>",
		GroupID: "enforce",
		Short:   "Verify, read, export and ship the local audit trail",
		Long: `The shim writes one record per governed event (every tools/call, allowed,
denied, errored or cancelled; refused server starts; drifted pins; guardrail
errors) to a local append-only store before it releases the reply: JSONL
segments, each record carrying the SHA-256 of the previous line, sealed by
ed25519-signed checkpoints (key created on first use, 0600).

The store is $XDG_STATE_HOME/mcpgov/audit (~/.local/state/mcpgov/audit);
MCPGOV_AUDIT_DIR, then [audit] dir in config.toml override it, and --dir
overrides all for one command. [audit] logging (always, header_controlled,
never) decides how much of a call is kept: under header_controlled a request
opts in with _meta "io.mcpgov/logging": "on"; a call not logged in full
still leaves a placeholder, so a gap is never mistaken for a deletion.

Checkpoints signed on this machine prove nothing against whoever controls
it. [audit] witness sends each one where they cannot rewrite it (an
append-only file, the gateway), and audit verify compares the chain with
them: see mcpgov help audit-threats.`,
		Example: `  mcpgov audit verify
  mcpgov audit tail -f
  mcpgov audit query --since 24h --decision deny
  mcpgov audit export --format parquet --out ./lake
  mcpgov audit ship --otlp http://127.0.0.1:4318
  mcpgov audit ship --s3 s3://audit-lake/mcpgov --replica gw-1 --follow
  mcpgov audit verify --remote s3://audit-lake/mcpgov`,
	}
	cmd.AddCommand(
		newAuditVerifyCmd(f, nil),
		newAuditTailCmd(f, nil),
		newAuditAlertCmd(f, nil),
		newAuditQueryCmd(f, nil),
		newAuditExportCmd(f, nil),
		newAuditShipCmd(f, nil),
		newAuditPruneCmd(f, nil),
		newAuditKeygenCmd(f, nil),
		newAuditSchemaCmd(f),
	)
	return cmd
}

// auditLineHeader is the table header printRecord's columns match.
const auditLineHeader = "TIME\tSEQ\tKIND\tDECISION\tOUTCOME\tIDENTITY\tSERVER\tTOOL\tREASON"

// printRecordLine writes one record as a tab-separated line.
func printRecordLine(w io.Writer, r *audit.Record) {
	reason := r.Reason
	if reason == "" && len(r.Decision.Reasons) > 0 {
		reason = r.Decision.Reasons[0]
	}
	who := r.Identity.Email
	if who == "" {
		who = r.Identity.Subject
	}
	server := r.Server.ID
	if server == "" {
		server = r.Server.Name
	}
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Seq, r.Kind,
		audit.DecisionOf(r), orDash(r.Outcome), orDash(who), orDash(server), orDash(r.Tool), orDash(strings.ReplaceAll(reason, "\t", " ")))
}
