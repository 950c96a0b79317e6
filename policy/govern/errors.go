package govern

// HintError carries a remediation line the caller shows after the error
// (as "hint: …").
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint wraps err with a remediation hint.
func WithHint(err error, hint string) error { return &HintError{Err: err, Hint: hint} }

// UsageError is a setting given on the command line that the
// configuration does not allow (a CLI maps it to its usage exit code).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Notice is something a person should be told (on stderr, in a log): Kind
// is "warning" or "identity", Text the line without a prefix.
type Notice struct {
	Kind, Text string
}
