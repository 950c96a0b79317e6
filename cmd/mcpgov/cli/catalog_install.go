package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// CatalogInstallOptions are the inputs of `mcpgov catalog install`.
type CatalogInstallOptions struct {
	IO      *IOStreams
	Factory *Factory

	ID         string
	Client     string
	Scope      string
	Name       string
	Inputs     []string
	DryRun     bool
	Force      bool
	JSON       bool
	Bundle     string
	MCPGovPath string
	StateDir   string

	// Identity returns the caller's verified identity without prompting
	// (the shim's lookup); tests replace it.
	Identity func(context.Context) (audit.Identity, error)
	// Prompter asks for inputs when stdin and stdout are a terminal.
	Prompter Prompter

	bundle *catalog.Bundle // already loaded (browse)
}

func newCatalogInstallCmd(f *Factory, runF func(context.Context, *CatalogInstallOptions) error) *cobra.Command {
	opts := &CatalogInstallOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "install ID --client CLIENT",
		Short: "Add an approved catalog server to a client's config, governed",
		Long: `Write an approved catalog server into one client's MCP config, already
governed: the entry launches "mcpgov shim --server ID -- <the server's command>"
exactly as "mcpgov wrap" would rewrite it, so every call is checked and
audited from the first start.

Only approved servers are installed. When the entry lists allowed groups and
you are logged in ("mcpgov login"), your groups must include one of them;
without a login the groups cannot be checked here (the shim still checks
them on every call) and install says so.

Inputs: the values the server's server.json declares as user inputs
(environment variables and arguments without a fixed value, variables of
templated values), or the variables launch.env names. On a terminal you are
asked for each (secrets without echo); otherwise pass --input KEY=VALUE, and
a required input left without a value is a usage error (exit 2) naming it.
Secrets are never written in plain text where the client can refer to a
value kept elsewhere: Claude Code and Gemini CLI get ${VAR}, Cursor and
Windsurf ${env:VAR}, opencode {env:VAR}, Continue ${{ secrets.VAR }}, VS Code
an input variable it asks for once and keeps in its secret storage, Codex
env_vars. Other clients get the value in plain text (with a warning, in
user-scope files only); it is masked in everything mcpgov prints.

The edit is the same lossless, atomic, concurrency-safe patch as wrap's
(comments, key order, indentation, line endings, BOM and mode kept; a
missing file is created), with a backup and a record in the install
manifest under the state directory, so "mcpgov catalog uninstall" or
"mcpgov unwrap" removes the entry again byte for byte. An entry of the same
name that launches something else is left alone unless --force replaces it.
Afterwards the file is scanned to confirm the entry is found, governed and
matched to the catalog server.

Scopes: user (default) for every client; project (the current directory)
for Claude Code, Cursor, VS Code, Zed, Gemini CLI, Codex, Continue,
opencode and Kiro; local (this project, for you only) for Claude Code.`,
		Example: `  # Claude Code, user scope; asks for the inputs on a terminal
  mcpgov catalog install github --client claude-code

  # the diff it would apply, without writing
  mcpgov catalog install github --client cursor --scope project --dry-run

  # unattended, with inputs
  mcpgov catalog install jira --client codex --input JIRA_URL=https://acme.atlassian.net`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogInstallRun(cmd.Context(), opts)
		},
	}
	addInstallFlags(cmd, opts)
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "name of the entry in the client config (default: the catalog id)")
	fl.StringArrayVar(&opts.Inputs, "input", nil, "value of one input, KEY=VALUE (repeatable)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the diff and write nothing")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing entry of the same name that differs")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	fl.StringVar(&opts.MCPGovPath, "mcpgov-path", "", "absolute path of mcpgov to write into the config (default: this binary, symlinks resolved)")
	return cmd
}

