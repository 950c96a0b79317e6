package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/govern"
)

func newBundleCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bundle <command>",
		GroupID: "catalog",
		Short:   "Create and sign governance bundles",
		Long: `A governance bundle is a directory kept in git by the platform team:
catalog.toml (approved servers, virtual servers), with guardrails.toml,
policies/*.rego and an optional bundle.sig beside it.`,
		Example: "  mcpgov bundle init ./governance",
	}
	cmd.AddCommand(
		newBundleInitCmd(f, nil),
		newBundleKeygenCmd(f, nil),
		newBundleSignCmd(f, nil),
		newBundleVerifyCmd(f, nil),
	)
	return cmd
}

// BundleInitOptions are the inputs of `mcpgov bundle init`.
type BundleInitOptions struct {
	IO      *IOStreams
	Factory *Factory
	Dir     string
	// Register is whether to register the bundle in config.toml; nil
	// asks on a terminal and does not register otherwise.
	Register *bool
}

func newBundleInitCmd(f *Factory, runF func(*BundleInitOptions) error) *cobra.Command {
	opts := &BundleInitOptions{IO: f.IO, Factory: f}
	var register bool
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a commented starter bundle",
		Long: `Write a starter bundle into DIR (created if needed): a commented
catalog.toml with an approved server everyone may use (no identity provider
needed; group rules are shown commented), a pending and a blocked server and
a virtual server; guardrails.toml with every guardrail in audit mode; and
policies/ with their tests. It validates as written. Existing files are
never overwritten.

The bundle can then be registered as the one mcpgov uses: bundle = DIR in
the user's config.toml (see "mcpgov help config"), which the shim, wrap and
every other command read. On a terminal init asks; otherwise pass
--register (or --register=false). Registering an existing bundle only
registers it. The edit changes that one line and nothing else in the file,
is atomic, and keeps a copy of the previous file under
$XDG_STATE_HOME/mcpgov/config-backups.

Without a registered bundle, catalog and policy commands still find
./governance in the working directory or a parent.`,
		Example: `  mcpgov bundle init --register ./governance
  mcpgov bundle init ./governance && mcpgov catalog validate ./governance`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if cmd.Flags().Changed("register") {
				opts.Register = &register
			}
			if runF != nil {
				return runF(opts)
			}
			return bundleInitRun(opts)
		},
	}
	cmd.Flags().BoolVar(&register, "register", false, "register the bundle as bundle = DIR in the user's config.toml (default: ask on a terminal, else no)")
	return cmd
}

func bundleInitRun(opts *BundleInitOptions) error {
	f, io := opts.Factory, opts.IO
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	_, statErr := os.Stat(filepath.Join(abs, catalog.CatalogFile))
	exists := statErr == nil
	switch {
	case exists && (opts.Register == nil || !*opts.Register):
		return withHint(fmt.Errorf("bundle init: %s already holds a bundle (%s exists); nothing written", opts.Dir, catalog.CatalogFile),
			"to make it the configured bundle: `mcpgov bundle init --register "+opts.Dir+"`")
	case exists:
		io.Notef("%s already holds a bundle; registering it", opts.Dir)
	default:
		files, err := catalog.WriteStarter(opts.Dir)
		if err != nil {
			return fmt.Errorf("bundle init: %w", err)
		}
		for _, file := range files {
			io.Notef("wrote %s", file)
		}
	}
	path := govern.UserConfigPath(f.Env())
	register := opts.Register != nil && *opts.Register
	if opts.Register == nil && opts.IO.CanPrompt() {
		if register, err = confirm(opts.IO, fmt.Sprintf("Register %s as your governance bundle in %s?", abs, path), true); err != nil {
			return err
		}
	}
	if !register {
		if !exists {
			io.Hintf("edit %s/catalog.toml, then run `mcpgov catalog validate %s`", opts.Dir, opts.Dir)
		}
		found := "commands need --bundle " + opts.Dir
		if filepath.Base(abs) == govern.GovernanceDir {
			found = "catalog and policy commands run in " + filepath.Dir(abs) + " or below find it"
		}
		io.Hintf("%s; to use it everywhere, wrapped servers included, run `mcpgov bundle init --register %s`", found, opts.Dir)
		return nil
	}
	backups, err := stateDir(f, "config-backups")
	if err != nil {
		return fmt.Errorf("bundle init: register: %w", err)
	}
	reg, err := registerBundle(path, abs, backups, f.Now())
	if err != nil {
		return fmt.Errorf("bundle init: register: %w", err)
	}
	switch {
	case !reg.Changed:
		io.Notef("%s is already the bundle in %s", abs, path)
	case reg.Previous != "":
		io.Notef("registered %s in %s (it named %s before; the previous file is kept at %s)", abs, path, reg.Previous, reg.Backup)
	default:
		io.Notef("registered %s in %s", abs, path)
	}
	if cfgs, err := f.Config(); err == nil && cfgs.Managed.Bundle != "" && !sameDir(cfgs.Managed.Bundle, abs) {
		io.Warnf("the managed config %s names the bundle %s; the user's config wins over it", cfgs.Managed.Path(), cfgs.Managed.Bundle)
	}
	if env := f.Getenv("MCPGOV_BUNDLE"); env != "" {
		io.Warnf("MCPGOV_BUNDLE=%s is set and wins over %s", env, path)
	}
	if !exists {
		io.Hintf("edit %s/catalog.toml, then run `mcpgov catalog validate`", opts.Dir)
	}
	return nil
}

// confirm asks a yes/no question on the terminal; def is the answer to an
// empty line.
func confirm(io *IOStreams, question string, def bool) (bool, error) {
	choices := map[bool]string{true: "[Y/n]", false: "[y/N]"}[def]
	fmt.Fprintf(io.ErrOut, "%s %s ", question, choices)
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	case "n", "no":
		return false, nil
	}
	return false, flagErrorf("answer %q: want y or n", strings.TrimSpace(line))
}
