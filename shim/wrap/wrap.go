package wrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/scan"
)

// Action is what happened to one entry.
type Action string

// Actions reported per entry.
const (
	ActionWrapped              Action = "wrapped"
	ActionAlreadyGoverned      Action = "already-governed"
	ActionSkippedOtherGovernor Action = "skipped-other-governor"
	ActionSkippedRemote        Action = "skipped-remote"
	ActionSkippedUnsupported   Action = "skipped-unsupported"
	ActionSkippedProject       Action = "skipped-project"
	ActionUnwrapped            Action = "unwrapped"
	ActionNotWrapped           Action = "not-wrapped"
	ActionFailed               Action = "failed"
)

// Options control Wrap and Unwrap.
type Options struct {
	MCPGovPath string // absolute path of the mcpgov binary written into configs
	StateDir   string // backups and manifest live here
	Remote     bool   // also wrap url entries as `mcpgov shim --url` (not supported yet)
	DryRun     bool   // compute the changes, write nothing
	Version    string // mcpgov version, recorded in the manifest
	Now        func() time.Time
	// ShimFlags, when set, returns the `mcpgov shim` flags written for an
	// entry before its command line (or --url). By default the entry's
	// catalog id, when it has one, is written as --server.
	ShimFlags func(s scan.Server) []string
	// Gateway, when set, is a --gateway wrap: it returns the gateway
	// endpoint (…/servers/ID/mcp) an entry is pointed at, or "" for an
	// entry the gateway does not serve (wrapped through the local shim).
	// A stdio or remote JSON entry with an endpoint runs
	// `mcpgov shim --url ENDPOINT`.
	Gateway func(s scan.Server) string
	// HeadersHelper, with Gateway, is the command line that prints the
	// login's token as headers (`mcpgov auth token --header-json`): a
	// Claude Code entry then becomes a Streamable HTTP entry for the
	// gateway whose headersHelper runs it, instead of a shim.
	HeadersHelper string
	// Project also wraps project-scope entries of files inside a version
	// controlled work tree. Without it they are skipped: the absolute
	// mcpgov path is this machine's, and would be committed for everyone.
	Project bool

	// MoveSecret, when set (--move-secrets), takes a literal secret out of
	// a JSON stdio entry's env: it stores value in the vault (when store;
	// not in a dry run) and returns the reference the shim resolves at
	// launch ("vault:…").
	MoveSecret func(s scan.Server, name, value string, store bool) (ref string, err error)
	// RestoreSecret reads a moved secret back on unwrap.
	RestoreSecret func(ref string) (string, error)

	// beforeCommit runs just before each config file is replaced; tests use
	// it to play a client writing the file concurrently.
	beforeCommit func(path string)
}

