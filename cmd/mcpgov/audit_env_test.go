package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// This keeps the audit records of every shim the Go tests start
// (the shim now appends to a trail) out of the real home directory: tests
// that pass os.Environ() to the binary inherit MCPGOV_AUDIT_DIR. One fixed
// directory per user is shared by concurrent runs, which the store allows.
// Scripts have their own sandboxed XDG_STATE_HOME.
var _ = func() string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("mcpgov-test-audit-%d", os.Getuid()))
	if os.Getenv("MCPGOV_AUDIT_DIR") == "" {
		os.Setenv("MCPGOV_AUDIT_DIR", dir)
	}
	return dir
}()
