package scan

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// installPlatform is one OS the install tools write for and the scan then
// resolves paths for.
type installPlatform struct {
	name    string // subtest name
	goos    string // the scan's Env.OS
	node    string // Node's process.platform for it
	preload string // script making Node report node; "" on the running OS
	// env are the clients' directory overrides the tools honour, as
	// NAME=dir with dir relative to the temporary home; the tools and the
	// scan both see them.
	env []string
}

// overrides are every directory override add-mcp 2.4.0 and install-mcp
// 1.10.2 read on Linux and macOS (their process.env lookups).
var overrides = []string{
	"XDG_CONFIG_HOME=xdg", "CLINE_DIR=cline-dir", "CODEX_HOME=codex-home",
	"GROK_HOME=grok-home", "KIMI_CODE_HOME=kimi-home", "PI_CODING_AGENT_DIR=pi-dir",
}

// installPlatforms are Linux, macOS and Windows. The tools pick every
// per-OS path from process.platform (and APPDATA, left unset so both sides
// use ~/AppData/Roaming), so a preload that sets it makes them write the
// other systems' layouts under the temporary home; Node's path module stays
// POSIX, so the Windows files land at the same places with forward slashes,
// which slashFS maps the scan's backslashed paths to.
func installPlatforms(t *testing.T) []installPlatform {
	t.Helper()
	script := filepath.Join(t.TempDir(), "platform.cjs")
	const src = "Object.defineProperty(process, 'platform', { value: process.env.MCPGOV_NODE_PLATFORM, configurable: true });\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []installPlatform
	for _, p := range []installPlatform{
		{name: "linux", goos: "linux", node: "linux"},
		{name: "linux-overrides", goos: "linux", node: "linux", env: overrides},
		{name: "darwin", goos: "darwin", node: "darwin"},
		{name: "windows", goos: "windows", node: "win32"},
		{name: "windows-appdata", goos: "windows", node: "win32", env: []string{"APPDATA=AppData/Moved"}},
	} {
		if p.goos != runtime.GOOS {
			p.preload = script
		}
		out = append(out, p)
	}
	return out
}

// checkLayout fails unless the tools wrote pl's own layout: the per-user
// application data root of macOS or Windows, and neither on Linux.
func checkLayout(t *testing.T, pl installPlatform, home string) {
	t.Helper()
	roots := map[string]string{"darwin": "Library/Application Support", "windows": "AppData"}
	for goos, rel := range roots {
		_, err := os.Stat(filepath.Join(home, rel))
		if has := err == nil; has != (goos == pl.goos) {
			t.Errorf("%s layout: ~/%s exists = %v; the tools did not write for %s (process.platform %s)", pl.goos, rel, has, pl.goos, pl.node)
		}
	}
}

// checkOverrides fails unless the tool wrote into the directory of each of
// the named overrides pl sets: the tool honoured it, so the scan's reading
// of the same variable is what is tested.
func checkOverrides(t *testing.T, pl installPlatform, home string, names ...string) {
	t.Helper()
	vars := pl.vars(home)
	for _, k := range names {
		d, ok := vars[k]
		if !ok {
			continue
		}
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: nothing written under %s=%s", pl.name, k, d)
		}
	}
}

// vars are pl's overrides with their directories under home.
func (pl installPlatform) vars(home string) map[string]string {
	m := map[string]string{}
	for _, kv := range pl.env {
		k, rel, _ := strings.Cut(kv, "=")
		m[k] = filepath.Join(home, rel)
	}
	return m
}

// slashFS reads the files a Windows layout names on a POSIX machine: the
// scan joins Windows paths with backslashes, the tools wrote them with
// slashes.
type slashFS struct{ OSFS }

func toSlash(p string) string   { return strings.ReplaceAll(p, `\`, "/") }
func fromSlash(p string) string { return strings.ReplaceAll(p, "/", `\`) }

func (f slashFS) Stat(name string) (fs.FileInfo, error) { return f.OSFS.Stat(toSlash(name)) }
func (f slashFS) ReadFile(name string, limit int64) ([]byte, error) {
	return f.OSFS.ReadFile(toSlash(name), limit)
}
func (f slashFS) EvalSymlinks(p string) (string, error) {
	r, err := f.OSFS.EvalSymlinks(toSlash(p))
	return fromSlash(r), err
}
func (f slashFS) Glob(pattern string) ([]string, error) {
	m, err := f.OSFS.Glob(toSlash(pattern))
	for i := range m {
		m[i] = fromSlash(m[i])
	}
	return m, err
}
func (f slashFS) WalkDir(root string, fn fs.WalkDirFunc) error {
	return f.OSFS.WalkDir(toSlash(root), func(p string, d fs.DirEntry, err error) error {
		return fn(fromSlash(p), d, err)
	})
}
