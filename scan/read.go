package scan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxTOMLSize caps TOML files further: the TOML decoder slows down sharply
// on large hostile documents (13 s for 16 MiB of nested dotted keys), and
// real TOML client configs (Codex) are a few KiB.
const maxTOMLSize = 2 << 20

// DefaultMaxFileSize caps how much of one config file is read. Real client
// configs are kilobytes; ~/.claude.json with long histories reaches a few MiB.
const DefaultMaxFileSize = 16 << 20

// FS is the file access a scan needs; tests inject failures through it.
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string, limit int64) ([]byte, error)
	Glob(pattern string) ([]string, error)
	WalkDir(root string, fn fs.WalkDirFunc) error
	EvalSymlinks(path string) (string, error)
}

// OSFS reads the real file system.
type OSFS struct{}

// Stat follows symlinks, like the clients do.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Glob expands a pattern.
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// WalkDir walks a tree without following symlinked directories.
func (OSFS) WalkDir(root string, fn fs.WalkDirFunc) error { return filepath.WalkDir(root, fn) }

// EvalSymlinks resolves a path, so one file reached twice is read once.
func (OSFS) EvalSymlinks(path string) (string, error) { return filepath.EvalSymlinks(path) }

// ReadFile reads at most limit+1 bytes so an oversized file is detected
// without reading all of it.
func (OSFS) ReadFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// errMissing marks files that simply are not there: not an error in a scan.
var errMissing = errors.New("missing")

// readConfig reads one config file with the guards a scan of an untrusted
// machine needs: missing files are skipped; directories, devices, FIFOs,
// symlink loops, oversized and unreadable files are reported.
func readConfig(fsys FS, path string, limit int64) ([]byte, error) {
	info, err := fsys.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, errMissing
	case errors.Is(err, syscall.ELOOP):
		return nil, errors.New("symlink loop: the path resolves to itself; remove or fix the link")
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New("permission denied: the scan cannot read this file; run as its owner or grant read access")
	case err != nil:
		return nil, fmt.Errorf("cannot stat: %w", unwrapPathError(err))
	case info.IsDir():
		return nil, errors.New("is a directory, expected a config file")
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("is not a regular file (%s), expected a config file", fileKind(info.Mode()))
	case formatOf(path) == formatTOML && info.Size() > maxTOMLSize && limit > maxTOMLSize:
		return nil, fmt.Errorf("TOML file is %s, larger than the %s limit for a TOML config file", humanBytes(info.Size()), humanBytes(maxTOMLSize))
	case info.Size() > limit:
		return nil, fmt.Errorf("file is %s, larger than the %s limit for a config file; raise it with --max-file-size", humanBytes(info.Size()), humanBytes(limit))
	}
	b, err := fsys.ReadFile(path, limit)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New("permission denied: the scan cannot read this file; run as its owner or grant read access")
	case err != nil:
		return nil, fmt.Errorf("cannot read: %w", unwrapPathError(err))
	case int64(len(b)) > limit:
		return nil, fmt.Errorf("file grew past the %s limit for a config file while being read", humanBytes(limit))
	}
	return b, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return m.Type().String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// formatOf picks the syntax from the file name.
func formatOf(path string) format {
	if isDockerfile(path) {
		return formatDockerfile
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return formatTOML
	case ".yaml", ".yml":
		return formatYAML
	}
	return formatJSON
}