// addInstallFlags adds the flags install, uninstall and browse share.
func addInstallFlags(cmd *cobra.Command, opts *CatalogInstallOptions) {
	fl := cmd.Flags()
	fl.StringVar(&opts.Client, "client", "", "client whose config gets the server: "+strings.Join(installClients(), ", "))
	fl.StringVar(&opts.Scope, "scope", "", "user, project (the current directory) or local (Claude Code); default user")
	fl.StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	fl.StringVar(&opts.StateDir, "state-dir", "", "where backups and the install manifest live (default: $XDG_STATE_HOME/mcpgov/wrap)")
	_ = cmd.RegisterFlagCompletionFunc("client", fixedCompletion(installClients()...))
	_ = cmd.RegisterFlagCompletionFunc("scope", fixedCompletion("user", "project", "local"))
}

// installClients are the clients a server can be installed into.
func installClients() []string {
	var out []string
	for _, c := range scan.Clients {
		if len(scan.InstallScopes(c)) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// clientAliases are short names people type.
var clientAliases = map[string]string{"gemini": scan.ClientGeminiCLI, "claude": scan.ClientClaudeCode, "copilot": scan.ClientCopilotCLI, "code": scan.ClientVSCode}

// installClientScope checks --client and --scope.
func installClientScope(client, scope string) (string, scan.Scope, error) {
	if client == "" {
		return "", "", flagErrorf("--client is required: one of %s", strings.Join(installClients(), ", "))
	}
	if c, ok := clientAliases[client]; ok {
		client = c
	}
	scopes := scan.InstallScopes(client)
	if len(scopes) == 0 {
		return "", "", flagErrorf("unknown --client %q: want one of %s", client, strings.Join(installClients(), ", "))
	}
	if scope == "" {
		return client, scopes[0], nil
	}
	for _, s := range scopes {
		if string(s) == scope {
			return client, s, nil
		}
	}
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return "", "", flagErrorf("%s has no %q scope: want %s", client, scope, strings.Join(names, " or "))
}

// installReport is the JSON output of install.
type installReport struct {
	SchemaVersion int                 `json:"schemaVersion"`
	DryRun        bool                `json:"dryRun"`
	Result        *wrap.InstallResult `json:"result"`
	Inputs        []inputAnswer       `json:"inputs"`
	Groups        groupCheck          `json:"groups"`
	Verified      *installVerified    `json:"verified,omitempty"`
	Warnings      []string            `json:"warnings"`
	Diff          string              `json:"diff,omitempty"`
}

// groupCheck says whether the caller's groups were checked against the
// entry's allowed groups.
type groupCheck struct {
	Allowed []string `json:"allowed,omitempty"` // the entry's allowed groups
	Yours   []string `json:"yours,omitempty"`   // the caller's verified groups
	Checked bool     `json:"checked"`
	Reason  string   `json:"reason,omitempty"`
}

// installVerified is what a scan of the written file found.
type installVerified struct {
	Found     bool   `json:"found"`
	Governed  bool   `json:"governed"`
	CatalogID string `json:"catalogId,omitempty"`
	Identity  string `json:"identity,omitempty"`
}

func catalogInstallRun(ctx context.Context, opts *CatalogInstallOptions) error {
	f := opts.Factory
	client, scope, err := installClientScope(opts.Client, opts.Scope)
	if err != nil {
		return err
	}
	b := opts.bundle
	if b == nil {
		if b, err = loadBundle(f, opts.Bundle); err != nil {
			return err
		}
	}
	s, err := installable(b.Catalog, opts.ID)
	if err != nil {
		return err
	}
	rep := installReport{SchemaVersion: 1, DryRun: opts.DryRun, Inputs: []inputAnswer{}, Warnings: []string{}}
	if rep.Groups, err = checkGroups(ctx, opts, s); err != nil {
		return err
	}
	if !rep.Groups.Checked && len(s.Groups) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("could not check that you may use %s (allowed groups: %s): %s; the shim checks it on every call", s.ID, strings.Join(s.Groups, ", "), rep.Groups.Reason))
	}
	st, launch, err := installInputs(opts, client, s, &rep)
	if err != nil {
		return err
	}
	m := masker(st.plaintext)
	home := homeDir(f.Getenv)
	if home == "" {
		return withHint(errors.New("cannot tell the home directory: HOME is not set"), "set HOME")
	}
	wd, err := f.WorkDir()
	if err != nil {
		return fmt.Errorf("read working directory: %w", err)
	}
	env := scan.Env{OS: runtime.GOOS, Home: home, Getenv: f.Getenv}
	entry, err := installEntry(opts, env, wd, client, scope, s, st, launch, &rep)
	if err != nil {
		return err
	}
	mcpgov, err := mcpgovPath(ctx, opts.MCPGovPath)
	if err != nil {
		return err
	}
	if w := volatilePath(mcpgov); w != "" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s is %s; %s will fail to start the server once it is gone (pass --mcpgov-path with the installed location of mcpgov)", mcpgov, w, client))
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		if stateDir, err = defaultWrapStateDir(f.Getenv, home); err != nil {
			return err
		}
	}
	res, ch, err := wrap.Install(ctx, entry, wrap.InstallOptions{
		Options: wrap.Options{MCPGovPath: mcpgov, StateDir: stateDir, DryRun: opts.DryRun, Version: f.Version.Version, Now: f.Now},
		Force:   opts.Force,
	})
	var exists *wrap.ExistsError
	if errors.As(err, &exists) {
		return withHint(fmt.Errorf("install %s: %w", s.ID, err), "pass --force to replace it, or --name to install under another name")
	}
	if err != nil {
		return fmt.Errorf("install %s: %s", s.ID, m.mask(err.Error()))
	}
	rep.Result = res
	if ch != nil && opts.DryRun {
		rep.Diff = string(diff.Diff(ch.File, ch.Before, ch.File+" (installed)", ch.After))
	}
	tgt := scan.Target{Client: client, Scope: scope, Path: entry.File, Project: entry.Project, Layout: entry.Layout}
	if scope == scan.ScopeProject {
		tgt.Project = wd
	}
	if !opts.DryRun {
		rep.Verified = verifyInstall(ctx, f, env, wd, tgt, entry.Name, b.Catalog)
	}
	rep.Warnings = append(rep.Warnings, referenceNotes(f, client, st)...)
	m.report(&rep)
	if opts.JSON {
		return writeJSON(opts.IO.Out, rep)
	}
	printInstall(opts.IO, &rep, s)
	if v := rep.Verified; v != nil && (!v.Found || !v.Governed || v.CatalogID != s.ID) {
		return withHint(fmt.Errorf("install %s: the scan of %s does not find the entry governed and matched to %s", s.ID, entry.File, s.ID),
			"run `mcpgov scan --client "+client+"` to see how the entry reads")
	}
	return nil
}

