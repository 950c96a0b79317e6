package cli

import (
	"errors"
	"fmt"

	"github.com/mcpgov/mcpgov/policy/govern"
)

// Exit codes, documented in `mcpgov help exit-codes`. They are mapped from
// typed errors in exactly one place: exitCode.
const (
	ExitOK       = 0
	ExitError    = 1
	ExitUsage    = 2
	ExitFindings = 3
	ExitAuth     = 4
)

// FlagError is a usage mistake: bad flags, wrong argument count. Exit 2.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

func flagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// FindingsError reports that a command completed and found what the user asked
// it to fail on (scan --fail-on, failing policy tests). Exit 3. Its message is
// a one-line summary; the details are already on stdout.
type FindingsError struct{ Summary string }

func (e *FindingsError) Error() string { return e.Summary }

// AuthError means the command needs a login it does not have. Exit 4.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// HintError carries a remediation line printed after the error as
// "mcpgov: hint: …". It is govern's, so the assembly's errors carry their
// hints here too.
type HintError = govern.HintError

func withHint(err error, hint string) error { return govern.WithHint(err, hint) }

// ReportedError is a failure already reported on stderr where it happened
// (a shim that refuses to start its server says why in its own
// "mcpgov: blocked: …" line): run prints only its hint, so that the reason
// is not printed twice. Exit 1.
type ReportedError struct{ Err error }

func (e *ReportedError) Error() string { return e.Err.Error() }
func (e *ReportedError) Unwrap() error { return e.Err }

func exitCode(err error) int {
	var (
		flagErr     *FlagError
		usageErr    *govern.UsageError
		findingsErr *FindingsError
		authErr     *AuthError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &flagErr), errors.As(err, &usageErr):
		return ExitUsage
	case errors.As(err, &findingsErr):
		return ExitFindings
	case errors.As(err, &authErr):
		return ExitAuth
	default:
		return ExitError
	}
}
