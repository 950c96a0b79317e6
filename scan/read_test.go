package scan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeFile is one path of a fakeFS: what Stat and ReadFile return.
type fakeFile struct {
	mode    fs.FileMode
	size    int64
	data    []byte
	statErr error
	readErr error
}

// fakeFS serves readConfig from a table so every failure can be injected.
type fakeFS map[string]fakeFile

func (f fakeFS) Stat(name string) (fs.FileInfo, error) {
	ff, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if ff.statErr != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: ff.statErr}
	}
	size := ff.size
	if size == 0 {
		size = int64(len(ff.data))
	}
	return fakeInfo{name: filepath.Base(name), mode: ff.mode, size: size}, nil
}

func (f fakeFS) ReadFile(name string, limit int64) ([]byte, error) {
	ff, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if ff.readErr != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ff.readErr}
	}
	b := ff.data
	if int64(len(b)) > limit+1 {
		b = b[:limit+1]
	}
	return b, nil
}

func (f fakeFS) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range f {
		if ok, err := filepath.Match(pattern, name); err != nil {
			return nil, err
		} else if ok {
			out = append(out, name)
		}
	}
	return out, nil
}

// WalkDir visits the fake files under root in lexical order.
func (f fakeFS) WalkDir(root string, fn fs.WalkDirFunc) error {
	var names []string
	for name := range f {
		if strings.HasPrefix(name, root+string(filepath.Separator)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		info, err := f.Stat(name)
		if err != nil {
			continue
		}
		if err := fn(name, fs.FileInfoToDirEntry(info), nil); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	return nil
}

// EvalSymlinks: a fake file system has no links.
func (f fakeFS) EvalSymlinks(path string) (string, error) { return path, nil }

type fakeInfo struct {
	name string
	mode fs.FileMode
	size int64
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return i.size }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }

var _ FS = fakeFS(nil)

func TestReadConfig(t *testing.T) {
	const limit = 1 << 10
	fsys := fakeFS{
		"/ok.json":        {data: []byte(`{"mcpServers": {}}`)},
		"/denied.json":    {statErr: fs.ErrPermission},
		"/unreadable":     {data: []byte("{}"), readErr: fs.ErrPermission},
		"/loop.json":      {statErr: syscall.ELOOP},
		"/notdir/x.json":  {statErr: syscall.ENOTDIR},
		"/dir.json":       {mode: fs.ModeDir | 0o755},
		"/fifo.json":      {mode: fs.ModeNamedPipe | 0o644},
		"/socket.json":    {mode: fs.ModeSocket},
		"/device.json":    {mode: fs.ModeDevice | fs.ModeCharDevice},
		"/big.json":       {size: 17 << 20},
		"/limit.json":     {size: 2 << 10},
		"/grew.json":      {size: 10, data: []byte(strings.Repeat(" ", 2<<10))},
		"/eio.json":       {statErr: syscall.EIO},
		"/readeio.json":   {data: []byte("{}"), readErr: syscall.EIO},
		"/exactlimit.txt": {data: []byte(strings.Repeat("x", limit))},
	}
	cases := []struct {
		path    string
		limit   int64
		missing bool
		want    string // exact error message; "" = success
	}{
		{path: "/ok.json"},
		{path: "/exactlimit.txt"},
		{path: "/absent.json", missing: true},
		{path: "/notdir/x.json", missing: true},
		{path: "/denied.json", want: "permission denied: the scan cannot read this file; run as its owner or grant read access"},
		{path: "/unreadable", want: "permission denied: the scan cannot read this file; run as its owner or grant read access"},
		{path: "/loop.json", want: "symlink loop: the path resolves to itself; remove or fix the link"},
		{path: "/dir.json", want: "is a directory, expected a config file"},
		{path: "/fifo.json", want: "is not a regular file (named pipe), expected a config file"},
		{path: "/socket.json", want: "is not a regular file (socket), expected a config file"},
		{path: "/device.json", want: "is not a regular file (device), expected a config file"},
		{path: "/big.json", limit: DefaultMaxFileSize, want: "file is 17.0 MiB, larger than the 16.0 MiB limit for a config file; raise it with --max-file-size"},
		{path: "/limit.json", want: "file is 2.0 KiB, larger than the 1.0 KiB limit for a config file; raise it with --max-file-size"},
		{path: "/grew.json", want: "file grew past the 1.0 KiB limit for a config file while being read"},
		{path: "/eio.json", want: "cannot stat: input/output error"},
		{path: "/readeio.json", want: "cannot read: input/output error"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			lim := c.limit
			if lim == 0 {
				lim = limit
			}
			b, err := readConfig(fsys, c.path, lim)
			switch {
			case c.missing:
				if !errors.Is(err, errMissing) {
					t.Fatalf("err = %v, want errMissing", err)
				}
			case c.want == "":
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if string(b) != string(fsys[c.path].data) {
					t.Fatalf("read %q", b)
				}
			default:
				if err == nil || err.Error() != c.want {
					t.Fatalf("err = %v\nwant %s", err, c.want)
				}
				if errors.Is(err, errMissing) {
					t.Fatalf("a real failure must not read as missing")
				}
				if strings.Contains(err.Error(), c.path) {
					t.Errorf("message %q repeats the path, which the report prints already", err)
				}
			}
		})
	}
}

