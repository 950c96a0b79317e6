package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/shim/wrap"
)

func newCatalogUninstallCmd(f *Factory, runF func(context.Context, *CatalogInstallOptions) error) *cobra.Command {
	opts := &CatalogInstallOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "uninstall ID --client CLIENT",
		Short: "Remove a server that mcpgov catalog install added",
		Long: `Take out the entries "mcpgov catalog install" added for catalog server ID, as
the install manifest under the state directory records them: the inserted
bytes are removed, so a file nobody else edited is byte for byte what it was
before the install (a replaced entry comes back; a file install created is
deleted). An entry a client only reformatted around (Claude Code rewrites
~/.claude.json) is removed by its key while it is still as installed; one
changed since is left alone and reported. Without --client every client's
install of ID is removed. "mcpgov unwrap" removes installed entries too.`,
		Example: `  mcpgov catalog uninstall github --client claude-code
  mcpgov catalog uninstall github --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogUninstallRun(cmd.Context(), opts)
		},
	}
	addInstallFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.Name, "name", "", "only the entry of this name (default: any)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the diff and write nothing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the results as JSON")
	return cmd
}

func catalogUninstallRun(ctx context.Context, opts *CatalogInstallOptions) error {
	f := opts.Factory
	client := ""
	if opts.Client != "" {
		c, _, err := installClientScope(opts.Client, "")
		if err != nil {
			return err
		}
		client = c
	}
	home := homeDir(f.Getenv)
	stateDir := opts.StateDir
	if stateDir == "" {
		if home == "" {
			return withHint(errors.New("cannot tell the home directory: HOME is not set"), "set HOME or pass --state-dir")
		}
		var err error
		if stateDir, err = defaultWrapStateDir(f.Getenv, home); err != nil {
			return err
		}
	}
	results, changes, err := wrap.Uninstall(ctx, func(r wrap.InstallRecord) bool {
		return r.CatalogID == opts.ID && (client == "" || r.Client == client) &&
			(opts.Scope == "" || r.Scope == opts.Scope) && (opts.Name == "" || r.Server == opts.Name)
	}, wrap.Options{StateDir: stateDir, DryRun: opts.DryRun, Version: f.Version.Version, Now: f.Now})
	if results == nil {
		results = []wrap.InstallResult{}
	}
	var diffs []fileDiff
	if opts.DryRun {
		for _, ch := range changes {
			diffs = append(diffs, fileDiff{File: ch.File, Diff: string(diff.Diff(ch.File, ch.Before, ch.File+" (uninstalled)", ch.After))})
		}
	}
	if opts.JSON {
		if werr := writeJSON(opts.IO.Out, struct {
			SchemaVersion int                  `json:"schemaVersion"`
			DryRun        bool                 `json:"dryRun"`
			Results       []wrap.InstallResult `json:"results"`
			Diffs         []fileDiff           `json:"diffs,omitempty"`
		}{1, opts.DryRun, results, diffs}); werr != nil {
			return werr
		}
	} else {
		for _, d := range diffs {
			fmt.Fprint(opts.IO.Out, d.Diff)
		}
		w := newTabWriter(opts.IO.Out)
		for _, r := range results {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Client, r.Scope, r.File, r.Server, r.Action, orDash(r.Reason))
		}
		_ = w.Flush()
	}
	if err != nil {
		return withHint(fmt.Errorf("uninstall %s: %w", opts.ID, err), "remove the entry by hand, or run `mcpgov catalog install "+opts.ID+" --force` to rewrite it first")
	}
	if len(results) == 0 {
		return withHint(fmt.Errorf("no install of %s is recorded in %s", opts.ID, filepath.Join(stateDir, "installs.json")),
			"entries added by hand or on another machine are not removed; edit the client config")
	}
	return nil
}