// installInputs settles the server's inputs for client and puts its
// launch together.
func installInputs(opts *CatalogInstallOptions, client string, s *catalog.Server, rep *installReport) (*settled, serverjson.InstallLaunch, error) {
	plan, err := serverjson.PlanInstall(s)
	if err != nil {
		return nil, serverjson.InstallLaunch{}, err
	}
	given, err := parseInputFlags(opts.Inputs, plan)
	if err != nil {
		return nil, serverjson.InstallLaunch{}, err
	}
	if opts.Prompter == nil && opts.IO.CanPrompt() {
		opts.Prompter = newTTYPrompter(opts.IO)
	}
	st, err := settleInputs(opts, client, plan, given)
	if err != nil {
		return nil, serverjson.InstallLaunch{}, err
	}
	rep.Inputs = st.answers
	rep.Warnings = append(rep.Warnings, plan.Notes...)
	rep.Warnings = append(rep.Warnings, st.warnings...)
	launch, err := plan.Launch(func(in serverjson.Input) (string, bool) {
		v, ok := st.texts[in.Key]
		return v, ok
	})
	return st, launch, err
}

// installEntry is the entry to write: where (the client's file for scope),
// under which name, launching what with which environment. A secret that
// would land in plain text in a project file is refused.
func installEntry(opts *CatalogInstallOptions, env scan.Env, wd, client string, scope scan.Scope, s *catalog.Server, st *settled, launch serverjson.InstallLaunch, rep *installReport) (wrap.InstallEntry, error) {
	name := opts.Name
	if name == "" {
		name = s.ID
	}
	tgt, err := scan.InstallTarget(env, client, scope, wd, name)
	if err != nil {
		return wrap.InstallEntry{}, flagErrorf("%v", err)
	}
	if len(st.plaintext) > 0 {
		if scope != scan.ScopeUser {
			return wrap.InstallEntry{}, withHint(flagErrorf("%s cannot refer to a secret kept elsewhere, so it would be written in plain text into %s, a %s file that is often shared or committed",
				client, tgt.Path, scope), "install with --scope user, or into a client that supports references (claude-code, cursor, vscode, …)")
		}
		what := "one secret is"
		if len(st.plaintext) > 1 {
			what = fmt.Sprintf("%d secrets are", len(st.plaintext))
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s cannot refer to a secret kept elsewhere: %s written in plain text to %s (readable by you only when mcpgov creates the file)",
			client, what, tgt.Path))
	}
	e := wrap.InstallEntry{
		Client: client, Scope: string(scope), File: tgt.Path, Layout: tgt.Layout, Name: name, CatalogID: s.ID,
		Command: launch.Command, Args: launch.Args, URL: launch.URL,
		EnvForward: st.forward, Inputs: st.vsInputs,
	}
	if tgt.Layout == scan.LayoutClaudeLocal {
		e.Project = tgt.Project
	}
	for _, v := range launch.Env {
		if v.Value != forwarded {
			e.Env = append(e.Env, wrap.EnvVar{Name: v.Name, Value: v.Value})
		}
	}
	return e, nil
}

