package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli/tui"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// ScanOptions are the inputs of `mcpgov scan`.
type ScanOptions struct {
	IO      *IOStreams
	Factory *Factory

	Paths       []string
	Repo        string
	Format      string
	JSON        bool
	Clients     []string
	FailOn      string
	Home        string
	SystemRoot  string
	MaxFileSize string
	HostName    string
	Bundle      string
	TUI         bool
	Upload      bool
	Gateway     string
}

func newScanCmd(f *Factory, runF func(context.Context, *ScanOptions) error) *cobra.Command {
	opts := &ScanOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "scan [PATH...]",
		GroupID: "inventory",
		Short:   "Inventory the MCP servers configured on this machine",
		Long: `Find every MCP server configured on this machine, statically: nothing is
started and no URL is contacted.

mcpgov scan reads the user, local, project and managed (machine-wide) configs of
` + strings.Join(scan.Clients, ", ") + `
on Linux, macOS and Windows, honouring the clients' own overrides such as
CLAUDE_CONFIG_DIR and CODEX_HOME (see "mcpgov help environment").

Projects are the PATH arguments (directories, or config files), else the
working directory, each with its ancestors, plus every workspace the clients
remember (Claude Code projects, VS Code-family workspaceStorage, Codex
[projects]) with theirs. Claude Code plugins count only when
installed_plugins.json lists them, never from the marketplace catalogs.

In a project, pipelines and containers are read too: GitHub Actions
workflows that give an agent MCP servers (claude-code-action mcp_config,
--mcp-config with a file or inline JSON), .gitlab-ci.yml scripts and
services, devcontainer features, Dockerfiles and compose files that run
MCP server packages or images. --repo DIR scans one checkout alone, for CI:
no home directory, no managed files, no ancestors.

Each server is reported with its launch identity (package@version, command
or canonical URL — never its display name), whether it already runs through
mcpgov shim, which other gateway or bridge wraps it, and findings: plain-text
secrets (always masked), unpinned packages, plain-HTTP transport, not governed.
With a governance bundle (--bundle, MCPGOV_BUNDLE or the config files) each
server is matched to its catalog entry by launch identity and gets findings
shadow (not in the catalog), blocked, pending or version-not-approved.

A file that cannot be read or parsed is listed under "errors" and the scan
goes on. Output is a table on a terminal, tab-separated lines when piped,
versioned JSON (--format json), or SARIF 2.1.0 for code scanning. Piped,
each server is one line (--format plain; --format tsv adds a header line):
CLIENT, SCOPE, NAME, TRANSPORT, IDENTITY, GOVERNED (true/false), DISABLED
(true/false), SEVERITY (the worst finding's, "-" without findings),
FINDINGS (their count), LOCATION (file:line).`,
		Example: `  # this machine, as a table
  mcpgov scan

  # a repository in CI: SARIF for code scanning, fail on high findings
  mcpgov scan --repo . --format sarif --fail-on high > mcp.sarif

  # inventory for a fleet collection
  mcpgov scan --format json > "$(hostname).json"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scanRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "", "output format: table, plain, tsv, json or sarif (default: table on a terminal, plain when piped)")
	fl.BoolVar(&opts.JSON, "json", false, "shorthand for --format json")
	fl.BoolVar(&opts.TUI, "tui", false, "browse the inventory interactively (needs a terminal)")
	fl.StringSliceVar(&opts.Clients, "client", nil, "report only these clients (repeatable or comma-separated)")
	fl.StringVar(&opts.FailOn, "fail-on", "", "exit 3 when a finding at or above this severity exists: low, medium, high or critical")
	fl.StringVar(&opts.Repo, "repo", "", "scan only this checkout (CI): its project, pipeline and container files, not the machine")
	fl.StringVar(&opts.Home, "home", "", "scan this home directory instead of $HOME (another user, a mounted disk)")
	fl.StringVar(&opts.SystemRoot, "system-root", "", "read machine-wide (managed) configs under this directory instead of /")
	fl.StringVar(&opts.Bundle, "bundle", "", "governance bundle whose catalog each server is matched against (default: MCPGOV_BUNDLE, then the config files)")
	fl.StringVar(&opts.HostName, "host-name", "", "name this machine in the report, e.g. an asset tag (default: the OS hostname)")
	fl.BoolVar(&opts.Upload, "upload", false, "also send the inventory to the gateway's fleet inventory (with the login's or MCPGOV_TOKEN's token)")
	fl.StringVar(&opts.Gateway, "gateway", "", "gateway URL --upload sends to (default: the login profile's gateway_url)")
	fl.StringVar(&opts.MaxFileSize, "max-file-size", "16MiB", "largest config file to read (bytes, or with KiB/MiB suffix)")
	_ = cmd.RegisterFlagCompletionFunc("client", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return scan.Clients, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion(formatTable, formatPlain, formatTSV, formatJSON, formatSARIF))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion("low", "medium", "high", "critical"))

	cmd.AddCommand(newScanMergeCmd(f, nil))
	return cmd
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func scanRun(ctx context.Context, opts *ScanOptions) error {
	if opts.TUI {
		if opts.Format != "" || opts.JSON {
			return flagErrorf("--tui shows the inventory on the terminal; it cannot be combined with --format or --json")
		}
		if !opts.IO.CanPrompt() {
			return flagErrorf("--tui needs a terminal on stdin and stdout; use --format json or plain when piping")
		}
	}
	format, err := resolveFormat(opts.IO, opts.Format, opts.JSON, formatTable, formatPlain, formatTSV, formatJSON, formatSARIF)
	if err != nil {
		return err
	}
	var failOn finding.Severity
	if opts.FailOn != "" {
		sev, ok := finding.ParseSeverity(opts.FailOn)
		if !ok {
			return flagErrorf("invalid --fail-on %q: want low, medium, high or critical", opts.FailOn)
		}
		failOn = sev
	}
	known := map[string]bool{}
	for _, c := range scan.Clients {
		known[c] = true
	}
	for _, c := range opts.Clients {
		if !known[c] {
			return flagErrorf("unknown --client %q: want one of %s", c, strings.Join(scan.Clients, ", "))
		}
	}
	if opts.Upload && (opts.Repo != "" || len(opts.Paths) > 0) {
		return flagErrorf("--upload sends this machine's inventory; it cannot be combined with --repo or PATH arguments")
	}
	if opts.Gateway != "" && !opts.Upload {
		return flagErrorf("--gateway names where --upload sends the inventory; add --upload")
	}
	if opts.Repo != "" && len(opts.Paths) > 0 {
		return flagErrorf("--repo scans one checkout; it cannot be combined with PATH arguments")
	}
	maxSize, err := parseSize(opts.MaxFileSize)
	if err != nil {
		return flagErrorf("invalid --max-file-size %q: %v", opts.MaxFileSize, err)
	}

	f := opts.Factory
	home := opts.Home
	if home == "" {
		home = homeDir(f.Getenv)
	}
	if home == "" {
		return withHint(fmt.Errorf("cannot tell the home directory to scan: HOME is not set"), "set HOME or pass --home DIR")
	}
	home, _ = filepath.Abs(home)
	wd, err := f.WorkDir()
	if err != nil {
		return fmt.Errorf("read working directory: %w", err)
	}
	// The catalog is optional for a scan: without one configured, servers
	// simply carry no catalog match. A configured but broken bundle is an
	// error, so missing catalog findings never pass for clean ones.
	var (
		enrichers  []scan.Enricher
		extraRules []finding.Rule
	)
	b, err := loadOptionalBundle(f, opts.Bundle)
	if err != nil {
		return err
	}
	if b != nil {
		enrichers = append(enrichers, b.Catalog)
		extraRules = catalog.Rules
	}
	hostname := opts.HostName
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	rep, err := scan.Scan(ctx, scan.Options{
		Env:         scan.Env{OS: runtime.GOOS, Home: home, Getenv: f.Getenv, SystemRoot: opts.SystemRoot},
		WorkDir:     wd,
		Paths:       opts.Paths,
		Repo:        opts.Repo,
		Clients:     opts.Clients,
		MaxFileSize: maxSize,
		Enrichers:   enrichers,
		Now:         f.Now,
		Host: scan.Host{
			Name: hostname, OS: runtime.GOOS, Arch: runtime.GOARCH, User: userName(f.Getenv),
			Home: home, Scanner: "mcpgov " + f.Version.Version,
		},
	})
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}

	switch {
	case opts.TUI:
		err = runScanTUI(ctx, opts.IO, rep)
	case format == formatJSON:
		err = writeJSON(opts.IO.Out, rep)
	case format == formatSARIF:
		err = writeJSON(opts.IO.Out, scan.SARIF(rep, wd, f.Version.Version, extraRules))
	case format == formatPlain || format == formatTSV:
		printScanPlain(opts.IO, rep, format == formatTSV)
	default:
		printScanTable(opts.IO, rep)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if format != formatTable || opts.TUI {
		for _, e := range rep.Errors {
			opts.IO.Warnf("%s", fileErrorText(e))
		}
	}
	if opts.Upload {
		if err := uploadScan(ctx, opts, *rep); err != nil {
			return err
		}
	}
	if failOn != "" {
		n := 0
		for _, s := range rep.Servers {
			for _, fd := range s.Findings {
				if fd.Severity.Rank() >= failOn.Rank() {
					n++
				}
			}
		}
		if n > 0 {
			return &FindingsError{Summary: fmt.Sprintf("%s at or above %s (--fail-on %s)", plural(n, "finding", "findings"), failOn, failOn)}
		}
	}
	return nil
}

func fileErrorText(e scan.FileError) string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			loc += ":" + strconv.Itoa(e.Column)
		}
	}
	return loc + ": " + e.Message
}

func homeDir(getenv func(string) string) string {
	if runtime.GOOS == "windows" {
		if h := getenv("USERPROFILE"); h != "" {
			return h
		}
	}
	return getenv("HOME")
}

func userName(getenv func(string) string) string {
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// parseSize reads "1048576", "512KiB", "16MiB" or "1GiB".
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 16MiB")
	}
	return n * mult, nil
}

// runScanTUI browses the report until the user quits; errors reading
// files are printed after, on stderr, like the other formats.
func runScanTUI(ctx context.Context, io *IOStreams, rep *scan.Report) error {
	title := "mcpgov scan"
	if rep.Host.Name != "" {
		title += " · " + rep.Host.Name
	}
	p := tea.NewProgram(tui.NewScan(rep, title), tea.WithContext(ctx), tea.WithInput(io.In), tea.WithOutput(io.Out))
	_, err := p.Run()
	return err
}
