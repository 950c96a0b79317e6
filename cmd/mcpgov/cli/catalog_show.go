package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
)

// CatalogShowOptions are the inputs of `mcpgov catalog show`.
type CatalogShowOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	JSON    bool
	ID      string
}

func newCatalogShowCmd(f *Factory, runF func(*CatalogShowOptions) error) *cobra.Command {
	opts := &CatalogShowOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one catalog server or virtual server",
		Example: `  mcpgov catalog show github
  mcpgov catalog show support-triage --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return catalogShowRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the entry as JSON")
	return cmd
}

func catalogShowRun(opts *CatalogShowOptions) error {
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	c := b.Catalog
	if s := c.Server(opts.ID); s != nil {
		if opts.JSON {
			return writeJSON(opts.IO.Out, struct {
				SchemaVersion int             `json:"schemaVersion"`
				Kind          string          `json:"kind"`
				Server        *catalog.Server `json:"server"`
			}{1, "server", s})
		}
		printServer(opts.IO, c, s)
		return nil
	}
	if v := c.VirtualServer(opts.ID); v != nil {
		if opts.JSON {
			return writeJSON(opts.IO.Out, struct {
				SchemaVersion int                    `json:"schemaVersion"`
				Kind          string                 `json:"kind"`
				Virtual       *catalog.VirtualServer `json:"virtual"`
			}{1, "virtual", v})
		}
		printVirtual(opts.IO, v)
		return nil
	}
	ids := make([]string, 0, len(c.Servers)+len(c.Virtual))
	for _, s := range c.Servers {
		ids = append(ids, s.ID)
	}
	for _, v := range c.Virtual {
		ids = append(ids, v.ID)
	}
	return withHint(fmt.Errorf("no server or virtual server %q in %s", opts.ID, c.File), "known ids: "+strings.Join(ids, ", "))
}

func printServer(io *IOStreams, c *catalog.Catalog, s *catalog.Server) {
	p := palette{on: io.ColorEnabled()}
	w := newTabWriter(io.Out)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s\t%s\n", p.dim(k), v)
		}
	}
	row("id", p.bold(s.ID))
	row("title", s.Title)
	row("description", s.Description)
	row("status", statusColor(p, s.Status))
	row("risk", string(s.Risk))
	row("owner", s.Owner)
	row("data scope", strings.Join(s.DataScope, ", "))
	row("auth", s.Auth.String())
	row("groups", orDash(strings.Join(s.Groups, ", ")))
	row("fail mode", string(s.FailMode))
	row("launch", launchSummary(s))
	row("env", strings.Join(s.Launch.Env, ", "))
	row("headers", strings.Join(s.Launch.Headers, ", "))
	row("match packages", strings.Join(s.Match.Packages, ", "))
	row("match commands", strings.Join(s.Match.Commands, ", "))
	row("match urls", strings.Join(s.Match.URLs, ", "))
	row("tools allowed", strings.Join(s.Tools.Allow, ", "))
	row("tools denied", strings.Join(s.Tools.Deny, ", "))
	if s.Limits.CallsPerMinute > 0 {
		row("limit", fmt.Sprintf("%d calls/min per user", s.Limits.CallsPerMinute))
	}
	for _, tool := range sortedKeys(s.Limits.Tools) {
		row("limit "+tool, fmt.Sprintf("%d calls/min per user", s.Limits.Tools[tool]))
	}
	for _, tool := range sortedKeys(s.Pins) {
		row("pin "+tool, s.Pins[tool])
	}
	if r := s.Review; r != nil {
		row("reviewed", fmt.Sprintf("%s by %s", r.Date.Format("2006-01-02"), r.Reviewer))
		row("findings digest", r.FindingsDigest)
		row("notes", r.Notes)
	}
	row("defined at", fmt.Sprintf("%s:%d", c.File, s.Line))
	_ = w.Flush()
}

func printVirtual(io *IOStreams, v *catalog.VirtualServer) {
	p := palette{on: io.ColorEnabled()}
	w := newTabWriter(io.Out)
	fmt.Fprintf(w, "%s\t%s\n", p.dim("virtual"), p.bold(v.ID))
	if v.Title != "" {
		fmt.Fprintf(w, "%s\t%s\n", p.dim("title"), v.Title)
	}
	if v.Description != "" {
		fmt.Fprintf(w, "%s\t%s\n", p.dim("description"), v.Description)
	}
	fmt.Fprintf(w, "%s\t%s\n", p.dim("groups"), orDash(strings.Join(v.Groups, ", ")))
	for _, t := range v.Tools {
		fmt.Fprintf(w, "%s\t%s\n", p.dim("tool"), t)
	}
	_ = w.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