// installable is catalog server id when it may be installed: approved, and
// launchable through the shim.
func installable(c *catalog.Catalog, id string) (*catalog.Server, error) {
	s := c.Server(id)
	if s == nil {
		if c.VirtualServer(id) != nil {
			return nil, fmt.Errorf("%s is a virtual server: a tool set drawn from other servers, not one to install", id)
		}
		var ids []string
		for _, x := range c.Servers {
			if x.Status == catalog.StatusApproved {
				ids = append(ids, x.ID)
			}
		}
		return nil, withHint(fmt.Errorf("no server %q in %s", id, c.File), "approved servers: "+orDash(strings.Join(ids, ", "))+"; see `mcpgov catalog browse`")
	}
	request := "ask the catalog's owners to review it"
	if c.Meta.RequestURL != "" {
		request = "request approval at " + c.Meta.RequestURL
	}
	switch s.Status {
	case catalog.StatusBlocked:
		return nil, withHint(fmt.Errorf("%s is blocked in the catalog; it may not be installed", id), "see `mcpgov catalog show "+id+"` for why")
	case catalog.StatusPending:
		return nil, withHint(fmt.Errorf("%s is awaiting review, not approved; it may not be installed yet", id), request)
	case catalog.StatusApproved:
	default:
		return nil, fmt.Errorf("%s is %s, not approved", id, s.Status)
	}
	switch {
	case s.Launch.Command == "" && s.Launch.URL == "":
		return nil, fmt.Errorf("catalog server %s has no launch (command or url) to install", id)
	case s.Launch.URL != "" && (s.Launch.Transport == "sse" || strings.HasPrefix(s.Launch.URL, "ws")):
		return nil, fmt.Errorf("catalog server %s uses the %s transport; mcpgov shim --url speaks Streamable HTTP only", id, orDash(s.Launch.Transport))
	case s.Launch.URL != "" && len(s.Launch.Headers) > 0:
		return nil, fmt.Errorf("catalog server %s needs headers (%s), which mcpgov shim --url cannot pass on yet", id, strings.Join(s.Launch.Headers, ", "))
	}
	return s, nil
}

// checkGroups compares the caller's verified groups with the entry's
// allowed ones; without a verified person the check is reported as not
// done, with the reason.
func checkGroups(ctx context.Context, opts *CatalogInstallOptions, s *catalog.Server) (groupCheck, error) {
	if len(s.Groups) == 0 {
		return groupCheck{Checked: true, Reason: "open to everyone"}, nil
	}
	gc := callerGroups(ctx, opts)
	gc.Allowed = s.Groups
	if gc.Checked && !s.AllowsGroup(gc.Yours) {
		have := "no groups"
		if len(gc.Yours) > 0 {
			have = "groups " + strings.Join(gc.Yours, ", ")
		}
		return gc, withHint(fmt.Errorf("you (%s; %s) may not use %s: it is for %s", strings.TrimPrefix(gc.Reason, "as "), have, s.ID, strings.Join(s.Groups, ", ")),
			"ask the catalog's owners for access")
	}
	return gc, nil
}

