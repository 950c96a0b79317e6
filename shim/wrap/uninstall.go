package wrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpgov/mcpgov/scan"
)

// InstallManifestVersion is the version of the install manifest's format.
const InstallManifestVersion = 1

// InstallManifest lists the entries `mcpgov catalog install` added and
// still knows, with the bytes it inserted, so Uninstall and Unwrap can take
// them out again. It lives beside the wrap manifest, in installs.json.
type InstallManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	Installs      []InstallRecord `json:"installs"`
}

// InstallRecord is one installed entry.
type InstallRecord struct {
	File      string `json:"file"`             // the file written (symlinks resolved)
	Config    string `json:"config,omitempty"` // the path the client reads, when it differs
	Client    string `json:"client"`
	Scope     string `json:"scope"`
	Server    string `json:"server"`
	CatalogID string `json:"catalogId"`
	Project   string `json:"project,omitempty"`
	Pointer   string `json:"pointer"`
	Format    string `json:"format"`
	// Created says the file did not exist before: when nothing else was
	// added to it since, Uninstall removes it.
	Created bool `json:"created,omitempty"`
	// Value is the entry's JSON value as written: Uninstall removes an
	// entry whose surroundings a client reformatted only while it still
	// has exactly this value.
	Value      string    `json:"value,omitempty"`
	Spans      []Span    `json:"spans"`
	HashBefore string    `json:"hashBefore"`
	HashAfter  string    `json:"hashAfter"`
	Backup     string    `json:"backup,omitempty"`
	Time       time.Time `json:"time"`
	Version    string    `json:"mcpgovVersion"`
	MCPGovPath string    `json:"mcpgovPath"`
}

func installsPath(stateDir string) string { return filepath.Join(stateDir, "installs.json") }

// LoadInstalls reads the install manifest under stateDir; a missing one is
// empty.
func LoadInstalls(stateDir string) (*InstallManifest, error) { return loadInstalls(stateDir) }

func loadInstalls(stateDir string) (*InstallManifest, error) {
	m := &InstallManifest{SchemaVersion: InstallManifestVersion, Installs: []InstallRecord{}}
	if stateDir == "" {
		return m, nil
	}
	if err := readStateFile(installsPath(stateDir), "install manifest", m); err != nil {
		return nil, err
	}
	if m.Installs == nil {
		m.Installs = []InstallRecord{}
	}
	return m, nil
}

func (m *InstallManifest) save(stateDir string) error {
	return writeStateFile(installsPath(stateDir), "install manifest", m)
}

func (m *InstallManifest) put(r InstallRecord) {
	for i := range m.Installs {
		if m.Installs[i].File == r.File && m.Installs[i].Pointer == r.Pointer {
			// Installed again over an install: the first record still
			// knows what was there before either.
			r.Spans, r.Created, r.Backup, r.HashBefore = m.Installs[i].Spans, m.Installs[i].Created, m.Installs[i].Backup, m.Installs[i].HashBefore
			m.Installs[i] = r
			return
		}
	}
	m.Installs = append(m.Installs, r)
}

func (m *InstallManifest) remove(file, pointer string) {
	m.Installs = withoutEntry(m.Installs, func(r InstallRecord) (string, string) { return r.File, r.Pointer }, file, pointer)
}

// Uninstall removes the installed entries whose records sel selects: each
// inserted stretch is taken out when it is still there as written (the
// file is then byte for byte what it was before the install, apart from
// other edits), a file install created and nobody added to is removed, and
// a JSON entry whose surroundings a client reformatted is removed by key
// while its value is still the one installed. An entry changed since is
// left alone and reported failed.
func Uninstall(ctx context.Context, sel func(InstallRecord) bool, o Options) ([]InstallResult, []FileChange, error) {
	if o.StateDir == "" {
		return nil, nil, errors.New("no state directory with the install manifest")
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
	var (
		results []InstallResult
		changes []FileChange
		errs    []error
		done    []InstallRecord
	)
	for _, r := range man.Installs {
		if err := ctx.Err(); err != nil {
			return results, changes, err
		}
		if !sel(r) {
			continue
		}
		res := InstallResult{Client: r.Client, Scope: r.Scope, File: r.config(), Server: r.Server, CatalogID: r.CatalogID, Pointer: r.Pointer, Action: ActionUninstalled}
		ch, why, err := uninstallOne(r, o)
		switch {
		case err != nil:
			res.Action, res.Reason = ActionFailed, err.Error()
			errs = append(errs, err)
		case why != "":
			res.Reason = why
			done = append(done, r)
		default:
			done = append(done, r)
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
		results = append(results, res)
	}
	if !o.DryRun && len(done) > 0 {
		for _, r := range done {
			man.remove(r.File, r.Pointer)
		}
		if err := man.save(o.StateDir); err != nil {
			errs = append(errs, err)
		}
	}
	return results, changes, errors.Join(errs...)
}

func (r InstallRecord) config() string {
	if r.Config != "" {
		return r.Config
	}
	return r.File
}

// uninstallOne takes one record's entry out of its file. why says what
// happened when it was not a plain removal.
func uninstallOne(r InstallRecord, o Options) (*FileChange, string, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		before, err := os.ReadFile(r.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "the file is gone; nothing to remove", nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", r.config(), err)
		}
		after, remove, why, err := uninstallEdit(r, before)
		if err != nil {
			return nil, "", err
		}
		ch := &FileChange{File: r.config(), Before: before, After: after}
		if o.DryRun {
			return ch, why, nil
		}
		if remove {
			if err := removeIfUnchanged(r.File, before); errors.Is(err, errChanged) {
				continue
			} else if err != nil {
				return nil, "", fmt.Errorf("remove %s: %w", r.config(), err)
			}
			return ch, why, nil
		}
		err = writeAtomic(r.File, after, sum(before), o.beforeCommit)
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("write %s: %w", r.config(), err)
		}
		return ch, why, nil
	}
	return nil, "", &ChangedError{File: r.config()}
}

