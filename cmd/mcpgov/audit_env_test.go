package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// This keeps the audit records of every shim the Go tests start (the shim
// appends to a trail) out of the real home directory: tests that pass
// os.Environ() to the binary inherit MCPGOV_AUDIT_DIR. One fixed directory
// per user is shared by concurrent runs, which the store allows. It applies
// only to the test process itself (go test passes it -test.* flags), not to
// the copies testscript runs as mcpgov: scripts have their own sandboxed
// XDG_STATE_HOME and must see the default location.
var _ = func() bool {
	isTest := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if isTest && os.Getenv("MCPGOV_AUDIT_DIR") == "" {
		os.Setenv("MCPGOV_AUDIT_DIR", filepath.Join(os.TempDir(), fmt.Sprintf("mcpgov-test-audit-%d", os.Getuid())))
	}
	return isTest
}()
