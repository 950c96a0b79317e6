package catalog

import (
	"os"

	"github.com/google/renameio/v2/maybe"
)

// writeAtomic replaces path with data. Windows has no atomic replace that
// renameio trusts, so this is renameio's best effort there.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	return maybe.WriteFile(path, data, mode)
}