// uninstallEdit computes the file without the record's entry; remove says
// the file itself goes (install created it and it holds nothing else).
func uninstallEdit(r InstallRecord, before []byte) (after []byte, remove bool, why string, err error) {
	if r.Created && len(r.Spans) == 1 && string(before) == r.Spans[0].Wrapped {
		return nil, true, "removed the file it had created", nil
	}
	var ps []patch
	for _, sp := range r.Spans {
		if bytes.Count(before, []byte(sp.Wrapped)) != 1 {
			ps = nil
			break
		}
		at := bytes.Index(before, []byte(sp.Wrapped))
		ps = append(ps, patch{at, at + len(sp.Wrapped), sp.Original})
	}
	if ps != nil {
		after, err = apply(before, ps)
		if err != nil {
			return nil, false, "", err
		}
		return after, false, "", nil
	}
	if r.Format == "json" && r.Value != "" {
		if after, ok := removeJSONEntry(r, before); ok {
			return after, false, "the file was reformatted since the install; removed the entry by its key", nil
		}
	}
	return nil, false, "", fmt.Errorf("%s: server %q changed since it was installed; left as it is (remove it by hand)", r.config(), r.Server)
}

// removeIfUnchanged deletes path while it still holds want.
func removeIfUnchanged(path string, want []byte) error {
	now, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, want) {
		return errChanged
	}
	return os.Remove(path)
}

// unwrapInstalled is Unwrap for a selection that may hold installed
// entries: those are removed (an install is undone by taking the entry
// out), the others unwrapped as usual. Results keep the selection's order.
func unwrapInstalled(ctx context.Context, servers []scan.Server, o Options) (*Outcome, error) {
	man, err := loadInstalls(o.StateDir)
	if err != nil || len(man.Installs) == 0 {
		return run(ctx, servers, o, opUnwrap)
	}
	var (
		rest     []scan.Server
		restIdx  []int
		installs = map[int]InstallRecord{}
	)
	for i, s := range servers {
		if r, ok := man.recordFor(s); ok {
			installs[i] = r
			continue
		}
		rest = append(rest, s)
		restIdx = append(restIdx, i)
	}
	if len(installs) == 0 {
		return run(ctx, servers, o, opUnwrap)
	}
	out, err := run(ctx, rest, o, opUnwrap)
	if out == nil {
		return nil, err
	}
	merged := &Outcome{Results: make([]Result, len(servers)), Changes: out.Changes}
	for k, i := range restIdx {
		merged.Results[i] = out.Results[k]
	}
	pick := map[string]bool{}
	for _, r := range installs {
		pick[r.File+"\x00"+r.Pointer] = true
	}
	results, changes, uerr := Uninstall(ctx, func(r InstallRecord) bool { return pick[r.File+"\x00"+r.Pointer] }, o)
	merged.Changes = append(merged.Changes, changes...)
	for i, r := range installs {
		s := servers[i]
		res := Result{Client: s.Client, Scope: string(s.Scope), File: s.File, Line: s.Line, Server: s.Name, Pointer: r.Pointer,
			Action: ActionUnwrapped, Reason: "installed by mcpgov catalog install; removed"}
		for _, u := range results {
			if u.Pointer == r.Pointer && u.Server == r.Server && u.Action == ActionFailed {
				res.Action, res.Reason = ActionFailed, u.Reason
			}
		}
		merged.Results[i] = res
	}
	return merged, errors.Join(err, uerr)
}

// recordFor finds the install record of a scanned entry: same file (after
// symlinks) and name, and for Claude Code's local scope the same project.
func (m *InstallManifest) recordFor(s scan.Server) (InstallRecord, bool) {
	path, err := target(s.File)
	if err != nil {
		return InstallRecord{}, false
	}
	for _, r := range m.Installs {
		local := s.Scope == scan.ScopeLocal
		if r.File == path && r.Server == s.Name && (r.Project != "") == local && (!local || r.Project == s.Project) {
			return r, true
		}
	}
	return InstallRecord{}, false
}