// TestReadConfigOSFS checks the same guards against the real file system.
func TestReadConfigOSFS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("FIFOs and symlink loops need unix")
	}
	dir := t.TempDir()
	ok := filepath.Join(dir, "mcp.json")
	if err := os.WriteFile(ok, []byte(`{"mcpServers":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.json")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(strings.Repeat(" ", 2048)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string
	}{
		{ok, ""},
		{loop, "symlink loop: the path resolves to itself; remove or fix the link"},
		{fifo, "is not a regular file (named pipe), expected a config file"},
		{dir, "is a directory, expected a config file"},
		{big, "file is 2.0 KiB, larger than the 1.0 KiB limit for a config file; raise it with --max-file-size"},
	}
	for _, c := range cases {
		_, err := readConfig(OSFS{}, c.path, 1024)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.path, err)
			}
			continue
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %s", filepath.Base(c.path), err, c.want)
		}
	}
	if _, err := readConfig(OSFS{}, filepath.Join(dir, "absent.json"), 1024); !errors.Is(err, errMissing) {
		t.Errorf("absent: err = %v, want errMissing", err)
	}
	if _, err := readConfig(OSFS{}, filepath.Join(ok, "under-a-file.json"), 1024); !errors.Is(err, errMissing) {
		t.Errorf("path under a file: err = %v, want errMissing", err)
	}
	if os.Getuid() != 0 {
		denied := filepath.Join(dir, "denied.json")
		if err := os.WriteFile(denied, []byte("{}"), 0o000); err != nil {
			t.Fatal(err)
		}
		_, err := readConfig(OSFS{}, denied, 1024)
		if err == nil || !strings.HasPrefix(err.Error(), "permission denied") {
			t.Errorf("unreadable file: err = %v, want permission denied", err)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 16 << 20: "16.0 MiB", 5 << 30: "5120.0 MiB"}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestScanReportsUnreadableFiles runs a whole scan over a fake file system:
// each failure becomes a FileError with a clear message and the rest of the
// inventory is still reported.
func TestScanReportsUnreadableFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("linux paths")
	}
	home := "/home/ann"
	fsys := fakeFS{
		home:                            {mode: fs.ModeDir | 0o755},
		home + "/.cursor/mcp.json":      {data: []byte(`{"mcpServers": {"ok": {"command": "npx", "args": ["-y", "pkg@1.0.0"]}}}`)},
		home + "/.claude.json":          {statErr: fs.ErrPermission},
		home + "/.gemini/settings.json": {mode: fs.ModeNamedPipe},
		home + "/.codeium/windsurf/mcp_config.json": {size: DefaultMaxFileSize + 1},
		home + "/.kiro/settings/mcp.json":           {data: []byte(`{"mcpServers": [}`)},
		home + "/.copilot/mcp-config.json":          {data: []byte("   \n")},
	}
	rep, err := Scan(t.Context(), Options{
		Env: Env{OS: "linux", Home: home, SystemRoot: "/nonexistent-root"},
		FS:  fsys,
		Now: func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 1 || rep.Servers[0].Name != "ok" {
		t.Errorf("servers = %+v, want the one readable server", rep.Servers)
	}
	want := map[string]string{
		home + "/.claude.json":                      "permission denied",
		home + "/.gemini/settings.json":             "is not a regular file (named pipe)",
		home + "/.codeium/windsurf/mcp_config.json": "larger than the 16.0 MiB limit",
		home + "/.kiro/settings/mcp.json":           "invalid character",
		home + "/.copilot/mcp-config.json":          "file is empty",
	}
	got := map[string]FileError{}
	for _, e := range rep.Errors {
		got[e.File] = e
	}
	for file, frag := range want {
		e, ok := got[file]
		if !ok {
			t.Errorf("no error for %s (errors: %+v)", file, rep.Errors)
			continue
		}
		if !strings.Contains(e.Message, frag) {
			t.Errorf("%s: message %q, want it to contain %q", file, e.Message, frag)
		}
		if e.Client == "" {
			t.Errorf("%s: error names no client", file)
		}
	}
	if e := got[home+"/.kiro/settings/mcp.json"]; e.Line != 1 || e.Column == 0 {
		t.Errorf("parse error position = %d:%d, want line 1", e.Line, e.Column)
	}
	if len(rep.Errors) != len(want) {
		t.Errorf("%d errors, want %d: %+v", len(rep.Errors), len(want), rep.Errors)
	}
}
