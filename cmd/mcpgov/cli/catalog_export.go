package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson"
)

// CatalogExportOptions are the inputs of `mcpgov catalog export`.
type CatalogExportOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	Format  string
	IDs     []string
}

func newCatalogExportCmd(f *Factory, runF func(*CatalogExportOptions) error) *cobra.Command {
	opts := &CatalogExportOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "export [ID...] --format server-json",
		Short: "Write catalog servers as MCP registry server.json documents",
		Long: `Write catalog servers as server.json documents (2025-12-11 schema), with the
governance data (status, owner, risk, data scope, auth, groups, tools, limits,
pins, review) under _meta["io.mcpgov/governance"]. A server that was imported
from server.json comes back as the original document, governance added, so
import and export round-trip losslessly.

With one ID the document is printed; with several, or none (every server), a
registry listing {"servers": [{"server": …}, …]}.`,
		Example: `  mcpgov catalog export github --format server-json > github.server.json
  mcpgov catalog export --format server-json > catalog.servers.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			if opts.Format != "server-json" {
				return flagErrorf("invalid --format %q: the only export format is server-json", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return catalogExportRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().StringVar(&opts.Format, "format", "server-json", "export format (server-json)")
	return cmd
}

func catalogExportRun(opts *CatalogExportOptions) error {
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	c := b.Catalog
	var servers []*catalog.Server
	if len(opts.IDs) == 0 {
		servers = c.Servers
	}
	for _, id := range opts.IDs {
		s := c.Server(id)
		if s == nil {
			return fmt.Errorf("no server %q in %s", id, c.File)
		}
		servers = append(servers, s)
	}
	docs := make([]json.RawMessage, 0, len(servers))
	for _, s := range servers {
		doc, err := serverjson.Export(s, s.Registry)
		if err != nil {
			return fmt.Errorf("export %s: %w", s.ID, err)
		}
		docs = append(docs, doc)
	}
	if len(opts.IDs) == 1 {
		_, err := opts.IO.Out.Write(append(docs[0], '\n'))
		return err
	}
	type entry struct {
		Server json.RawMessage `json:"server"`
	}
	listing := struct {
		Servers []entry `json:"servers"`
	}{Servers: make([]entry, len(docs))}
	for i, d := range docs {
		listing.Servers[i] = entry{Server: d}
	}
	return writeJSON(opts.IO.Out, listing)
}
