package wrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpgov/mcpgov/scan"
)

// Install actions.
const (
	ActionInstalled        Action = "installed"
	ActionReplaced         Action = "replaced"
	ActionAlreadyInstalled Action = "already-installed"
	ActionUninstalled      Action = "uninstalled"
)

// InstallEntry is the server entry to add.
type InstallEntry struct {
	Client    string
	Scope     string
	File      string      // the config file; created when missing
	Layout    scan.Layout // where the file keeps its servers
	Project   string      // LayoutClaudeLocal: the projects key
	Name      string      // the entry's name
	CatalogID string

	// The server's own launch, before it is governed: a command line, or
	// the URL of a Streamable HTTP server (run as `mcpgov shim --url`).
	Command string
	Args    []string
	URL     string

	Env []EnvVar // values as they are to be written: references or text
	// EnvForward names variables the client passes through from its own
	// environment (Codex env_vars), the way Codex references a secret.
	EnvForward []string
	// Inputs are VS Code input variables the entry references as
	// ${input:ID}: VS Code asks for them once and keeps them in its
	// secret storage.
	Inputs []ClientInput
}

// EnvVar is one environment variable of an entry.
type EnvVar struct {
	Name  string
	Value string
}

// ClientInput is a VS Code "promptString" input.
type ClientInput struct {
	ID          string
	Description string
	Password    bool
}

// InstallOptions control Install.
type InstallOptions struct {
	Options
	// Force replaces an existing entry of the same name that differs.
	Force bool
}

// InstallResult is what Install (or Uninstall) did to one entry.
type InstallResult struct {
	Client    string   `json:"client"`
	Scope     string   `json:"scope"`
	File      string   `json:"file"`
	Line      int      `json:"line,omitempty"`
	Server    string   `json:"server"`
	CatalogID string   `json:"catalogId"`
	Action    Action   `json:"action"`
	Reason    string   `json:"reason,omitempty"`
	Pointer   string   `json:"pointer,omitempty"`
	Created   bool     `json:"created,omitempty"`
	Command   string   `json:"command,omitempty"`
	Args      []string `json:"args,omitempty"`
}

// ExistsError reports an entry of the same name that launches something
// else; Install leaves it alone unless forced.
type ExistsError struct {
	File   string
	Line   int
	Server string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s:%d already has a different server named %q; nothing was written", e.File, e.Line, e.Server)
}

// GovernedLaunch is the command line an entry for catalog server id runs:
// what Wrap writes for a stdio entry (`mcpgov shim --server ID -- CMD
// ARGS`) or, with url set, for a remote one (`mcpgov shim --server ID --url
// URL`). opencode keeps the whole argv in one array: mcpgov, then args.
func GovernedLaunch(mcpgov, id, command string, args []string, url string) (string, []string) {
	srv := scan.Server{}
	if id != "" {
		srv.Catalog = &scan.CatalogRef{ID: id}
	}
	if url != "" {
		a := []string{"shim"}
		if id != "" {
			a = append(a, "--server", id)
		}
		return mcpgov, append(a, "--url", url)
	}
	return mcpgov, append(append(shimPrefix(srv, Options{}), command), args...)
}

// installEdit is the change one install makes to a file.
type installEdit struct {
	action  Action
	patches []patch
	pointer string
	value   string // JSON: the entry's value as written, for Uninstall's fallback
	line    int    // the existing entry's line, for ExistsError
}

// installDoc is a parsed config file a server can be added to.
type installDoc interface {
	format() string
	install(e InstallEntry, cmd string, args []string, force bool) (installEdit, error)
	entryLine(after []byte, e InstallEntry) int
	check(after []byte) error
}

// Install adds one catalog server (e) to a client config, already governed:
// the entry launches `mcpgov shim --server ID -- …` exactly as Wrap would
// have rewritten a plain entry for it (GovernedLaunch). The edit follows
// Wrap's rules: only new bytes are inserted (a replaced entry's value is the
// one exception, with Force), the file's indentation, key spelling, line
// endings and byte order mark are followed, comments and mode are kept,
// the write is atomic and redone when a client changed the file meanwhile,
// and a backup plus a record in the install manifest let Uninstall (and
// Unwrap) take the entry out again, byte for byte.
func Install(ctx context.Context, e InstallEntry, o InstallOptions) (*InstallResult, *FileChange, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if !filepath.IsAbs(o.MCPGovPath) {
		return nil, nil, fmt.Errorf("mcpgov path %q is not absolute", o.MCPGovPath)
	}
	if o.StateDir == "" && !o.DryRun {
		return nil, nil, errors.New("no state directory for backups and the manifest")
	}
	if e.Name == "" || e.File == "" {
		return nil, nil, errors.New("install: no server name or file")
	}
	if !o.DryRun {
		unlock, err := lockState(o.StateDir)
		if err != nil {
			return nil, nil, err
		}
		defer unlock()
	}
	man, err := loadInstalls(o.StateDir)
	if err != nil {
		return nil, nil, err
	}
	cmd, args := GovernedLaunch(o.MCPGovPath, e.CatalogID, e.Command, e.Args, e.URL)
	res := &InstallResult{Client: e.Client, Scope: e.Scope, File: e.File, Server: e.Name, CatalogID: e.CatalogID, Command: cmd, Args: args}
	if e.Layout == scan.LayoutOpencode {
		res.Command, res.Args = "", append([]string{cmd}, args...)
	}
	path, err := installPath(e.File)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		before, err := os.ReadFile(path)
		created := errors.Is(err, fs.ErrNotExist)
		if err != nil && !created {
			return nil, nil, fmt.Errorf("read %s: %w", e.File, err)
		}
		d, ed, err := planInstall(e, before, cmd, args, o.Force)
		if err != nil {
			return nil, nil, err
		}
		res.Pointer = ed.pointer
		if ed.action == ActionAlreadyInstalled {
			res.Action, res.Line = ed.action, ed.line
			return res, nil, nil
		}
		after, err := apply(before, ed.patches)
		if err != nil {
			return nil, nil, err
		}
		if err := d.check(after); err != nil {
			return nil, nil, fmt.Errorf("%s: the edited file would not parse (%v); nothing was written", e.File, err)
		}
		res.Action, res.Created, res.Line = ed.action, created, d.entryLine(after, e)
		ch := &FileChange{File: e.File, Before: before, After: after}
		if o.DryRun {
			return res, ch, nil
		}
		rec := InstallRecord{
			File: path, Client: e.Client, Scope: e.Scope, Server: e.Name, CatalogID: e.CatalogID, Project: e.Project,
			Pointer: ed.pointer, Format: d.format(), Created: created, Value: ed.value, Spans: spansOf(before, ed.patches),
			HashBefore: sum(before), HashAfter: sum(after), Time: o.Now().UTC(), Version: o.Version, MCPGovPath: o.MCPGovPath,
		}
		if path != e.File {
			rec.Config = e.File
		}
		if !created {
			if rec.Backup, err = writeBackup(o.Options, path, before); err != nil {
				return nil, nil, err
			}
		}
		man.put(rec)
		if err := man.save(o.StateDir); err != nil {
			return nil, nil, err
		}
		if created {
			err = createFile(path, after, installMode(e))
		} else {
			err = writeAtomic(path, after, sum(before), o.beforeCommit)
		}
		if errors.Is(err, errChanged) || errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			man.remove(path, ed.pointer)
			_ = man.save(o.StateDir)
			return nil, nil, fmt.Errorf("write %s: %w", e.File, err)
		}
		return res, ch, nil
	}
	return nil, nil, &ChangedError{File: e.File}
}

