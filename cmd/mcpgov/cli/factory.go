package cli

import (
	"fmt"
	goio "io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pkg/browser"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// Factory carries the dependencies commands need. Commands copy what they use
// into their options struct, so their run functions never touch globals.
// It is the only place that reads the process environment: the rest of
// mcpgov gets it through Getenv and Env.
//
// Config, Secrets and Browser are lazy and cached: a command that never
// needs them never reads the config files or touches the keyring, and one
// that needs them twice reads them once.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	// LookupEnv tells a variable set empty from one not set (nil: by
	// Getenv, where empty is unset).
	LookupEnv func(string) (string, bool)
	Now       func() time.Time // the clock
	WorkDir   func() (string, error)
	// HomeDir is the user's home directory (nil: unknown; HOME still
	// counts).
	HomeDir func() (string, error)
	Version BuildInfo
	// Keyring is the token store (nil: the OS keyring); tests give a fake.
	Keyring login.SecretStore
	// OpenBrowser opens a URL (nil: never).
	OpenBrowser func(url string) error

	configOnce sync.Once
	configs    govern.Configs
	configErr  error
}

func newFactory() *Factory {
	io := System(os.Getenv)
	if os.Getenv("MCPGOV_FORCE_TTY") != "" {
		io.SetStdoutTTY(true)
	}
	return &Factory{
		IO:        io,
		Getenv:    os.Getenv,
		LookupEnv: os.LookupEnv,
		Now:       time.Now,
		WorkDir:   os.Getwd,
		HomeDir:   os.UserHomeDir,
		Version:   buildInfo(),
		OpenBrowser: func(url string) error {
			if cmd := os.Getenv("MCPGOV_BROWSER"); cmd != "" {
				return runBrowser(cmd, url, io.ErrOut)
			}
			// pkg/browser writes the helper's output to os.Stdout by
			// default, which is the protocol stream in a shim; send it
			// to stderr.
			browser.Stdout, browser.Stderr = io.ErrOut, io.ErrOut
			return browser.OpenURL(url)
		},
	}
}

// Env is the environment govern assembles governance in.
func (f *Factory) Env() govern.Env {
	env := govern.Env{Getenv: f.Getenv, GOOS: runtime.GOOS, Now: f.Now}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if f.HomeDir != nil {
		env.Home, _ = f.HomeDir()
	}
	return env
}

// lookupEnv is LookupEnv, or Getenv where it is not set.
func (f *Factory) lookupEnv(name string) (string, bool) {
	if f.LookupEnv != nil {
		return f.LookupEnv(name)
	}
	v := f.Getenv(name)
	return v, v != ""
}

// Config is the user's and the managed configuration, read once.
func (f *Factory) Config() (govern.Configs, error) {
	f.configOnce.Do(func() {
		f.configs, f.configErr = govern.LoadConfigs(f.Env())
	})
	return f.configs, f.configErr
}

// Secrets is the token store: Keyring, else the OS keyring.
func (f *Factory) Secrets() login.SecretStore {
	if f.Keyring != nil {
		return f.Keyring
	}
	return login.Keyring{Getenv: f.Getenv}
}

// localLogin is the identity source of the user's stored login.
func (f *Factory) localLogin() (*govern.LocalLogin, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	return &govern.LocalLogin{Env: f.Env(), Configs: c, Secrets: f.Secrets()}, nil
}

// runBrowser starts MCPGOV_BROWSER's command (words split on spaces) with
// url as its last argument and does not wait for it; its output goes to
// stderr, never to the shim's protocol stream.
func runBrowser(command, url string, stderr goio.Writer) error {
	words := strings.Fields(command)
	c := exec.Command(words[0], append(words[1:], url)...)
	c.Stdout, c.Stderr = stderr, stderr
	if err := c.Start(); err != nil {
		return fmt.Errorf("MCPGOV_BROWSER: %w", err)
	}
	go func() { _ = c.Wait() }()
	return nil
}
