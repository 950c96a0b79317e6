package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// WrapOptions are the inputs of `mcpgov wrap` and `mcpgov unwrap`.
type WrapOptions struct {
	IO      *IOStreams
	Factory *Factory

	Clients    []string
	Files      []string
	Servers    []string
	Remote     bool
	DryRun     bool
	JSON       bool
	MCPGovPath string
	StateDir   string
	Bundle     string
	Mode       string
	Project    bool
	Gateway    string
	// MoveSecrets takes literal secrets out of the entries' env, args,
	// headers and URLs into the vault; the shim injects them
	// (wrap_secrets.go).
	MoveSecrets bool
}

func newWrapCmd(f *Factory, runF func(context.Context, *WrapOptions) error) *cobra.Command {
	opts := &WrapOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "wrap",
		GroupID: "enforce",
		Short:   "Route the MCP servers of client configs through mcpgov shim",
		Long: `Rewrite the stdio server entries that mcpgov scan finds so each client launches
them through the governing shim:

  "command": "/usr/local/bin/mcpgov",
  "args": ["shim", "--", <original command>, <original args>...]

Disabled entries are wrapped too, so enabling one later does not bypass the
shim. Entries already launched through mcpgov shim are left alone (wrapping
twice is the same as once); entries wrapped by another governor or bridge
(mcp-remote, invariant-gateway, ToolHive, …) are reported and never
double-wrapped. Remote (url) entries are reported and left as they are,
unless --remote is given: then a Streamable HTTP entry of a JSON config or
Codex's config.toml becomes a stdio entry running "mcpgov shim --url URL"
(for clients such as Claude Desktop whose files accept only stdio entries);
one with headers only with --move-secrets, which passes them on. Claude
Desktop's connectors (found in its session logs) live in its account
settings, not in a file: they are skipped with that reason.

With --move-secrets the plain-text secrets scan reports leave the config
for mcpgov's vault, and the shim puts each back where it was at launch, so
the server gets what it got before: an env value (JSON, Codex, Continue)
becomes "" (shim --secret-env NAME=REF); a secret argument keeps what came
before its value (--api-key=, or nothing) and the shim appends it
(--secret-arg N=REF); a remote JSON entry's secret header becomes ""
(--secret-header NAME=REF; other headers go as --header), a secret query
value or user:password is cut from the URL (--secret-query NAME=REF,
--secret-userinfo REF), and --secret-origin records the URL's
scheme://host:port: the shim sends those secrets to no other origin, so an
edited --url gets none (run unwrap, then wrap again, when a server really
moves; entries wrapped before this flag existed are not checked). Diffs and backups show the values masked; the
manifest holds only references; unwrap reads the values back from the
vault and restores the file byte for byte.

The edit is lossless: only the bytes of the command and args values change.
Comments, key order, indentation, line endings, byte order mark, trailing
newline, file mode and symlinks (the link target is written) are kept, and
no comment or trailing comma is ever added to a strict-JSON file. Each file
is written atomically; if a client changes it while mcpgov edits it, the edit
is redone from the new content (up to 3 times) and never clobbers the
client's write. A file that does not parse is refused. So is an entry
whose server name, a key on the way to it, or one of its own keys is
written twice: clients use only the last copy, so which one to govern would
be a guess. Refused entries and entries that could not be found are
reported as failed, with their lines, and wrap exits 1. A backup of every
original file and a manifest of every original entry are kept under the
state directory ($XDG_STATE_HOME/mcpgov/wrap, --state-dir), so "mcpgov
unwrap" restores the files byte for byte.

Wrapped servers are governed by the bundle the shim loads: the one in
config.toml (see "mcpgov help config"; "mcpgov bundle init --register"
writes it) or MCPGOV_BUNDLE. Without a usable one every wrapped server would
be refused at start, so wrap refuses too, unless --mode audit: then the
shims record what they would have refused and block nothing. A --bundle
that is not the one the shim will load is refused the same way. Each entry
gets a VERDICT, predicted with the shim's own catalog matching and
admission check: runs, audit-only (the catalog would refuse it; audit mode
records that) or refused, with the reason. Servers the catalog refuses are
wrapped all the same (left as they are, they would run ungoverned), and wrap
warns about them. The catalog id is passed as --server only for a launch
whose version the catalog approves.

With --gateway URL the machine's servers are pointed at the central gateway
(mcpgov gateway serve) instead, at its endpoint for their catalog server,
URL/servers/ID/mcp. A Claude Code stdio entry whose launch the catalog knows
becomes a Streamable HTTP entry for it ("type": "http", "url") whose
headersHelper is "mcpgov auth token --header-json", so Claude Code sends
the login's token itself. Every other JSON entry, stdio or remote, that the
catalog knows becomes a stdio entry running

  mcpgov shim --server ID --url URL/servers/ID/mcp

which relays to the gateway and sends the login's access token there (set
the profile's gateway_url to URL/mcp; wrap warns when it is not). Codex's
config.toml and Continue's config.yaml get that command line too: Codex
reads a Streamable HTTP entry's token only from an environment variable of
its own, and Continue only from its file, so neither could send the
login's token. The entries' other members (env, disabled, comments, …) are
kept, and unwrap restores them from the manifest, also after a client
rewrote its file. Entries the catalog does not know are wrapped through the
local shim as without --gateway, with the reason.

Project configs inside a git (or Mercurial, Subversion, Jujutsu) work tree
are shared with everyone who checks the repository out, and the path wrap
writes is this machine's: they are skipped (skipped-project) unless
--project is given.

The mcpgov path written into configs is absolute: IDEs started from a
desktop launcher or the Dock get a minimal PATH, in which a bare "mcpgov"
would not be found and the server would fail to start. By default it is the
running binary with symlinks resolved; pass --mcpgov-path for a stable
location (say, a package manager's symlink that survives upgrades), which
must exist, be executable and answer "version" as mcpgov. Wrapping from
"go run" or a temporary directory writes a path that will vanish, and
mcpgov warns about it.

With --dry-run nothing is written, and the exit code is the one wrap would
return.

Supported formats: JSON and JSONC (Cursor, Claude Desktop, Claude Code,
VS Code, Windsurf, Cline, Zed, Gemini CLI, Kiro, Copilot CLI, opencode),
Codex TOML and Continue YAML (one-line values; other layouts are reported as
skipped-unsupported and left alone).`,
		Example: `  # show what would change, as a diff, and each server's verdict
  mcpgov wrap --dry-run

  # no bundle yet: record what would be refused, block nothing
  mcpgov wrap --mode audit

  # wrap Cursor and Claude Code only
  mcpgov wrap --client cursor --client claude-code

  # one file, one server
  mcpgov wrap --file .cursor/mcp.json --server github

  # point every catalog server at the central gateway
  mcpgov wrap --gateway https://gateway.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return wrapRun(cmd.Context(), opts, false)
		},
	}
	addWrapFlags(cmd, opts)
	fl := cmd.Flags()
	fl.BoolVar(&opts.Remote, "remote", false, "also wrap remote (Streamable HTTP) entries as stdio entries running mcpgov shim --url")
	fl.StringVar(&opts.MCPGovPath, "mcpgov-path", "", "absolute path of mcpgov to write into configs (default: this binary, symlinks resolved)")
	fl.StringVar(&opts.Bundle, "bundle", "", "governance bundle to predict verdicts and catalog ids with; must be the one the shim loads (default: MCPGOV_BUNDLE, then the config files)")
	fl.StringVar(&opts.Mode, "mode", "", "enforce or audit, written into each shim command (default: the catalog's mode); audit needs no usable bundle")
	fl.StringVar(&opts.Gateway, "gateway", "", "point catalog servers at this gateway (URL): each runs mcpgov shim --url GATEWAY/servers/ID/mcp")
	fl.BoolVar(&opts.Project, "project", false, "also wrap project configs inside a version-controlled work tree (they get this machine's mcpgov path)")
	fl.BoolVar(&opts.MoveSecrets, "move-secrets", false, "move plain-text secrets (env values, arguments, a remote entry's headers and URL parts) into the vault; the shim puts each back at launch")
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{"enforce", "audit"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// addWrapFlags adds the selection and output flags wrap and unwrap share.
func addWrapFlags(cmd *cobra.Command, opts *WrapOptions) {
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Clients, "client", nil, "only entries of these clients (repeatable or comma-separated)")
	fl.StringSliceVar(&opts.Files, "file", nil, "only entries in this config file (repeatable)")
	fl.StringSliceVar(&opts.Servers, "server", nil, "only entries with this server name (repeatable or comma-separated)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print a unified diff per file and write nothing")
	fl.BoolVar(&opts.JSON, "json", false, "print the results as JSON")
	fl.StringVar(&opts.StateDir, "state-dir", "", "where backups and the manifest live (default: $XDG_STATE_HOME/mcpgov/wrap)")
	_ = cmd.RegisterFlagCompletionFunc("client", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return scan.Clients, cobra.ShellCompDirectiveNoFileComp
	})
}

// wrapReport is the JSON output of wrap and unwrap.
type wrapReport struct {
	SchemaVersion int          `json:"schemaVersion"`
	DryRun        bool         `json:"dryRun"`
	Results       []wrapResult `json:"results"`
	Diffs         []fileDiff   `json:"diffs,omitempty"`
}

// wrapResult is one entry's outcome and, for entries launched through the
// shim, its predicted verdict.
type wrapResult struct {
	wrap.Result
	Verdict *wrapVerdict `json:"verdict,omitempty"`
}

type fileDiff struct {
	File string `json:"file"`
	Diff string `json:"diff"`
}

func wrapRun(ctx context.Context, opts *WrapOptions, unwrap bool) error {
	f := opts.Factory
	known := map[string]bool{}
	for _, c := range scan.Clients {
		known[c] = true
	}
	for _, c := range opts.Clients {
		if !known[c] {
			return flagErrorf("unknown --client %q: want one of %s", c, strings.Join(scan.Clients, ", "))
		}
	}
	home := homeDir(f.Getenv)
	if home == "" {
		return withHint(fmt.Errorf("cannot tell the home directory: HOME is not set"), "set HOME")
	}
	wo := wrap.Options{Remote: opts.Remote, DryRun: opts.DryRun, Version: f.Version.Version, Now: f.Now, Project: opts.Project}
	var gov *wrapGovernance
	var refuse error // what a real wrap refuses for; a dry run reports it after its output
	if !unwrap {
		switch opts.Mode {
		case "", string(catalog.ModeEnforce), string(catalog.ModeAudit):
		default:
			return flagErrorf("invalid --mode %q: want enforce or audit", opts.Mode)
		}
		p, err := mcpgovPath(ctx, opts.MCPGovPath)
		if err != nil {
			return err
		}
		if w := volatilePath(p); w != "" && opts.MCPGovPath == "" {
			opts.IO.Warnf("%s is %s; clients will fail to start their servers once it is gone", p, w)
			opts.IO.Hintf("pass --mcpgov-path with the installed location of mcpgov")
		}
		wo.MCPGovPath = p
		if gov, err = loadWrapGovernance(f, opts.Bundle, opts.Mode); err != nil {
			return err
		}
		wo.ShimFlags = gov.shimFlags
		if opts.Gateway != "" {
			if err := wrapGatewayOptions(opts, gov, &wo); err != nil {
				return err
			}
		}
		refuse = gov.refusal(opts.IO, opts.Bundle)
		if refuse != nil && !opts.DryRun {
			return refuse
		}
	}
	wo.StateDir = opts.StateDir
	if wo.StateDir == "" {
		dir, err := defaultWrapStateDir(f.Getenv, home)
		if err != nil {
			return err
		}
		wo.StateDir = dir
	}

	defer wrapSecrets(ctx, opts, &wo, unwrap)()

	servers, refused, err := wrapSelect(ctx, opts, home, gov)
	if err != nil {
		return err
	}
	var out *wrap.Outcome
	if unwrap {
		out, err = wrap.Unwrap(ctx, servers, wo)
	} else {
		out, err = wrap.Wrap(ctx, servers, wo)
	}
	if out == nil {
		return err
	}
	rep := wrapReport{SchemaVersion: 1, DryRun: opts.DryRun, Results: []wrapResult{}}
	for i, r := range out.Results {
		if unwrap && r.Action == wrap.ActionNotWrapped && r.Reason == "" {
			continue
		}
		wr := wrapResult{Result: r}
		if gov != nil {
			wr.Verdict = gov.predictResult(ctx, r, servers[i])
		}
		rep.Results = append(rep.Results, wr)
	}
	if opts.DryRun {
		for _, ch := range out.Changes {
			label := ch.File + map[bool]string{false: " (wrapped)", true: " (unwrapped)"}[unwrap]
			rep.Diffs = append(rep.Diffs, fileDiff{File: ch.File, Diff: string(diff.Diff(ch.File, ch.Before, label, ch.After))})
		}
	}
	if opts.JSON {
		if werr := writeJSON(opts.IO.Out, rep); werr != nil {
			return werr
		}
	} else {
		for _, d := range rep.Diffs {
			fmt.Fprint(opts.IO.Out, d.Diff)
		}
		printWrapResults(opts.IO, rep.Results, !unwrap)
	}
	verb := map[bool]string{false: "wrap", true: "unwrap"}[unwrap]
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	if gov != nil && gov.bundle != nil {
		warnRefused(opts.IO, rep.Results, opts.DryRun)
	}
	if ferr := failedEntries(verb, rep.Results); ferr != nil {
		return ferr
	}
	if len(refused) > 0 {
		what := "a config file does not parse"
		if len(refused) > 1 {
			what = fmt.Sprintf("%d config files do not parse", len(refused))
		}
		return withHint(fmt.Errorf("%s: %s (left unchanged): %s", verb, what, strings.Join(refused, "; ")),
			"fix the file (or have its client rewrite it) and run mcpgov "+verb+" again")
	}
	return refuse
}

// failedEntries is the error for entries wrap or unwrap refused or could
// not find: such an entry is left as it was (ungoverned, for wrap), which
// must not pass for success. It names the first, with its location.
func failedEntries(verb string, results []wrapResult) error {
	var failed []wrap.Result
	for _, r := range results {
		if r.Action == wrap.ActionFailed {
			failed = append(failed, r.Result)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	first := failed[0]
	what := "1 entry was"
	if len(failed) > 1 {
		what = fmt.Sprintf("%d entries were", len(failed))
	}
	return withHint(fmt.Errorf("%s: %s left unchanged; first: %s:%d: server %q: %s", verb, what, first.File, first.Line, first.Server, first.Reason),
		"fix what each failed entry's reason names, then run mcpgov "+verb+" again")
}

// wrapSelect scans the machine and keeps the entries the flags select. It
// also returns the selected config files that do not parse: their entries
// cannot be found, so they are refused rather than silently left ungoverned.
func wrapSelect(ctx context.Context, opts *WrapOptions, home string, gov *wrapGovernance) ([]scan.Server, []string, error) {
	unwrap := gov == nil
	f := opts.Factory
	wd, err := f.WorkDir()
	if err != nil {
		return nil, nil, fmt.Errorf("read working directory: %w", err)
	}
	files := map[string]bool{}
	var paths []string
	for _, p := range opts.Files {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, flagErrorf("invalid --file %q: %v", p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, nil, flagErrorf("invalid --file %q: %v", p, err)
		}
		files[abs] = true
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			files[r] = true
		}
		paths = append(paths, abs)
	}
	var enrichers []scan.Enricher
	if gov != nil && gov.bundle != nil {
		enrichers = append(enrichers, gov.bundle.Catalog)
	}
	rep, err := scan.Scan(ctx, scan.Options{
		Env:       scan.Env{OS: runtime.GOOS, Home: home, Getenv: f.Getenv},
		WorkDir:   wd,
		Paths:     paths,
		Clients:   opts.Clients,
		Enrichers: enrichers,
		Now:       f.Now,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan: %w", err)
	}
	var refused []string
	for _, e := range rep.Errors {
		if len(files) > 0 && !files[e.File] {
			continue
		}
		if e.Line > 0 || len(files) > 0 {
			refused = append(refused, fileErrorText(e))
		} else {
			opts.IO.Warnf("%s", fileErrorText(e))
		}
	}
	names := map[string]bool{}
	for _, n := range opts.Servers {
		names[n] = true
	}
	var out []scan.Server
	for _, s := range rep.Servers {
		if len(files) > 0 && !files[s.File] {
			if r, err := filepath.EvalSymlinks(s.File); err != nil || !files[r] {
				continue
			}
		}
		if len(names) > 0 && !names[s.Name] {
			continue
		}
		// Unwrap looks at stdio entries and at HTTP ones, which may be a
		// --gateway wrap's (other HTTP entries come back not-wrapped and
		// are not reported).
		if unwrap && s.Transport != scan.TransportStdio && s.Transport != scan.TransportHTTP {
			continue
		}
		out = append(out, s)
	}
	return out, refused, nil
}

// mcpgovPath is the absolute path written into configs. A --mcpgov-path
// must exist, be executable and answer `version` as mcpgov: a wrong one
// would make every wrapped server fail to start, far from this command.
func mcpgovPath(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, checkMCPGovPath(ctx, flag)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", withHint(fmt.Errorf("find the mcpgov binary: %w", err), "pass --mcpgov-path")
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

func checkMCPGovPath(ctx context.Context, p string) error {
	const hint = "pass the absolute path of the installed mcpgov binary (`command -v mcpgov`)"
	if !filepath.IsAbs(p) {
		return flagErrorf("--mcpgov-path %q is not absolute: GUI-launched clients do not search your PATH", p)
	}
	info, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s does not exist", p), hint)}
	case err != nil:
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s: %w", p, err), hint)}
	case info.IsDir():
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s is a directory, not the mcpgov binary", p), hint)}
	case runtime.GOOS != "windows" && info.Mode().Perm()&0o111 == 0:
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s is not executable (mode %04o)", p, info.Mode().Perm()), hint)}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "version")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		detail := strings.TrimSpace(stderr.String())
		if detail != "" {
			detail = ": " + firstLine(detail)
		}
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s is not mcpgov: `%s version` failed: %v%s", p, p, err, detail), hint)}
	}
	if out := strings.TrimSpace(stdout.String()); !strings.HasPrefix(out, "mcpgov ") {
		return &FlagError{Err: withHint(fmt.Errorf("--mcpgov-path %s is not mcpgov: `%s version` printed %q", p, p, firstLine(out)), hint)}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// volatilePath says why p will not last ("" when it looks installed).
func volatilePath(p string) string {
	if strings.Contains(filepath.ToSlash(p), "/go-build") {
		return "in the go build cache (go run)"
	}
	dirs := []string{os.TempDir()}
	if runtime.GOOS != "windows" {
		dirs = append(dirs, "/tmp", "/var/tmp", "/private/tmp", "/var/folders", "/private/var/folders")
	}
	for _, d := range dirs {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			d = r
		}
		if rel, err := filepath.Rel(d, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return "in the temporary directory " + d
		}
	}
	return ""
}

// defaultWrapStateDir is where wrap keeps backups and its manifest: the
// state directory's wrap (govern.StateDir).
func defaultWrapStateDir(getenv func(string) string, home string) (string, error) {
	dir, err := govern.StateDir(govern.Env{Getenv: getenv, Home: home}, "wrap")
	if err != nil {
		return "", withHint(err, "set HOME, or pass --state-dir")
	}
	return dir, nil
}

func printWrapResults(io *IOStreams, results []wrapResult, verdicts bool) {
	if len(results) == 0 {
		io.Notef("no matching server entries")
		return
	}
	p := palette{on: io.ColorEnabled()}
	w := newTabWriter(io.Out)
	if io.IsStdoutTTY() {
		if verdicts {
			fmt.Fprintln(w, p.bold("CLIENT\tLOCATION\tSERVER\tACTION\tVERDICT\tREASON"))
		} else {
			fmt.Fprintln(w, p.bold("CLIENT\tLOCATION\tSERVER\tACTION\tREASON"))
		}
	}
	for _, r := range results {
		reasons := []string{}
		if r.Reason != "" {
			reasons = append(reasons, r.Reason)
		}
		verdict := "-"
		if v := r.Verdict; v != nil {
			verdict = v.Verdict
			if v.Reason != "" {
				reasons = append(reasons, v.Reason)
			}
		}
		reason := strings.Join(reasons, "; ")
		if reason == "" {
			reason = "-"
		}
		if verdicts {
			fmt.Fprintf(w, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", r.Client, r.File, r.Line, r.Server, r.Action, verdict, reason)
		} else {
			fmt.Fprintf(w, "%s\t%s:%d\t%s\t%s\t%s\n", r.Client, r.File, r.Line, r.Server, r.Action, reason)
		}
	}
	_ = w.Flush()
}