// planInstall parses before (a missing or blank file is the layout's empty
// document) and computes the edit. A missing or blank file becomes one
// patch that writes the whole new text.
func planInstall(e InstallEntry, before []byte, cmd string, args []string, force bool) (installDoc, installEdit, error) {
	base := before
	blank := isBlank(before)
	if blank {
		base = emptyDoc(e.Layout, newline(before))
	}
	d, err := openInstallDoc(e, base)
	if err != nil {
		return nil, installEdit{}, err
	}
	ed, err := d.install(e, cmd, args, force)
	if err != nil {
		return nil, installEdit{}, err
	}
	if blank && ed.action != ActionAlreadyInstalled {
		full, err := apply(base, ed.patches)
		if err != nil {
			return nil, installEdit{}, err
		}
		ed.patches = []patch{{0, len(before), string(full)}}
	}
	return d, ed, nil
}

func openInstallDoc(e InstallEntry, b []byte) (installDoc, error) {
	switch e.Layout {
	case scan.LayoutCodex:
		return openTOML(e.File, b)
	case scan.LayoutContinue, scan.LayoutContinueBlock:
		d, err := openYAML(e.File, b)
		if errors.Is(err, errUnsupported) {
			return nil, fmt.Errorf("%s starts with a byte order mark, which mcpgov does not edit in YAML yet", e.File)
		}
		return d, err
	}
	d, err := openJSON(e.File, b)
	if errors.Is(err, errUnsupported) {
		return nil, fmt.Errorf("%s is UTF-16, which mcpgov does not edit yet", e.File)
	}
	return d, err
}

// emptyDoc is the text of an empty config of layout l.
func emptyDoc(l scan.Layout, nl string) []byte {
	switch l {
	case scan.LayoutCodex, scan.LayoutContinue:
		return nil
	case scan.LayoutContinueBlock:
		return []byte("name: mcpgov catalog" + nl + "version: 0.0.1" + nl + "schema: v1" + nl)
	}
	return []byte("{}" + nl)
}

// installPath is the file to write for a config path: a symlink's target
// (dotfile managers), or the path itself when it does not exist yet.
func installPath(file string) (string, error) {
	p, err := target(file)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("resolve %s: %w", file, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	// A dangling symlink is written through too.
	if l, lerr := os.Readlink(abs); lerr == nil {
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(abs), l)
		}
		return l, nil
	}
	return abs, nil
}

// installMode is the mode of a config file install creates: private in the
// user's home (it may hold a value the user typed), readable in a project.
func installMode(e InstallEntry) os.FileMode {
	if e.Scope == string(scan.ScopeProject) {
		return 0o644
	}
	return 0o600
}

// createFile writes a new file atomically, failing with fs.ErrExist when
// someone created it meanwhile (the edit is then redone on their file).
func createFile(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".mcpgov-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(name, path)
}

// spansOf merges the patches of one edit into spans of the original text
// and the text that replaced it, one per cluster of nearby patches, so
// Uninstall can find each again (a lone inserted comma could not be).
func spansOf(before []byte, ps []patch) []Span {
	sorted := append([]patch(nil), ps...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].start < sorted[j-1].start; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var out []Span
	for i := 0; i < len(sorted); {
		j, end := i, sorted[i].end
		for j+1 < len(sorted) && sorted[j+1].start-end <= 256 {
			j++
			end = max(end, sorted[j].end)
		}
		start := sorted[i].start
		region := before[start:end]
		var local []patch
		for _, p := range sorted[i : j+1] {
			local = append(local, patch{p.start - start, p.end - start, p.repl})
		}
		wrapped, _ := apply(region, local)
		out = append(out, Span{Field: "install", Original: string(region), Wrapped: string(wrapped)})
		i = j + 1
	}
	return out
}