// referenceNotes say where each referenced secret must be set.
func referenceNotes(f *Factory, client string, st *settled) []string {
	var notes []string
	for _, name := range st.references {
		switch client {
		case scan.ClientContinue:
			notes = append(notes, fmt.Sprintf("the config references the secret %s: put %s=… in ~/.continue/.env", name, name))
		default:
			if f.Getenv(name) == "" {
				notes = append(notes, fmt.Sprintf("the config references %s, which is not set here: export it where %s starts from (your shell profile)", name, client))
			}
		}
	}
	for _, name := range st.forward {
		if f.Getenv(name) == "" {
			notes = append(notes, fmt.Sprintf("codex passes %s through from its environment (env_vars), and it is not set here: export it where codex starts from", name))
		}
	}
	for _, in := range st.vsInputs {
		notes = append(notes, fmt.Sprintf("VS Code asks for input %s when the server first starts and keeps it in its secret storage", in.ID))
	}
	return notes
}

// verifyInstall scans the written file with the catalog and reports what
// it finds for the entry.
func verifyInstall(ctx context.Context, f *Factory, env scan.Env, wd string, tgt scan.Target, name string, c *catalog.Catalog) *installVerified {
	v := &installVerified{}
	o := scan.Options{Env: env, WorkDir: wd, Clients: []string{tgt.Client}, Enrichers: []scan.Enricher{c}, Now: f.Now}
	if tgt.Scope == scan.ScopeProject {
		o.Paths = []string{tgt.Project}
	}
	rep, err := scan.Scan(ctx, o)
	if err != nil {
		return v
	}
	want, _ := filepath.EvalSymlinks(tgt.Path)
	for _, s := range rep.Servers {
		got, _ := filepath.EvalSymlinks(s.File)
		if s.Name != name || (s.File != tgt.Path && got != want) || (tgt.Layout == scan.LayoutClaudeLocal) != (s.Scope == scan.ScopeLocal) {
			continue
		}
		if tgt.Layout == scan.LayoutClaudeLocal && s.Project != tgt.Project {
			continue
		}
		v.Found, v.Governed, v.Identity = true, s.Governed, s.Identity
		if s.Catalog != nil {
			v.CatalogID = s.Catalog.ID
		}
	}
	return v
}

func printInstall(io *IOStreams, rep *installReport, s *catalog.Server) {
	r := rep.Result
	out := io.Out
	if rep.Diff != "" {
		fmt.Fprint(out, rep.Diff)
	}
	verb := map[wrap.Action]string{
		wrap.ActionInstalled: "installed", wrap.ActionReplaced: "replaced", wrap.ActionAlreadyInstalled: "already installed",
	}[r.Action]
	if rep.DryRun {
		verb = "would be " + verb
	}
	fmt.Fprintf(out, "%s %s as %q for %s (%s scope): %s:%d\n", s.ID, verb, r.Server, r.Client, r.Scope, r.File, r.Line)
	line := strings.TrimSpace(r.Command + " " + strings.Join(r.Args, " "))
	fmt.Fprintf(out, "  launch  %s\n", line)
	for _, a := range rep.Inputs {
		w := a.Written
		if a.Source == "none" {
			w = "(left out)"
		}
		fmt.Fprintf(out, "  input   %s = %s (%s)\n", a.Key, w, a.Source)
	}
	if v := rep.Verified; v != nil && v.Found {
		state := "not governed"
		if v.Governed {
			state = "governed"
		}
		match := "matched to no catalog server"
		if v.CatalogID != "" {
			match = "matched to catalog server " + v.CatalogID
		}
		fmt.Fprintf(out, "  scan    found, %s, %s (%s)\n", state, match, v.Identity)
	}
	for _, w := range rep.Warnings {
		io.Warnf("%s", w)
	}
}
