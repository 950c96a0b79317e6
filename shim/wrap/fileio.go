package wrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// sum is the hex SHA-256 of b.
func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// target resolves a config path to the file that really holds its bytes, so
// a symlinked config (dotfile managers) is written through, not replaced.
func target(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// writeAtomic replaces path with data via a temporary file in the same
// directory (fsynced, with the original mode) and a rename. Just before the
// rename it re-reads path: when its hash is no longer want, another writer
// got there first and errChanged is returned with nothing replaced.
func writeAtomic(path string, data []byte, want string, beforeCommit func(string)) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".mcpgov-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	keepOwner(tmp, info)
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if beforeCommit != nil {
		beforeCommit(path)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if sum(now) != want {
		return errChanged
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// writeFileAtomic writes a file of mcpgov's own state (backup, manifest).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return replaceFile(path, data, mode)
}

// newline is the file's line ending: CRLF when it has any, else LF.
func newline(b []byte) string {
	if bytes.Contains(b, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// lineOf is the 1-based line of byte offset off.
func lineOf(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// indentAt returns the whitespace between the start of off's line and off,
// and whether only whitespace precedes off on its line.
func indentAt(b []byte, off int) (string, bool) {
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	pre := b[start:off]
	for _, c := range pre {
		if c != ' ' && c != '\t' {
			return "", false
		}
	}
	return string(pre), true
}

type patch struct {
	start, end int
	repl       string
}

// apply splices non-overlapping patches into b.
func apply(b []byte, ps []patch) ([]byte, error) {
	sorted := append([]patch(nil), ps...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].start < sorted[j-1].start; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var out bytes.Buffer
	last := 0
	for _, p := range sorted {
		if p.start < last || p.end < p.start || p.end > len(b) {
			return nil, fmt.Errorf("internal error: overlapping patches")
		}
		out.Write(b[last:p.start])
		out.WriteString(p.repl)
		last = p.end
	}
	out.Write(b[last:])
	return out.Bytes(), nil
}
