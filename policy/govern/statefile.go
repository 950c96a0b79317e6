package govern

import (
	"fmt"
	"os"
	"path/filepath"
)

// withFileLock runs change while holding the advisory lock beside path
// (path+".lock"), so processes sharing a state file change it one at a
// time; its directory is made private when missing.
func withFileLock(path string, change func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unlockFile(lock)
	return change()
}

// writeFileAtomic replaces path with data: a synced temporary file (named
// by pattern, in path's directory) renamed over it, so a reader sees the
// old or the new content, never a part.
func writeFileAtomic(path string, data []byte, pattern string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
