package wrap

import (
	"os"

	"github.com/google/renameio/v2/maybe"
)

// replaceFile writes path; renameio's best effort on Windows.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	return maybe.WriteFile(path, data, mode)
}
