package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// errNoBundleConfigured is returned when nothing names a bundle.
var errNoBundleConfigured = govern.ErrNoBundleConfigured

// resolveBundleSettings resolves the bundle the machine is configured
// with (govern.ResolveBundleSettings): --bundle, then MCPGOV_BUNDLE, then
// the user's config, then the managed config; and the trusted keys.
func resolveBundleSettings(f *Factory, flag string) (govern.BundleSettings, error) {
	c, err := f.Config()
	if err != nil {
		return govern.BundleSettings{}, err
	}
	return govern.ResolveBundleSettings(f.Env(), c, flag)
}

// resolveAuthoringBundle is resolveBundleSettings for the commands that
// read or edit a bundle (catalog, policy): when none is configured they
// use ./governance from the working directory or its nearest parent that
// has one, as git finds its repository, and say so on stderr. The trusted
// keys still apply to it.
func resolveAuthoringBundle(f *Factory, flag string) (govern.BundleSettings, error) {
	s, err := resolveBundleSettings(f, flag)
	if !errors.Is(err, errNoBundleConfigured) {
		return s, err
	}
	wd, werr := f.WorkDir()
	if werr != nil {
		return s, err
	}
	dir := govern.FindGovernanceDir(wd)
	if dir == "" {
		return s, err
	}
	c, cerr := f.Config()
	if cerr != nil {
		return s, cerr
	}
	s, kerr := govern.WithTrustedKeys(c, govern.BundleSource{Dir: dir, From: "the working directory"})
	if kerr != nil {
		return s, kerr
	}
	fmt.Fprintf(f.IO.ErrOut, "mcpgov: hint: no bundle is configured; using %s (register it with `mcpgov bundle init --register %s`)\n", dir, dir)
	return s, nil
}

// loadForReview is govern's LoadForReview with its warning on errOut.
// unverified is set when the bundle was loaded past a failed check.
func loadForReview(errOut io.Writer, s govern.BundleSettings, unsignedOK bool, cmd string) (b *catalog.Bundle, unverified bool, err error) {
	b, warning, err := s.LoadForReview(unsignedOK, cmd)
	if warning != "" {
		fmt.Fprintf(errOut, "mcpgov: warning: %s\n", warning)
	}
	return b, warning != "", err
}

// loadBundle resolves and loads the governance bundle of a command that
// needs one (./governance is found when none is configured).
func loadBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	s, err := resolveAuthoringBundle(f, flag)
	if err != nil {
		return nil, err
	}
	return s.Load()
}

// loadOptionalBundle is loadBundle for commands that work without a
// catalog (scan, wrap): nil when none is configured, an error when one is
// configured but cannot be used — missing catalog facts must never pass for
// clean ones. It does not look for ./governance: an inventory must not
// change with the directory it is run from.
func loadOptionalBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	s, err := resolveBundleSettings(f, flag)
	if errors.Is(err, errNoBundleConfigured) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.Load()
}

// stateDir is the state subdirectory name (govern.StateDir).
func stateDir(f *Factory, name string) (string, error) {
	dir, err := govern.StateDir(f.Env(), name)
	if err != nil {
		return "", withHint(err, "set HOME, or XDG_STATE_HOME to an absolute directory")
	}
	return dir, nil
}
