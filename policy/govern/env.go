package govern

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Env is the process environment govern works in, passed as values so
// tests and the gateway can give their own.
type Env struct {
	// Getenv reads an environment variable ("" when unset).
	Getenv func(string) string
	// Home is the user's home directory ("" when unknown); HOME, when
	// set, wins over it.
	Home string
	// GOOS is the operating system (runtime.GOOS when empty).
	GOOS string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e Env) goos() string {
	if e.GOOS != "" {
		return e.GOOS
	}
	return runtime.GOOS
}

// ErrNoStateDir is returned when no state directory can be told: none of
// XDG_STATE_HOME, LOCALAPPDATA (Windows) or a home directory is set.
var ErrNoStateDir = errors.New("cannot tell the state directory: set XDG_STATE_HOME or HOME")

// StateRoot is the directory mcpgov's state lives under (its mcpgov
// subdirectory): $XDG_STATE_HOME, %LOCALAPPDATA% on Windows, else
// ~/.local/state. It is never relative: a relative path would put the
// audit trail or the last good bundle wherever a client started the shim.
func StateRoot(env Env) (string, error) {
	if d := env.getenv("XDG_STATE_HOME"); isAbs(env.goos(), d) {
		return d, nil
	}
	if env.goos() == "windows" {
		if d := env.getenv("LOCALAPPDATA"); isAbs(env.goos(), d) {
			return d, nil
		}
	}
	home := env.getenv("HOME")
	if !isAbs(env.goos(), home) {
		home = env.Home
	}
	if !isAbs(env.goos(), home) {
		return "", ErrNoStateDir
	}
	return filepath.Join(home, ".local", "state"), nil
}

// StateDir is the state subdirectory name of mcpgov (bundle, wrap,
// limits, audit, login, config-backups) under StateRoot.
func StateDir(env Env, name string) (string, error) {
	root, err := StateRoot(env)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "mcpgov", name), nil
}

// isAbs is filepath.IsAbs for goos, so a Windows environment can be
// checked (and tested) on any system.
func isAbs(goos, p string) bool {
	if goos != "windows" || runtime.GOOS == "windows" {
		return filepath.IsAbs(p)
	}
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}
