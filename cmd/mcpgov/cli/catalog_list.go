package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
)

// CatalogListOptions are the inputs of `mcpgov catalog list`.
type CatalogListOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	Format  string
	JSON    bool
	Status  string
}

func newCatalogListCmd(f *Factory, runF func(*CatalogListOptions) error) *cobra.Command {
	opts := &CatalogListOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the catalog's servers and virtual servers",
		Example: `  mcpgov catalog list
  mcpgov catalog list --status pending --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return catalogListRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().StringVar(&opts.Format, "format", "", "output format: table, plain or json (default: table on a terminal, plain when piped)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "shorthand for --format json")
	cmd.Flags().StringVar(&opts.Status, "status", "", "only servers with this status: approved, pending or blocked")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("approved", "pending", "blocked"))
	return cmd
}

type catalogListReport struct {
	SchemaVersion int                      `json:"schemaVersion"`
	Bundle        string                   `json:"bundle"`
	Revision      string                   `json:"revision"`
	Servers       []*catalog.Server        `json:"servers"`
	Virtual       []*catalog.VirtualServer `json:"virtual"`
}

func catalogListRun(opts *CatalogListOptions) error {
	format, err := resolveFormat(opts.IO, opts.Format, opts.JSON, formatTable, formatPlain, formatJSON)
	if err != nil {
		return err
	}
	switch catalog.Status(opts.Status) {
	case "", catalog.StatusApproved, catalog.StatusPending, catalog.StatusBlocked:
	default:
		return flagErrorf("invalid --status %q: want approved, pending or blocked", opts.Status)
	}
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	rep := catalogListReport{SchemaVersion: 1, Bundle: b.Dir, Revision: b.Revision, Servers: []*catalog.Server{}, Virtual: b.Catalog.Virtual}
	for _, s := range b.Catalog.Servers {
		if opts.Status == "" || string(s.Status) == opts.Status {
			rep.Servers = append(rep.Servers, s)
		}
	}
	if rep.Virtual == nil {
		rep.Virtual = []*catalog.VirtualServer{}
	}
	switch format {
	case formatJSON:
		return writeJSON(opts.IO.Out, rep)
	case formatPlain:
		for _, s := range rep.Servers {
			fmt.Fprintf(opts.IO.Out, "server\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, orDash(string(s.Risk)), orDash(s.Owner), launchSummary(s))
		}
		for _, v := range rep.Virtual {
			fmt.Fprintf(opts.IO.Out, "virtual\t%s\t%s\t%s\n", v.ID, strings.Join(v.Groups, ","), strings.Join(v.Tools, ","))
		}
		return nil
	}
	p := palette{on: opts.IO.ColorEnabled()}
	w := newTabWriter(opts.IO.Out)
	fmt.Fprintln(w, p.bold("ID\tSTATUS\tRISK\tOWNER\tGROUPS\tLAUNCH"))
	for _, s := range rep.Servers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, statusColor(p, s.Status), orDash(string(s.Risk)), orDash(s.Owner), orDash(strings.Join(s.Groups, ",")), launchSummary(s))
	}
	_ = w.Flush()
	if len(rep.Virtual) > 0 {
		fmt.Fprintln(opts.IO.Out)
		w = newTabWriter(opts.IO.Out)
		fmt.Fprintln(w, p.bold("VIRTUAL\tGROUPS\tTOOLS"))
		for _, v := range rep.Virtual {
			fmt.Fprintf(w, "%s\t%s\t%s\n", v.ID, orDash(strings.Join(v.Groups, ",")), strings.Join(v.Tools, ", "))
		}
		_ = w.Flush()
	}
	return nil
}

func statusColor(p palette, s catalog.Status) string {
	switch s {
	case catalog.StatusApproved:
		return p.wrap("32", string(s))
	case catalog.StatusBlocked:
		return p.wrap("31", string(s))
	}
	return p.wrap("33", string(s))
}

func launchSummary(s *catalog.Server) string {
	switch {
	case s.Launch.URL != "":
		return s.Launch.URL
	case s.Launch.Command != "":
		return strings.TrimSpace(s.Launch.Command + " " + strings.Join(s.Launch.Args, " "))
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
