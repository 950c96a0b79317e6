package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson"
	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli/tui"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
)

// CatalogBrowseOptions are the inputs of `mcpgov catalog browse`.
type CatalogBrowseOptions struct {
	Install CatalogInstallOptions // --client, --scope, --bundle, --state-dir; the install a pick runs
	Format  string
	JSON    bool

	// RunTUI shows the browser until the user quits; tests replace it.
	RunTUI func(context.Context, *IOStreams, *tui.Browse) error
}

func newCatalogBrowseCmd(f *Factory, runF func(context.Context, *CatalogBrowseOptions) error) *cobra.Command {
	opts := &CatalogBrowseOptions{Install: CatalogInstallOptions{IO: f.IO, Factory: f}}
	cmd := &cobra.Command{
		Use:   "browse",
		Short: "List the approved servers you may use, and install one",
		Long: `List the catalog's approved servers that you may use, with owner, data scope
and risk. When you are logged in, servers whose allowed groups do not
include yours are left out; without a login every approved server is
listed and the output says the groups were not checked.

Risk is the reviewer's tier (the entry's risk field) when it has one;
otherwise it is derived from what the catalog records: the data scope
(credentials, personal, financial or production data rank high; code,
documents and messages medium), the tool rules (every tool allowed ranks at
least medium), vetting (a server never vetted ranks one tier higher), pinned
tool definitions and whether the server is remote. The basis is listed with
each server.

On a terminal this is an interactive browser: / filters (Esc clears the
filter), Enter picks a server and then the client to install it into (or
installs into --client straight away), q quits. The pick runs the same flow
as "mcpgov catalog install", inputs asked on the terminal. Piped, or with
--json, it prints the list.`,
		Example: `  mcpgov catalog browse
  mcpgov catalog browse --client cursor --scope project
  mcpgov catalog browse --json | jq '.servers[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogBrowseRun(cmd.Context(), opts)
		},
	}
	addInstallFlags(cmd, &opts.Install)
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "", "output format when not interactive: table, plain or json (default: the browser on a terminal, plain when piped)")
	fl.BoolVar(&opts.JSON, "json", false, "shorthand for --format json")
	fl.StringVar(&opts.Install.MCPGovPath, "mcpgov-path", "", "absolute path of mcpgov to write into the config when installing")
	return cmd
}

// browseServer is one listed server, as JSON.
type browseServer struct {
	ID          string                 `json:"id"`
	Title       string                 `json:"title,omitempty"`
	Description string                 `json:"description,omitempty"`
	Owner       string                 `json:"owner,omitempty"`
	DataScope   []string               `json:"dataScope"`
	Groups      []string               `json:"groups,omitempty"`
	Risk        catalog.RiskAssessment `json:"risk"`
	Launch      string                 `json:"launch"`
	Inputs      []serverjson.Input     `json:"inputs"`
}

type browseReport struct {
	SchemaVersion int            `json:"schemaVersion"`
	Bundle        string         `json:"bundle"`
	Revision      string         `json:"revision"`
	Groups        groupCheck     `json:"groups"`
	Servers       []browseServer `json:"servers"`
}

func catalogBrowseRun(ctx context.Context, opts *CatalogBrowseOptions) error {
	io := opts.Install.IO
	interactive := opts.Format == "" && !opts.JSON && io.CanPrompt()
	format := formatJSON
	if !interactive {
		var err error
		if format, err = resolveFormat(io, opts.Format, opts.JSON, formatTable, formatPlain, formatJSON); err != nil {
			return err
		}
	}
	if opts.Install.Client != "" {
		if _, _, err := installClientScope(opts.Install.Client, opts.Install.Scope); err != nil {
			return err
		}
	}
	b, err := loadBundle(opts.Install.Factory, opts.Install.Bundle)
	if err != nil {
		return err
	}
	rep := browseReport{SchemaVersion: 1, Bundle: b.Dir, Revision: b.Revision, Servers: []browseServer{}}
	rep.Groups = callerGroups(ctx, &opts.Install)
	for _, s := range b.Catalog.Servers {
		if s.Status != catalog.StatusApproved || rep.Groups.Checked && !s.AllowsGroup(rep.Groups.Yours) {
			continue
		}
		bs := browseServer{ID: s.ID, Title: s.Title, Description: s.Description, Owner: s.Owner, DataScope: s.DataScope,
			Groups: s.Groups, Risk: s.AssessRisk(), Launch: launchSummary(s), Inputs: []serverjson.Input{}}
		if bs.DataScope == nil {
			bs.DataScope = []string{}
		}
		if p, err := serverjson.PlanInstall(s); err == nil {
			bs.Inputs = p.Inputs
		}
		rep.Servers = append(rep.Servers, bs)
	}
	switch {
	case interactive:
		return browseInteractive(ctx, opts, b, &rep)
	case format == formatJSON:
		return writeJSON(io.Out, rep)
	case format == formatPlain:
		for _, s := range rep.Servers {
			fmt.Fprintf(io.Out, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, orDash(s.Title), orDash(s.Owner), orDash(strings.Join(s.DataScope, ",")), s.Risk.Level, s.Risk.Source)
		}
	default:
		p := palette{on: io.ColorEnabled()}
		w := newTabWriter(io.Out)
		fmt.Fprintln(w, p.bold("ID\tTITLE\tOWNER\tDATA SCOPE\tRISK\tRISK BASIS"))
		for _, s := range rep.Servers {
			basis := s.Risk.Source
			if s.Risk.Source == "derived" {
				basis = strings.Join(s.Risk.Basis, "; ")
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, orDash(s.Title), orDash(s.Owner), orDash(strings.Join(s.DataScope, ",")), p.severity(string(s.Risk.Level), string(s.Risk.Level)), basis)
		}
		_ = w.Flush()
	}
	if !rep.Groups.Checked {
		io.Warnf("your groups were not checked (%s): every approved server is listed; the shim checks groups on every call", rep.Groups.Reason)
	}
	if len(rep.Servers) == 0 {
		io.Notef("no approved server you may use")
	}
	return nil
}

// callerGroups is the caller's verified groups, or why they are not
// known: without a login, or with a token that names no person, there is
// nobody whose groups to check.
func callerGroups(ctx context.Context, opts *CatalogInstallOptions) groupCheck {
	lookup := opts.Identity
	if lookup == nil {
		lookup = func(ctx context.Context) (audit.Identity, error) {
			l, err := opts.Factory.localLogin()
			if err != nil {
				return audit.Identity{Method: "none"}, fmt.Errorf("identity: %w", err)
			}
			return l.Identity(ctx)
		}
	}
	id, err := lookup(ctx)
	switch {
	case err != nil:
		return groupCheck{Reason: err.Error()}
	case !id.Authenticated():
		return groupCheck{Reason: "not logged in (mcpgov login)"}
	case id.Subject == "" && id.Email == "":
		return groupCheck{Reason: "the token names no person"}
	}
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}
	return groupCheck{Checked: true, Yours: groups, Reason: "as " + govern.DescribeIdentity(id)}
}

// browseInteractive runs the browser and, when the user picks a server,
// the install flow for it.
func browseInteractive(ctx context.Context, opts *CatalogBrowseOptions, b *catalog.Bundle, rep *browseReport) error {
	f := opts.Install.Factory
	items := make([]tui.BrowseItem, 0, len(rep.Servers))
	for _, s := range rep.Servers {
		it := tui.BrowseItem{ID: s.ID, Title: s.Title, Description: s.Description, Owner: s.Owner, DataScope: s.DataScope,
			Risk: string(s.Risk.Level), RiskSource: s.Risk.Source, RiskBasis: s.Risk.Basis, Groups: s.Groups, Launch: s.Launch}
		for _, in := range s.Inputs {
			k := in.Key
			if in.Secret {
				k += " (secret)"
			}
			it.Inputs = append(it.Inputs, k)
		}
		items = append(items, it)
	}
	note := ""
	if !rep.Groups.Checked {
		note = "groups not checked: " + rep.Groups.Reason
	}
	client := opts.Install.Client
	if c, ok := clientAliases[client]; ok {
		client = c
	}
	m := tui.NewBrowse(items, clientChoices(f), client, "mcpgov catalog browse · "+filepath.Base(b.Dir), note)
	run := opts.RunTUI
	if run == nil {
		run = func(ctx context.Context, io *IOStreams, m *tui.Browse) error {
			_, err := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(io.In), tea.WithOutput(io.Out)).Run()
			return err
		}
	}
	if err := run(ctx, opts.Install.IO, m); err != nil {
		return err
	}
	pick, ok := m.Picked()
	if !ok {
		return nil
	}
	in := opts.Install
	in.ID, in.Client, in.bundle = pick.ID, pick.Client, b
	return catalogInstallRun(ctx, &in)
}

// clientChoices are the clients to offer, those configured on this
// machine first.
func clientChoices(f *Factory) []tui.ClientChoice {
	home := homeDir(f.Getenv)
	env := scan.Env{OS: runtime.GOOS, Home: home, Getenv: f.Getenv}
	var out []tui.ClientChoice
	for _, c := range installClients() {
		ch := tui.ClientChoice{ID: c}
		if t, err := scan.InstallTarget(env, c, scan.ScopeUser, "", c); err == nil && home != "" {
			if _, err := os.Stat(filepath.Dir(t.Path)); err == nil && filepath.Clean(filepath.Dir(t.Path)) != filepath.Clean(home) {
				ch.Detected = true
			} else if _, err := os.Stat(t.Path); err == nil {
				ch.Detected = true
			}
		}
		out = append(out, ch)
	}
	slices.SortStableFunc(out, func(a, b tui.ClientChoice) int {
		switch {
		case a.Detected == b.Detected:
			return 0
		case a.Detected:
			return -1
		}
		return 1
	})
	return out
}
