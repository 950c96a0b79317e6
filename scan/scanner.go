package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// Options configures a scan.
type Options struct {
	Env     Env
	FS      FS       // nil reads the real file system
	WorkDir string   // project root when Paths is empty
	Paths   []string // project directories or config files to scan
	// Repo scans one checkout alone (CI): its project, pipeline and
	// container files, without the home directory, managed files or the
	// checkout's ancestors.
	Repo        string
	Clients     []string   // report only these clients; empty means all
	MaxFileSize int64      // per-file cap; 0 means DefaultMaxFileSize
	Enrichers   []Enricher // add catalog facts to each server
	Host        Host       // name, OS, user and scanner version for the report
	Now         func() time.Time
	Workers     int // parallel file readers; 0 means 2×GOMAXPROCS
}

// Scan builds the inventory. It reads files only; a file that cannot be read
// or parsed becomes a FileError and the scan goes on.
func Scan(ctx context.Context, opts Options) (*Report, error) {
	s := &scanner{opts: opts, seen: map[string]bool{}, filesSeen: map[string]bool{}, rootSeen: map[string]bool{}, pluginEnabled: map[string]bool{}}
	if s.opts.FS == nil {
		s.opts.FS = OSFS{}
	}
	if s.opts.MaxFileSize <= 0 {
		s.opts.MaxFileSize = DefaultMaxFileSize
	}
	if s.opts.Workers <= 0 {
		s.opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	return s.run(ctx)
}

type scanner struct {
	opts      Options
	seen      map[string]bool // files already read, by client and resolved path
	filesSeen map[string]bool // files counted in Host.Files, by resolved path
	parsed    sync.Map        // path → *parsedFile
	rootSeen  map[string]bool
	roots     []string // project roots (not their ancestors), in discovery order
	files     int
	entries   []fileEntries
	errors    []FileError
	disabled  map[string]map[string]bool // project root → .mcp.json names disabled by Claude Code
	// pluginEnabled is Claude Code's enabledPlugins, merged over the
	// settings files in the order they were read.
	pluginEnabled map[string]bool
	// cursorWorkspace are the editors whose settings import each
	// workspace's .cursor/mcp.json (chat.mcp.discovery.enabled).
	cursorWorkspace map[string]bool
	// connectors are Claude Desktop's logged connectors, newest per key.
	connectors map[string]desktopConnector
}

type fileEntries struct {
	src     source
	file    string
	entries []rawEntry
}

// result of reading one file.
type result struct {
	src  source
	file string
	real string
	x    extraction
	err  error
}

func (s *scanner) run(ctx context.Context) (*Report, error) {
	env := s.opts.Env

	if s.opts.Repo != "" {
		return s.runRepo(ctx)
	}
	// Phase 1: user and managed files, which also name remembered projects,
	// installed plugins and the files plugin manifests point at.
	remembered, more := s.readAll(ctx, s.expand(userSources(env)))
	for round := 0; round < 4 && len(more) > 0; round++ {
		var r []string
		r, more = s.readAll(ctx, more)
		remembered = append(remembered, r...)
	}

	// Phase 2: explicit paths (or the working directory) with their
	// ancestors, then the projects the clients remember; repeat for roots
	// that .code-workspace files add.
	var first []source
	explicit := s.opts.Paths
	if len(explicit) == 0 && s.opts.WorkDir != "" {
		explicit = []string{s.opts.WorkDir}
	}
	for _, p := range explicit {
		first = append(first, s.explicitPath(p)...)
	}
	// Remembered projects are read with their ancestors too: Claude Code
	// reads the .mcp.json of every directory above the one it runs in.
	pending := remembered
	next := first
	for round := 0; round < 4 && (len(next) > 0 || len(pending) > 0); round++ {
		for _, r := range pending {
			next = append(next, s.projectRoot(r, true)...)
		}
		pending, more = s.readAll(ctx, s.expand(next))
		next = more
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.report(), nil
}

// runRepo scans one checkout: its own files and the files they point at.
func (s *scanner) runRepo(ctx context.Context) (*Report, error) {
	abs, err := filepath.Abs(s.opts.Repo)
	if err != nil {
		return nil, err
	}
	if info, err := s.opts.FS.Stat(abs); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("repository %s: not a directory", abs)
	}
	next := s.projectRoot(abs, false)
	for round := 0; round < 4 && len(next) > 0; round++ {
		_, next = s.readAll(ctx, s.expand(next))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.report(), nil
}

// expand resolves glob sources into concrete files.
func (s *scanner) expand(srcs []source) []source {
	out := make([]source, 0, len(srcs))
	for _, src := range srcs {
		if len(src.walk) > 0 {
			out = append(out, s.walkSource(src)...)
			continue
		}
		if !src.glob {
			out = append(out, src)
			continue
		}
		matches, err := s.opts.FS.Glob(src.path)
		if err != nil {
			s.errors = append(s.errors, FileError{File: src.path, Client: src.client, Message: "bad pattern: " + err.Error()})
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if src.shape == shapeDockerfile && !isDockerfile(m) {
				continue // *ockerfile* also matches .dockerfile-lint and the like
			}
			c := src
			c.path, c.glob = m, false
			out = append(out, c)
		}
	}
	return out
}

// walkLimits bound plugin directory walks: plugin caches are shallow, and a
// hostile or looping tree must not stall the scan.
const (
	walkMaxDepth = 10
	walkMaxFiles = 2000
)

// walkSource finds files named src.walk under src.path, without following
// symlinked directories.
func (s *scanner) walkSource(src source) []source {
	want := toSet(src.walk)
	var out []source
	visited := 0
	root := filepath.Clean(src.path)
	_ = s.opts.FS.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != root {
				s.errors = append(s.errors, FileError{File: p, Client: src.client, Message: "cannot list directory: " + unwrapPathError(err).Error()})
			}
			return fs.SkipDir
		}
		visited++
		if visited > walkMaxFiles {
			s.errors = append(s.errors, FileError{File: root, Client: src.client, Message: fmt.Sprintf("more than %d entries; the rest of this directory was not scanned", walkMaxFiles)})
			return fs.SkipAll
		}
		if d.IsDir() {
			depth := src.depth
			if depth == 0 {
				depth = walkMaxDepth
			}
			if strings.Count(p[len(root):], string(filepath.Separator)) >= depth || d.Name() == "node_modules" || d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if want[d.Name()] {
			c := src
			c.path, c.walk = p, nil
			c.project = ""
			out = append(out, c)
		}
		return nil
	})
	return out
}

