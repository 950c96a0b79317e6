package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/scan"
)

// ScanMergeOptions are the inputs of `mcpgov scan merge`.
type ScanMergeOptions struct {
	IO     *IOStreams
	Files  []string
	Format string
	JSON   bool
}

func newScanMergeCmd(f *Factory, runF func(context.Context, *ScanMergeOptions) error) *cobra.Command {
	opts := &ScanMergeOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "merge FILE...",
		Short: "Combine inventories from many machines into a fleet view",
		Long: `Combine JSON inventories (from "mcpgov scan --format json") of many machines
into one report: each server identity once, with how many machines and clients
use it, the names people gave it, and its findings rolled up.

When the same machine appears more than once, its newest inventory wins. A file
that is not a readable inventory is listed under "errors" and the others are
still merged; the command fails only when none can be read.`,
		Example: `  mcpgov scan merge inventories/*.json
  mcpgov scan merge --format json inventories/*.json > fleet.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scanMergeRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "", "output format: table, plain or json (default: table on a terminal, plain when piped)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "shorthand for --format json")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion(formatTable, formatPlain, formatJSON))
	return cmd
}

func scanMergeRun(opts *ScanMergeOptions) error {
	format, err := resolveFormat(opts.IO, opts.Format, opts.JSON, formatTable, formatPlain, formatJSON)
	if err != nil {
		return err
	}
	var (
		reports []scan.NamedReport
		errs    []scan.FileError
	)
	for _, name := range opts.Files {
		rep, err := readInventory(name)
		if err != nil {
			errs = append(errs, scan.FileError{File: name, Message: err.Error()})
			continue
		}
		reports = append(reports, scan.NamedReport{Source: name, Report: rep})
	}
	for _, e := range errs {
		opts.IO.Warnf("%s: %s", e.File, e.Message)
	}
	if len(reports) == 0 {
		return withHint(fmt.Errorf("none of the %s is a readable inventory", plural(len(opts.Files), "file", "files")),
			"produce inventories with `mcpgov scan --format json > HOST.json`")
	}
	fleet := scan.Merge(reports, errs)
	switch format {
	case formatJSON:
		return writeJSON(opts.IO.Out, fleet)
	case formatPlain:
		for _, s := range fleet.Servers {
			fmt.Fprintf(opts.IO.Out, "%s\t%d\t%d\t%s\t%s\t%s\n", s.Identity, s.Machines, s.Entries, strings.Join(s.Clients, ","), strings.Join(s.Names, ","), rollupText(s.Findings))
		}
		return nil
	}
	p := palette{on: opts.IO.ColorEnabled()}
	w := newTabWriter(opts.IO.Out)
	fmt.Fprintln(w, p.bold("IDENTITY\tMACHINES\tENTRIES\tGOVERNED\tCLIENTS\tNAMES\tFINDINGS"))
	for _, s := range fleet.Servers {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Identity, s.Machines, s.Entries, s.Governed, strings.Join(s.Clients, ","), strings.Join(s.Names, ","), rollupText(s.Findings))
	}
	_ = w.Flush()
	fmt.Fprintf(opts.IO.Out, "\n%s on %s\n", plural(len(fleet.Servers), "server identity", "server identities"), plural(len(fleet.Machines), "machine", "machines"))
	for _, r := range fleet.Findings {
		fmt.Fprintf(opts.IO.Out, "  %-20s %s on %s\n", r.Rule, p.severity(string(r.Severity), plural(r.Findings, "finding", "findings")), plural(r.Machines, "machine", "machines"))
	}
	return nil
}

func readInventory(name string) (*scan.Report, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scan.ReadReport(f)
}

func rollupText(rs []scan.RuleRollup) string {
	if len(rs) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s:%d", r.Rule, r.Findings))
	}
	return strings.Join(parts, ",")
}
