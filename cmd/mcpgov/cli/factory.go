package cli

import (
	"os"
	"time"
)

// Factory carries the dependencies commands need. Commands copy what they use
// into their options struct, so their run functions never touch globals.
type Factory struct {
	IO      *IOStreams
	Getenv  func(string) string
	Now     func() time.Time
	WorkDir func() (string, error)
	Version BuildInfo
}

func newFactory() *Factory {
	io := System()
	if os.Getenv("MCPGOV_FORCE_TTY") != "" {
		io.SetStdoutTTY(true)
	}
	return &Factory{
		IO:      io,
		Getenv:  os.Getenv,
		Now:     time.Now,
		WorkDir: os.Getwd,
		Version: buildInfo(),
	}
}