// explicitPath turns a PATH argument into sources: a directory is a project
// root (with its ancestors); a file is read as the client config it names.
func (s *scanner) explicitPath(p string) []source {
	abs, err := filepath.Abs(p)
	if err != nil {
		s.errors = append(s.errors, FileError{File: p, Message: err.Error()})
		return nil
	}
	info, err := s.opts.FS.Stat(abs)
	if err != nil {
		_, rerr := readConfig(s.opts.FS, abs, s.opts.MaxFileSize)
		if errors.Is(rerr, errMissing) || rerr == nil {
			s.errors = append(s.errors, FileError{File: abs, Message: "no such file or directory"})
		} else {
			s.errors = append(s.errors, FileError{File: abs, Message: rerr.Error()})
		}
		return nil
	}
	if info.IsDir() {
		return s.projectRoot(abs, true)
	}
	src, ok := classifyFile(s.opts.Env, abs)
	if !ok {
		s.errors = append(s.errors, FileError{File: abs, Message: "not a known MCP client config file name (for example .mcp.json, .vscode/mcp.json, .cursor/mcp.json, .codex/config.toml)"})
		return nil
	}
	return []source{src}
}

// projectRoot lists the project files of root and, when withAncestors, of
// every directory above it.
func (s *scanner) projectRoot(root string, withAncestors bool) []source {
	if strings.HasSuffix(root, ".code-workspace") {
		if s.rootSeen[root] {
			return nil
		}
		s.rootSeen[root] = true
		s.roots = append(s.roots, root)
		return []source{{client: ClientVSCode, scope: ScopeProject, path: root, shape: shapeCodeWorkspace, project: filepath.Dir(root)}}
	}
	var out []source
	dir := filepath.Clean(root)
	for {
		if !s.rootSeen[dir] {
			if info, err := s.opts.FS.Stat(dir); err == nil && info.IsDir() {
				s.rootSeen[dir] = true
				out = append(out, projectSources(s.opts.Env, dir)...)
				if dir == filepath.Clean(root) {
					s.roots = append(s.roots, dir)
					// VS Code imports a workspace folder's own file, not
					// its parents'.
					out = append(out, s.importCursorWorkspace(dir)...)
				}
			}
		}
		parent := filepath.Dir(dir)
		if !withAncestors || parent == dir {
			return out
		}
		dir = parent
	}
}

