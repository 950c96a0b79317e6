package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson"
)

// CatalogImportOptions are the inputs of `mcpgov catalog import`.
type CatalogImportOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	File    string
	DryRun  bool
}

func newCatalogImportCmd(f *Factory, runF func(*CatalogImportOptions) error) *cobra.Command {
	opts := &CatalogImportOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Add servers from an MCP registry server.json to the catalog",
		Long: `Read an official MCP registry server.json (2025-12-11 schema) — one document,
an array of them, or a registry listing — and append one catalog entry per
server, status pending: launch parameters from its first stdio package (or its
remote), match rules for every package and remote URL, and the original
document kept under [servers.ID.registry] so "catalog export" reproduces it.
Governance data already in _meta["io.mcpgov/governance"] is restored.

Existing entries are never changed; an id that is already taken stops the
import with nothing written. Use - to read standard input.`,
		Example: `  mcpgov catalog import github-server.json
  curl -s "$REGISTRY/v0/servers?search=github" | mcpgov catalog import -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return catalogImportRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the catalog entries instead of writing them")
	return cmd
}

func catalogImportRun(opts *CatalogImportOptions) error {
	var (
		data []byte
		err  error
	)
	if opts.File == "-" {
		data, err = io.ReadAll(opts.IO.In)
	} else {
		data, err = os.ReadFile(opts.File)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", opts.File, err)
	}
	imported, err := serverjson.Import(data)
	if err != nil {
		return fmt.Errorf("import %s: %w", opts.File, err)
	}
	for _, s := range imported {
		s.Server.Registry = s.Registry
		for _, w := range s.Warnings {
			opts.IO.Warnf("%s (%s): %s", s.Name, s.Server.ID, w)
		}
	}
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	path := filepath.Join(b.Dir, catalog.CatalogFile)
	if opts.DryRun {
		text, err := serverjson.AppendTOML("", imported)
		if err != nil {
			return err
		}
		fmt.Fprint(opts.IO.Out, text)
		return nil
	}
	if err := serverjson.AppendServers(path, imported); err != nil {
		return fmt.Errorf("import %s: %w", opts.File, err)
	}
	for _, s := range imported {
		fmt.Fprintf(opts.IO.Out, "%s\t%s\t%s\n", s.Server.ID, s.Name, s.Version)
	}
	opts.IO.Notef("added %s to %s as pending", plural(len(imported), "server", "servers"), path)
	opts.IO.Hintf("review them with `mcpgov catalog vet ID --connect`")
	return nil
}
