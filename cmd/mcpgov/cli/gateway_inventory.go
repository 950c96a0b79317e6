package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan/fleet"
)

// Streams: the inventory goes to stdout (a table, or JSON with --json);
// a note that nothing was uploaded yet goes to stderr.

// GatewayInventoryOptions are the inputs of `mcpgov gateway inventory`.
type GatewayInventoryOptions struct {
	IO      *IOStreams
	Factory *Factory
	By      string
	JSON    bool
	Store   string
}

func newGatewayInventoryCmd(f *Factory, runF func(*GatewayInventoryOptions) error) *cobra.Command {
	opts := &GatewayInventoryOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "inventory [--by server|machine|team] [--json]",
		Short: "Show the fleet inventory machines uploaded with `mcpgov scan --upload`",
		Long: `Show what the machines of the fleet run, from the scans they uploaded to this
gateway (mcpgov scan --upload): each server with the machines that run it
now, when it was first and last seen and so how long it has been running;
each machine with its uploader and server count; and per team (the
uploader's groups) the shadow servers, those outside the catalog.

It reads the store the gateway replicas share when --store or [gateway]
store names one (each machine's part kept under mcpgov:fleet:machine:ID),
else inventory.json in the state directory's gateway
($XDG_STATE_HOME/mcpgov/gateway), the embedded store a gateway on this
machine writes. Remote readers GET /inventory with a token of a group in
[gateway] inventory_readers.`,
		Example: `  mcpgov gateway inventory
  mcpgov gateway inventory --by team
  mcpgov gateway inventory --json | jq '.servers[] | select(.shadow)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.By {
			case "server", "machine", "team":
			default:
				return flagErrorf("invalid --by %q: want server, machine or team", opts.By)
			}
			if runF != nil {
				return runF(opts)
			}
			return gatewayInventoryRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.By, "by", "server", "rows: server, machine or team")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the whole inventory as JSON")
	cmd.Flags().StringVar(&opts.Store, "store", "", "read the replicas' shared store (redis://HOST:PORT/DB, rediss://, unix:///PATH) instead of [gateway] store or the local file")
	return cmd
}

func gatewayInventoryRun(opts *GatewayInventoryOptions) error {
	env := opts.Factory.Env()
	c, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	store, done, err := govern.OpenGatewayFleet(env, c, opts.Store)
	if err != nil {
		return err
	}
	defer done()
	inv, err := store.Inventory(context.Background())
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, inv)
	}
	if len(inv.Machines) == 0 {
		opts.IO.Notef("no machine has uploaded a scan yet; run `mcpgov scan --upload` on one")
		return nil
	}
	now := time.Now()
	if env.Now != nil {
		now = env.Now()
	}
	tw := newTabWriter(opts.IO.Out)
	switch opts.By {
	case "machine":
		fmt.Fprintln(tw, "MACHINE\tID\tOS\tUPLOADER\tGROUPS\tSERVERS\tFIRST SEEN\tLAST SEEN")
		for _, m := range inv.Machines {
			fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%d\t%s\t%s\n", m.Name, m.ID, m.OS, m.Arch, m.Uploader.Subject, groupList(m.Uploader.Groups), m.Servers, day(m.FirstSeen), day(m.LastSeen))
		}
	case "team":
		fmt.Fprintln(tw, "TEAM\tMACHINES\tSHADOW SERVERS\tSHADOW ENTRIES")
		for _, t := range inv.Teams {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", t.Team, t.Machines, t.Shadow, t.ShadowEntries)
		}
	default:
		fmt.Fprintln(tw, "SERVER\tNAMES\tCATALOG\tMACHINES\tFIRST SEEN\tLAST SEEN\tRUNNING")
		for _, s := range inv.Servers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", s.Identity, strings.Join(s.Names, ","), catalogState(s), s.Machines, s.Ever, day(s.FirstSeen), day(s.LastSeen), running(s, now))
		}
	}
	return tw.Flush()
}

func catalogState(s fleet.ServerState) string {
	switch {
	case s.Shadow:
		return "shadow"
	case s.Catalog != "":
		return s.Catalog + " (" + s.Status + ")"
	}
	return "-"
}

// running is how long a server still on some machine has been seen.
func running(s fleet.ServerState, now time.Time) string {
	if s.Machines == 0 {
		return "gone"
	}
	d := now.Sub(s.FirstSeen)
	if d < 24*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func day(t time.Time) string { return t.UTC().Format(time.RFC3339) }