// readAll reads sources in parallel and records their entries in source
// order. It returns the project roots the files name and the further files
// they point at (installed plugins, plugin manifests' server files).
func (s *scanner) readAll(ctx context.Context, srcs []source) ([]string, []source) {
	results := make([]result, len(srcs))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < s.opts.Workers && w < len(srcs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = s.readOne(srcs[i])
			}
		}()
	}
	for i := range srcs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()

	var (
		roots []string
		more  []source
	)
	for _, r := range results {
		if r.file == "" {
			continue // missing, or skipped by cancellation
		}
		// One file can serve several clients (a project .mcp.json is Claude
		// Code's and Copilot CLI's); each reads it once. A file that could
		// not be read is known by its path.
		real := r.real
		if real == "" && r.err != nil && !errors.Is(r.err, errMissing) {
			real = r.file
		}
		if real != "" {
			key := r.src.client + "\x00" + real
			if s.seen[key] {
				continue
			}
			s.seen[key] = true
		}
		counted := real != "" && s.filesSeen[real]
		if real != "" {
			s.filesSeen[real] = true
		}
		if r.err != nil {
			if errors.Is(r.err, errMissing) {
				continue
			}
			if counted {
				continue // reported once, for the first client that read it
			}
			fe := FileError{File: r.file, Client: r.src.client, Message: r.err.Error()}
			var pe *ParseError
			if errors.As(r.err, &pe) {
				fe.Line, fe.Column, fe.Message = pe.Line, pe.Column, pe.Msg
			}
			s.files++
			s.errors = append(s.errors, fe)
			continue
		}
		if !counted {
			s.files++
		}
		for k, v := range r.x.pluginsEnabled {
			s.pluginEnabled[k] = v
		}
		for _, p := range r.x.plugins {
			for _, rel := range [][]string{{".mcp.json"}, {".claude-plugin", "plugin.json"}} {
				more = append(more, source{
					client: r.src.client, scope: r.src.scope, shape: shapePlugin, plugin: p.id,
					path: filepath.Join(append([]string{p.dir}, rel...)...),
				})
			}
		}
		more = append(more, r.x.more...)
		more = append(more, discoverySources(s.opts.Env, r.src.client, r.x.discovery)...)
		for _, k := range r.x.discovery {
			if k == discoverCursorWorkspace {
				if s.cursorWorkspace == nil {
					s.cursorWorkspace = map[string]bool{}
				}
				s.cursorWorkspace[r.src.client] = true
			}
		}
		for root, names := range r.x.projectDisabled {
			if s.disabled == nil {
				s.disabled = map[string]map[string]bool{}
			}
			if s.disabled[root] == nil {
				s.disabled[root] = map[string]bool{}
			}
			for _, n := range names {
				s.disabled[root][n] = true
			}
		}
		if r.src.shape == shapeDesktopSession {
			s.keepNewestConnectors(r)
		} else {
			s.entries = append(s.entries, fileEntries{src: r.src, file: r.file, entries: r.x.entries})
		}
		roots = append(roots, r.x.roots...)
	}
	return roots, more
}

// parsedFile is one file read and parsed once, however many clients read
// it (a project .mcp.json is Claude Code's and Copilot CLI's).
type parsedFile struct {
	once sync.Once
	real string
	root *node
	err  error
}

