//go:build !windows

package wrap

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// replaceFile writes path through a temporary file in the same directory,
// fsynced and renamed into place, with exactly mode.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	return renameio.WriteFile(path, data, mode, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(mode))
}