// Result is the outcome for one server entry.
type Result struct {
	Client  string `json:"client"`
	Scope   string `json:"scope"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Server  string `json:"server"`
	Action  Action `json:"action"`
	Reason  string `json:"reason,omitempty"`
	Pointer string `json:"pointer,omitempty"`
}

// FileChange is a config file that was (or, in a dry run, would be) rewritten.
type FileChange struct {
	File   string `json:"file"`
	Before []byte `json:"-"`
	After  []byte `json:"-"`
}

// Outcome is what Wrap or Unwrap did.
type Outcome struct {
	Results []Result     `json:"results"`
	Changes []FileChange `json:"-"`
}

// maxAttempts bounds how often a file changed by someone else is re-read and
// re-patched before giving up.
const maxAttempts = 3

// errChanged means the file changed between read and write.
var errChanged = errors.New("file changed while it was being edited")

// ChangedError reports a config file that kept changing under mcpgov.
type ChangedError struct{ File string }

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s changed %d times while mcpgov was editing it; nothing was written", e.File, maxAttempts)
}

type item struct {
	srv     scan.Server
	res     *Result
	pointer []string // found on the first attempt, used on retries
	// restore reads a moved secret back (Options.RestoreSecret), for an
	// unwrap from the command line that finds --secret-arg flags.
	restore func(ref string) (string, error)
}

type op int

const (
	opWrap op = iota
	opUnwrap
)

// Wrap rewrites the stdio entries among servers to launch through
// `mcpgov shim`. Servers of one file are patched together in one write.
func Wrap(ctx context.Context, servers []scan.Server, o Options) (*Outcome, error) {
	return run(ctx, servers, o, opWrap)
}

// Unwrap restores the entries among servers that launch through
// `mcpgov shim`, from the manifest when it knows them (byte for byte) or else
// from the command line after `--`. Entries `mcpgov catalog install` added
// are removed (see Uninstall).
func Unwrap(ctx context.Context, servers []scan.Server, o Options) (*Outcome, error) {
	return unwrapInstalled(ctx, servers, o)
}

func run(ctx context.Context, servers []scan.Server, o Options, which op) (*Outcome, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if which == opWrap && !filepath.IsAbs(o.MCPGovPath) {
		return nil, fmt.Errorf("mcpgov path %q is not absolute", o.MCPGovPath)
	}
	if o.StateDir == "" && !o.DryRun {
		return nil, errors.New("no state directory for backups and the manifest")
	}
	if !o.DryRun {
		unlock, err := lockState(o.StateDir)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	man, err := LoadManifest(o.StateDir)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Results: make([]Result, len(servers))}
	var order []string
	byFile := map[string][]*item{}
	// One entry that several clients read (a project .mcp.json is Claude
	// Code's and Copilot CLI's) is scanned once per client but edited once;
	// the other clients' results repeat its outcome.
	first := map[string]int{}
	var aliases [][2]int
	for i, s := range servers {
		out.Results[i] = Result{Client: s.Client, Scope: string(s.Scope), File: s.File, Line: s.Line, Server: s.Name}
		if scan.IsDesktopConnector(s) {
			// Its session log is a record of what Claude Desktop was
			// given, not its configuration: editing it changes nothing.
			out.Results[i].Action, out.Results[i].Reason = ActionSkippedRemote, reasonDesktopConnector
			if which == opUnwrap {
				out.Results[i].Action = ActionNotWrapped
			}
			continue
		}
		key := fmt.Sprintf("%s\x00%d\x00%s\x00%s\x00%s\x00%s\x00%s", s.File, s.Line, s.Name, s.Scope, s.Project, s.Command, s.URL)
		if f, ok := first[key]; ok && servers[f].Client != s.Client {
			aliases = append(aliases, [2]int{i, f})
			continue
		}
		first[key] = i
		if _, ok := byFile[s.File]; !ok {
			order = append(order, s.File)
		}
		byFile[s.File] = append(byFile[s.File], &item{srv: s, res: &out.Results[i], restore: o.RestoreSecret})
	}
	defer func() {
		for _, a := range aliases {
			f := out.Results[a[1]]
			out.Results[a[0]].Action, out.Results[a[0]].Reason = f.Action, f.Reason
		}
	}()
	var errs []error
	for _, file := range order {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		items := byFile[file]
		ch, err := editFile(file, items, o, which, man)
		if err != nil {
			for _, it := range items {
				if it.res.Action == "" || it.res.Action == ActionWrapped || it.res.Action == ActionUnwrapped {
					it.res.Action, it.res.Reason = ActionFailed, err.Error()
				}
			}
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			out.Changes = append(out.Changes, *ch)
		}
	}
	return out, errors.Join(errs...)
}

// editFile patches every selected entry of one file, retrying from a fresh
// read when the file changes underneath.
func editFile(file string, items []*item, o Options, which op, man *Manifest) (*FileChange, error) {
	path, err := target(file)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", file, err)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		before, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		d, err := openDoc(file, before)
		if err != nil {
			if errors.Is(err, errUnsupported) {
				for _, it := range items {
					it.res.Action, it.res.Reason = ActionSkippedUnsupported, "format not supported yet"
				}
				return nil, nil
			}
			return nil, err
		}
		var (
			patches []patch
			redact  []patch
			records []Record
			removed []string
		)
		for _, it := range items {
			var e edit
			if which == opWrap {
				e = gatewaySecretsLeft(it, o, gatewayReason(it, o, d.wrapEntry(it, o)))
			} else {
				var rerr error
				e = d.unwrapEntry(it, func(ptr string) *Record {
					rec, err := restoreSecrets(man.find(path, ptr), o)
					if err != nil {
						rerr = err
						return nil
					}
					return rec
				})
				if rerr != nil {
					// Restoring from the command line would lose the value.
					e = skip(ActionFailed, "restore a moved secret: "+rerr.Error())
				}
			}
			redact = append(redact, e.redact...)
			it.res.Action, it.res.Reason = e.action, e.reason
			patches = append(patches, e.patches...)
			if len(e.patches) == 0 {
				continue
			}
			if which == opWrap {
				records = append(records, Record{
					File: path, Client: it.srv.Client, Scope: string(it.srv.Scope), Server: it.srv.Name,
					Pointer: it.res.Pointer, Format: d.format(), Command: e.command, Args: e.args, URL: e.url, Spans: e.spans,
					Time: o.Now().UTC(), Version: o.Version, MCPGovPath: o.MCPGovPath,
				})
				if path != file {
					records[len(records)-1].Config = file
				}
			} else {
				removed = append(removed, it.res.Pointer)
			}
		}
		if len(patches) == 0 {
			return nil, nil
		}
		after, err := apply(before, patches)
		if err != nil {
			return nil, err
		}
		if err := d.check(after); err != nil {
			return nil, fmt.Errorf("%s: the edited file would not parse (%v); nothing was written", file, err)
		}
		// Moved secrets appear masked in what is shown and backed up: the
		// vault holds them, and a backup is no place for them.
		shown, err := apply(before, redact)
		if err != nil {
			return nil, err
		}
		ch := &FileChange{File: file, Before: shown, After: after}
		if o.DryRun || bytes.Equal(before, after) {
			return ch, nil
		}
		if which == opWrap {
			backup, err := writeBackup(o, path, shown)
			if err != nil {
				return nil, err
			}
			for _, r := range records {
				r.Backup, r.HashBefore, r.HashAfter = backup, sum(before), sum(after)
				man.put(r)
			}
		} else {
			for _, p := range removed {
				man.remove(path, p)
			}
		}
		// The manifest is saved before the config: a crash in between
		// leaves a record that no longer matches, never a wrap without one.
		if which == opWrap {
			if err := man.save(o.StateDir); err != nil {
				return nil, err
			}
		}
		err = writeAtomic(path, after, sum(before), o.beforeCommit)
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", file, err)
		}
		if which == opUnwrap {
			if err := man.save(o.StateDir); err != nil {
				return nil, err
			}
		}
		return ch, nil
	}
	return nil, &ChangedError{File: file}
}

func writeBackup(o Options, path string, data []byte) (string, error) {
	name := fmt.Sprintf("%s-%s-%s", o.Now().UTC().Format("20060102T150405Z"), sum(data)[:12], filepath.Base(path))
	p := filepath.Join(o.StateDir, "backups", name)
	if err := writeFileAtomic(p, data, 0o600); err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	return p, nil
}

// edit is the change to one entry.
type edit struct {
	patches []patch
	spans   []Span
	action  Action
	reason  string
	command string   // original command (wrap)
	args    []string // original arguments (wrap)
	url     string   // original URL (remote wrap)
	redact  []patch  // moved secrets masked, for backups and diffs
}

func skip(a Action, reason string) edit { return edit{action: a, reason: reason} }

// document is one parsed config file that entries can be wrapped in.
type document interface {
	format() string
	wrapEntry(it *item, o Options) edit
	unwrapEntry(it *item, lookup func(pointer string) *Record) edit
	check(after []byte) error
}

var errUnsupported = errors.New("format not supported yet")

func openDoc(file string, b []byte) (document, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".toml":
		return openTOML(file, b)
	case ".yaml", ".yml":
		return openYAML(file, b)
	}
	return openJSON(file, b)
}

// isShimFor reports whether command+args launch `mcpgov shim`, by name or
// by the exact path wrap writes.
func isShimFor(command string, args []string, mcpgov string) bool {
	if command != "" && command == mcpgov && len(args) > 0 && args[0] == "shim" {
		return true
	}
	return isShim(command, args)
}

// isShim reports whether command+args launch `mcpgov shim`.
func isShim(command string, args []string) bool {
	b := strings.ToLower(filepath.Base(strings.ReplaceAll(command, `\`, "/")))
	b = strings.TrimSuffix(b, ".exe")
	return b == "mcpgov" && len(args) > 0 && args[0] == "shim"
}

// shimPrefix is what goes before the original command line.
func shimPrefix(s scan.Server, o Options) []string {
	return append(append([]string{"shim"}, shimFlags(s, o)...), "--")
}

// shimFlags are the shim's flags for s (see Options.ShimFlags).
func shimFlags(s scan.Server, o Options) []string {
	if o.ShimFlags != nil {
		return o.ShimFlags(s)
	}
	if s.Catalog != nil && s.Catalog.ID != "" {
		return []string{"--server", s.Catalog.ID}
	}
	return nil
}

// WorkTree returns the root of the version-controlled work tree (git,
// Mercurial, Subversion, Jujutsu) that holds file, or "" when none does.
// Only the file system is read: a .git directory or file (worktrees and
// submodules use a file) in file's directory or one above it.
func WorkTree(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return ""
	}
	for dir := filepath.Dir(abs); ; {
		for _, marker := range []string{".git", ".hg", ".svn", ".jj"} {
			if _, err := os.Lstat(filepath.Join(dir, marker)); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// afterDashes returns the index just past the first "--" in args, or -1.
func afterDashes(args []string) int {
	for i, a := range args {
		if a == "--" {
			return i + 1
		}
	}
	return -1
}

// precheck decides entries that are not to be wrapped.
func precheck(it *item, o Options) (edit, bool) {
	s := it.srv
	if s.Governed {
		return skip(ActionAlreadyGoverned, ""), true
	}
	if len(s.WrappedBy) > 0 {
		return skip(ActionSkippedOtherGovernor, "wrapped by "+strings.Join(s.WrappedBy, ", ")), true
	}
	if s.Scope == scan.ScopeProject && !o.Project {
		if root := WorkTree(s.File); root != "" {
			return skip(ActionSkippedProject, "project file in the work tree "+root+"; it would get this machine's mcpgov path; wrap it with --project"), true
		}
	}
	if s.Transport != scan.TransportStdio || s.Command == "" {
		if !o.Remote && o.gatewayFor(s) == "" {
			return skip(ActionSkippedRemote, "remote entry; wrap with --remote"), true
		}
		switch {
		case s.Transport != scan.TransportHTTP:
			return skip(ActionSkippedRemote, string(s.Transport)+" transport; mcpgov shim --url speaks Streamable HTTP"), true
		case len(s.Headers) > 0 && o.gatewayFor(s) != "":
			return skip(ActionSkippedRemote, "has headers, which the gateway would not get"), true
		case len(s.Headers) > 0 && o.MoveSecret == nil && !strings.HasSuffix(s.File, ".toml"):
			// Codex (TOML) names headers whose values stay in its
			// environment (bearer_token_env_var, env_http_headers): its
			// wrapper decides, literal ones needing --move-secrets.
			return skip(ActionSkippedRemote, "has headers; wrap --remote --move-secrets passes them on, a secret one from the vault"), true
		}
		return edit{action: actionRemote}, true
	}
	return edit{}, false
}

// reasonDesktopConnector is why a Claude Desktop connector is left alone.
const reasonDesktopConnector = "a Claude Desktop connector, found in its session log: Claude Desktop keeps connectors in its account settings, not in a file mcpgov can edit; change it under Settings > Connectors"

// actionRemote marks an entry precheck hands to the format's remote wrapper.
const actionRemote Action = "remote"