func (s *scanner) readOne(src source) result {
	v, _ := s.parsed.LoadOrStore(src.path, &parsedFile{})
	pf := v.(*parsedFile)
	pf.once.Do(func() { pf.real, pf.root, pf.err = s.parseFile(src.path) })
	r := result{src: src, file: src.path, real: pf.real, err: pf.err}
	if errors.Is(pf.err, errMissing) {
		r.file = ""
	}
	if pf.err == nil {
		r.x = extract(src, pf.root)
	}
	return r
}

// parseFile reads and parses one config file; the tree it returns is only
// read afterwards, so sources share it.
func (s *scanner) parseFile(path string) (real string, root *node, err error) {
	b, err := readConfig(s.opts.FS, path, s.opts.MaxFileSize)
	if err != nil {
		return "", nil, err
	}
	if r, err := s.opts.FS.EvalSymlinks(path); err == nil {
		real = r
	} else {
		real = path
	}
	text, err := decodeText(b)
	if err != nil {
		return real, nil, err
	}
	root, err = parse(text, formatOf(path))
	return real, root, err
}

// entryKey identifies one server entry as a client reads it.
type entryKey struct {
	file     string
	line     int
	name     string
	scope    Scope
	dialect  dialect
	disabled bool
}

// report turns collected entries into the sorted, enriched inventory.
func (s *scanner) report() *Report {
	var built map[entryKey]Server
	want := toSet(s.opts.Clients)
	rep := &Report{SchemaVersion: SchemaVersion, Host: s.opts.Host, Servers: []Server{}, Errors: []FileError{}}
	rep.Host.ScannedAt = s.opts.Now().UTC()
	rep.Host.Projects = append([]string{}, s.roots...)
	rep.Host.Files = s.files
	for _, fe := range append(append([]fileEntries{}, s.entries...), s.connectorEntries()...) {
		if want != nil && !want[fe.src.client] {
			continue
		}
		for _, e := range fe.entries {
			if fe.src.client == ClientClaudeCode && e.scope == ScopeProject && fe.src.shape == shapeMCPServers &&
				(s.disabled[e.project][e.name] || s.disabled["*"][e.name]) {
				e.disabled = true
			}
			if on, ok := s.pluginEnabled[fe.src.plugin]; fe.src.plugin != "" && ok && !on {
				e.disabled = true // installed, but switched off in settings
			}
			// One entry read for several clients (a project .mcp.json) is
			// analysed once; each client gets its own copy.
			k := entryKey{fe.file, e.line, e.name, e.scope, e.dialect, e.disabled}
			var srv Server
			if base, ok := built[k]; ok {
				srv = base
				srv.Client = fe.src.client
				srv.Findings = append([]finding.Finding{}, base.Findings...)
			} else {
				srv = newServer(fe.src, fe.file, e, s.opts.Env, s.opts.FS)
				if built == nil {
					built = map[entryKey]Server{}
				}
				// A full slice expression: an enricher's append to this
				// server's findings never writes into the copies'.
				srv.Findings = srv.Findings[:len(srv.Findings):len(srv.Findings)]
				built[k] = srv
			}
			for _, en := range s.opts.Enrichers {
				id, status, fs := en.Enrich(srv.Launch(), srv.Line)
				if id != "" {
					srv.Catalog = &CatalogRef{ID: id, Status: status}
				}
				srv.Findings = append(srv.Findings, fs...)
			}
			sortFindings(srv.Findings)
			rep.Servers = append(rep.Servers, srv)
		}
	}
	for _, e := range s.errors {
		if want != nil && e.Client != "" && !want[e.Client] {
			continue
		}
		rep.Errors = append(rep.Errors, e)
	}
	order := map[string]int{}
	for i, c := range Clients {
		order[c] = i
	}
	sort.SliceStable(rep.Servers, func(i, j int) bool {
		a, b := rep.Servers[i], rep.Servers[j]
		if a.Client != b.Client {
			return order[a.Client] < order[b.Client]
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].File < rep.Errors[j].File })
	return rep
}

func sortFindings(fs []finding.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Field < b.Field
	})
}
