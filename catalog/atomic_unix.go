//go:build !windows

package catalog

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// writeAtomic replaces path with data through a temporary file in the same
// directory (fsynced, then renamed), so readers see the old or the new file,
// never a mix; the file gets exactly mode.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	return renameio.WriteFile(path, data, mode, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(mode))
}
