package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/vet"
)

// CatalogPinOptions are the inputs of `mcpgov catalog pin`.
type CatalogPinOptions struct {
	IO      *IOStreams
	Factory *Factory
	reviewSource
	ID string
}

func newCatalogPinCmd(f *Factory, runF func(context.Context, *CatalogPinOptions) error) *cobra.Command {
	opts := &CatalogPinOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "pin ID (--report FILE | --connect)",
		Short: "Pin the fingerprints of a catalog server's current tools",
		Long: `Replace the server's pins with the fingerprints of the tools it advertises now
(from a saved "catalog vet --json" report, or by vetting with --connect), and
print what changed: new, removed, drifted and renamed tools. The shim hides a
tool whose definition no longer matches its pin, so re-pin only after reading
the changes.`,
		Example: `  mcpgov catalog pin everything --connect`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if (opts.Report == "") == !opts.Connect {
				return flagErrorf("give exactly one of --report FILE or --connect")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogPinRun(cmd.Context(), opts)
		},
	}
	addVetFlags(cmd, &opts.Bundle, &opts.Connect, &opts.Timeout, &opts.Headers)
	cmd.Flags().StringVar(&opts.Report, "report", "", "a saved `catalog vet --json` report")
	return cmd
}

func catalogPinRun(ctx context.Context, opts *CatalogPinOptions) error {
	b, doc, err := opts.load(ctx, opts.Factory, opts.ID)
	if err != nil {
		return err
	}
	path := filepath.Join(b.Dir, catalog.CatalogFile)
	if err := catalog.EditServer(path, opts.ID, catalog.SetPins(pinsOf(doc.Report))...); err != nil {
		return fmt.Errorf("pin %s: %w", opts.ID, err)
	}
	changes := catalog.ComparePins(b.Catalog.Server(opts.ID).Pins, toolDefs(doc.Report))
	for _, ch := range changes {
		switch ch.Kind {
		case catalog.PinRenamed:
			fmt.Fprintf(opts.IO.Out, "renamed\t%s\t%s\n", ch.From, ch.Tool)
		default:
			fmt.Fprintf(opts.IO.Out, "%s\t%s\n", ch.Kind, ch.Tool)
		}
	}
	opts.IO.Notef("%s: %s pinned in %s, %s", opts.ID, plural(len(doc.Report.Tools), "tool", "tools"), path, plural(len(changes), "change", "changes"))
	return nil
}

func toolDefs(r *vet.Report) []catalog.ToolDef {
	out := make([]catalog.ToolDef, len(r.Tools))
	for i, t := range r.Tools {
		out[i] = t.ToolDef
	}
	return out
}
