//go:build !unix

package limit

import (
	"os"
	"sync"
)

// Without flock, processes are not serialised; one process still is.
var mu sync.Mutex

func lock(*os.File) error   { mu.Lock(); return nil }
func unlock(*os.File) error { mu.Unlock(); return nil }
