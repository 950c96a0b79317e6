package wrap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Lock timing: how long to wait for another mcpgov wrap/unwrap, and when a
// lock left by a crashed one is taken over.
const (
	lockWait  = 10 * time.Second
	lockStale = 10 * time.Minute
)

// lockState serialises mcpgov processes that edit the manifest. (Clients do
// not honour it; their writes are caught by the hash check instead.)
func lockState(stateDir string) (func(), error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	p := filepath.Join(stateDir, "lock")
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(p) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > lockStale {
			os.Remove(p)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another mcpgov wrap or unwrap holds %s; try again when it is done (remove the file if none is running)", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
