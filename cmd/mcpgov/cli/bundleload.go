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

// bundleSettings is the resolved bundle location and the keys it must be
// signed with (none when no key is pinned).
type bundleSettings struct {
	src      bundleSource
	keys     []catalog.PublicKey
	keysFrom string
}

// resolveBundleSettings resolves the bundle: --bundle, then MCPGOV_BUNDLE,
// then the user's config, then the managed config; and the trusted keys.
func resolveBundleSettings(f *Factory, flag string) (bundleSettings, error) {
	cfgs, err := loadConfigs(f.Getenv)
	if err != nil {
		return bundleSettings{}, err
	}
	src, ok := resolveBundle(flag, f.Getenv, cfgs)
	if !ok {
		return bundleSettings{}, withHint(errNoBundleConfigured, fmt.Sprintf(
			"pass --bundle DIR, set MCPGOV_BUNDLE, or put bundle = \"DIR\" in %s; create one with `mcpgov bundle init DIR`",
			cfgs.user.path))
	}
	raw, from := cfgs.trustedKeys()
	keys, err := parseTrustedKeys(raw, from)
	if err != nil {
		return bundleSettings{}, err
	}
	return bundleSettings{src: src, keys: keys, keysFrom: from}, nil
}

// load loads the bundle, verified first when a key is pinned.
func (s bundleSettings) load() (*catalog.Bundle, error) {
	b, err := catalog.LoadSignedBundle(s.src.Dir, s.keys)
	if err == nil {
		return b, nil
	}
	var ve *catalog.ValidationError
	switch {
	case isSignatureError(err):
		return nil, refuseBundle(s.src.Dir, s.keysFrom, err)
	case errors.As(err, &ve):
		return nil, withHint(fmt.Errorf("load bundle %s (from %s): %w", s.src.Dir, s.src.From, err), "run `mcpgov catalog validate "+s.src.Dir+"` to list every problem")
	}
	return nil, fmt.Errorf("load bundle (from %s): %w", s.src.From, err)
}

// loadBundle resolves and loads the governance bundle.
func loadBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	s, err := resolveBundleSettings(f, flag)
	if err != nil {
		return nil, err
	}
	return s.load()
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
// on stderr. With trusted keys pinned, the copy is verified against them
// when it is kept and again when it is used. A bundle named with --bundle
// is a deliberate choice (a test, a review): it is neither kept nor
// replaced. Nothing configured at all is still an error: there is no copy
// to trust then. usable is the shim's own check beyond the catalog (its
// policies and guardrails load): a bundle that fails it is not good, is
// never kept, and is not used.
func loadShimBundle(f *Factory, flag string, usable func(*catalog.Bundle) error) (*catalog.Bundle, error) {
	s, err := resolveBundleSettings(f, flag)
	if err != nil {
		return nil, err
	}
	b, err := s.load()
	if err == nil {
		err = checkUsable(b, s.keys, usable)
	}
	if flag != "" {
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	cache := lastGoodDir(f.Getenv)
	if err == nil {
		if serr := catalog.SaveLastGood(b, cache, s.keys); serr != nil {
			fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: %v\n", serr)
		}
		return b, nil
	}
	// Only a bundle that cannot be reached is stood in for. One that is
	// there but invalid (or unsigned, or signed by another key) was shipped
	// broken: failing closed says so, where an older copy could quietly
	// undo a tightening.
	var unavailable *catalog.UnavailableError
	if !errors.As(err, &unavailable) {
		return nil, err
	}
	lb, lerr := catalog.LoadLastGood(cache, s.keys)
	if errors.Is(lerr, catalog.ErrNoLastGood) {
		return nil, err // nothing kept yet
	}
	if lerr == nil {
		lerr = checkUsable(lb, s.keys, usable)
	}
	if lerr != nil {
		return nil, fmt.Errorf("%w; the last good copy was not used: %v", err, lerr)
	}
	lb.Fallback = err
	fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: the configured governance bundle cannot be used (%v); using the last good copy, revision %s, from %s\n", err, lb.Revision, lb.Dir)
	return lb, nil
}

// checkUsable runs the shim's own check on b; with keys pinned it then
// checks that the files it read (policies, guardrails) are still the ones
// verified.
func checkUsable(b *catalog.Bundle, keys []catalog.PublicKey, usable func(*catalog.Bundle) error) error {
	if err := usable(b); err != nil {
		return fmt.Errorf("bundle %s: %w", b.Dir, err)
	}
	if len(keys) > 0 {
		if rev, err := catalog.ManifestDigest(b.Dir); err != nil || rev != b.Revision {
			return fmt.Errorf("bundle %s: %w while it was being loaded", b.Dir, catalog.ErrBundleModified)
		}
	}
	return nil
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
