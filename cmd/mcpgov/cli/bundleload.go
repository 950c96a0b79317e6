package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mcpgov/mcpgov/catalog"
)

// errNoBundleConfigured is returned when nothing names a bundle.
var errNoBundleConfigured = errors.New("no governance bundle configured")

// loadBundle resolves and loads the governance bundle: --bundle, then
// MCPGOV_BUNDLE, then the user's config, then the managed config.
func loadBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	cfgs, err := loadConfigs(f.Getenv)
	if err != nil {
		return nil, err
	}
	src, ok := resolveBundle(flag, f.Getenv, cfgs)
	if !ok {
		return nil, withHint(errNoBundleConfigured, fmt.Sprintf(
			"pass --bundle DIR, set MCPGOV_BUNDLE, or put bundle = \"DIR\" in %s; create one with `mcpgov bundle init DIR`",
			cfgs.user.path))
	}
	// A pinned key means only signed bundles are used: verify before reading.
	if keys, from := cfgs.trustedKeys(); len(keys) > 0 {
		if err := verifyBundle(src.Dir, keys, from); err != nil {
			return nil, err
		}
	}
	b, err := catalog.LoadBundle(src.Dir)
	if err != nil {
		var ve *catalog.ValidationError
		if errors.As(err, &ve) {
			return nil, withHint(fmt.Errorf("load bundle %s (from %s): %w", src.Dir, src.From, err), "run `mcpgov catalog validate "+src.Dir+"` to list every problem")
		}
		return nil, fmt.Errorf("load bundle (from %s): %w", src.From, err)
	}
	return b, nil
}

// loadOptionalBundle is loadBundle for commands that work without a
// catalog (scan, wrap): nil when none is configured, an error when one is
// configured but cannot be used — missing catalog facts must never pass for
// clean ones.
func loadOptionalBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	b, err := loadBundle(f, flag)
	if errors.Is(err, errNoBundleConfigured) {
		return nil, nil
	}
	return b, err
}

// loadShimBundle is loadBundle for the shim, which must keep working when
// the configured bundle cannot be reached (a share that is not mounted, a
// sync that removed it, a laptop offline): every configured bundle that
// loads is kept as the last good copy under the state directory, and when
// the configured one is unreachable the shim runs on that copy, saying so
// on stderr. A bundle named with --bundle is a deliberate choice (a test, a
// review): it is neither kept nor replaced. Nothing configured at all is
// still an error: there is no copy to trust then. usable is the shim's
// own check beyond the catalog (its policies and guardrails load): a
// bundle that fails it is not good, is never kept, and is not used.
func loadShimBundle(f *Factory, flag string, usable func(*catalog.Bundle) error) (*catalog.Bundle, error) {
	load := func(flag string) (*catalog.Bundle, error) {
		b, err := loadBundle(f, flag)
		if err == nil {
			if uerr := usable(b); uerr != nil {
				return nil, fmt.Errorf("bundle %s: %w", b.Dir, uerr)
			}
		}
		return b, err
	}
	if flag != "" {
		return load(flag)
	}
	cache := lastGoodDir(f.Getenv)
	b, err := load(flag)
	if err == nil {
		if serr := catalog.SaveLastGood(b, cache); serr != nil {
			fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: %v\n", serr)
		}
		return b, nil
	}
	// Only a bundle that cannot be reached is stood in for. One that is
	// there but invalid was shipped broken: failing closed says so, where
	// an older copy could quietly undo a tightening.
	var unavailable *catalog.UnavailableError
	if !errors.As(err, &unavailable) {
		return nil, err
	}
	dir, lerr := catalog.LastGood(cache)
	if lerr != nil {
		return nil, err
	}
	cfgs, cerr := loadConfigs(f.Getenv)
	if cerr != nil {
		return nil, err
	}
	if keys, from := cfgs.trustedKeys(); len(keys) > 0 {
		if verifyBundle(dir, keys, from) != nil {
			return nil, err
		}
	}
	lb, lerr := catalog.LoadBundle(dir)
	if lerr != nil || usable(lb) != nil {
		return nil, err
	}
	lb.Fallback = err
	fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: the configured governance bundle cannot be used (%v); using the last good copy, revision %s, from %s\n", err, lb.Revision, dir)
	return lb, nil
}

// lastGoodDir is where the shim keeps the last good bundle.
func lastGoodDir(getenv func(string) string) string {
	return filepath.Join(stateRoot(getenv, ""), "mcpgov", "bundle")
}

// stateRoot is $XDG_STATE_HOME, %LOCALAPPDATA% on Windows, else
// ~/.local/state under home ("" for the user's).
func stateRoot(getenv func(string) string, home string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return d
	}
	if runtime.GOOS == "windows" {
		if d := getenv("LOCALAPPDATA"); d != "" {
			return d
		}
	}
	if home == "" {
		home = getenv("HOME")
	}
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "state")
}
