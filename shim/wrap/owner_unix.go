//go:build unix

package wrap

import (
	"os"
	"syscall"
)

// keepOwner gives the replacement file the original owner when the process
// may (root editing another user's config); otherwise it is a no-op.
func keepOwner(f *os.File, info os.FileInfo) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}
