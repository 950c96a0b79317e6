//go:build !linux

package audit

import "os"

// preallocate is not implemented here: the store learns of a full disk
// from the write that fails.
func preallocate(*os.File, int64, int64) error { return errPreallocUnsupported }
