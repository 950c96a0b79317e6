package cli

// Which stream carries what: stdout carries data (tables, JSON, SARIF, and in
// the shim the MCP protocol itself); stderr carries diagnostics, warnings,
// errors and hints. No other file in this package writes to os.Stdout or
// os.Stderr directly.

import (
	"bytes"
	"io"
	"os"

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
