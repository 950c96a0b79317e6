package cli

// Which stream carries what: stdout carries data (tables, JSON, SARIF, and in
// the shim the MCP protocol itself); stderr carries diagnostics (errors,
// warnings, hints) and reports of progress, each written with the printer
// below (Errorf, Warnf, Hintf, Notef). No other file in this package writes
// to os.Stdout or os.Stderr directly.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams holds the standard streams a command may use, so tests can
// capture them and commands can ask whether a person is watching.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stdinTTY  bool
	colorOff  bool
}

// System returns IOStreams bound to the process's standard streams;
// getenv tells whether colour is off (NO_COLOR, TERM=dumb).
func System(getenv func(string) string) *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdoutTTY: isTerminal(os.Stdout),
		stdinTTY:  isTerminal(os.Stdin),
		colorOff:  getenv("NO_COLOR") != "" || getenv("TERM") == "dumb",
	}
}

// TestStreams returns IOStreams writing to buffers, for unit tests.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, colorOff: true}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// SetStdinTTY overrides terminal detection of stdin (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetStdoutTTY overrides terminal detection (tests, and MCPGOV_FORCE_TTY).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// CanPrompt reports whether a person can answer questions on this terminal.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// ColorEnabled reports whether ANSI colour may be written to stdout.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.colorOff }

func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// The printer for stderr. Every line mcpgov writes there starts with
// "mcpgov: " — the shim's lines land in IDE logs beside the server's own
// stderr — and a diagnostic names its level after it:
//
//	mcpgov: error: …    why the command failed; printed once, by run, from
//	                    the error the command returned
//	mcpgov: warning: …  the command goes on, but not as the user may expect
//	mcpgov: hint: …     what to do about the line before it
//
// The prefix is age's style. A message of several lines is printed once:
// its first line gets the prefix, the others are indented two spaces, so
// that each message's start stands out in a log. A report
// of what a command did or waits for ("wrote X", "signed X", "logged in to
// X") is not a diagnostic and carries no level (Notef); what a script would
// read is data and goes to stdout. Commands return their errors instead of
// printing them, so nothing is reported twice; Errorf outside run is only
// for a batch that reports each bad item where it happens and goes on.
// Prompts, written only when a person answers at a terminal, are the one
// exception to the prefix.

// Errorf prints "mcpgov: error: …" on stderr.
func (s *IOStreams) Errorf(format string, args ...any) { s.diag("error: ", format, args...) }

// Warnf prints "mcpgov: warning: …" on stderr.
func (s *IOStreams) Warnf(format string, args ...any) { s.diag("warning: ", format, args...) }

// Hintf prints "mcpgov: hint: …" on stderr.
func (s *IOStreams) Hintf(format string, args ...any) { s.diag("hint: ", format, args...) }

// Notef prints "mcpgov: …", a report of progress with no level, on stderr.
func (s *IOStreams) Notef(format string, args ...any) { s.diag("", format, args...) }

// diag writes one message in a single write, so that lines from
// concurrent writers (the shim's goroutines) do not interleave.
func (s *IOStreams) diag(level, format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	msg = strings.ReplaceAll(msg, "\n", "\n  ")
	fmt.Fprintf(s.ErrOut, "mcpgov: %s%s\n", level, msg)
}
