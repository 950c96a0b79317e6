package cli

import (
	"errors"
	"fmt"
	"io"
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
// It never guesses: the shim and wrap must govern with the bundle the
// machine is configured with, not one a checked-out repository brings.
func resolveBundleSettings(f *Factory, flag string) (bundleSettings, error) {
	cfgs, err := loadConfigs(f.Getenv)
	if err != nil {
		return bundleSettings{}, err
	}
	src, ok := resolveBundle(flag, f.Getenv, cfgs)
	if !ok {
		return bundleSettings{}, noBundleError(cfgs.user.path)
	}
	raw, from := cfgs.trustedKeys()
	keys, err := parseTrustedKeys(raw, from)
	if err != nil {
		return bundleSettings{}, err
	}
	return bundleSettings{src: src, keys: keys, keysFrom: from}, nil
}

// noBundleError says exactly how to configure a bundle.
func noBundleError(userConfig string) error {
	return withHint(errNoBundleConfigured, fmt.Sprintf(
		"pass --bundle DIR, set MCPGOV_BUNDLE, or put bundle = \"DIR\" in %s (see `mcpgov help config`); create and register one with `mcpgov bundle init --register ./governance`",
		userConfig))
}

// governanceDir is the directory name commands look for when no bundle is
// configured, in the working directory and then in each parent.
const governanceDir = "governance"

// resolveAuthoringBundle is resolveBundleSettings for the commands that
// read or edit a bundle (catalog, policy): when none is configured they
// use ./governance from the working directory or its nearest parent that
// has one, as git finds its repository, and say so on stderr. The trusted
// keys still apply to it.
func resolveAuthoringBundle(f *Factory, flag string) (bundleSettings, error) {
	s, err := resolveBundleSettings(f, flag)
	if !errors.Is(err, errNoBundleConfigured) {
		return s, err
	}
	wd, werr := f.WorkDir()
	if werr != nil {
		return s, err
	}
	dir := findGovernanceDir(wd)
	if dir == "" {
		return s, err
	}
	cfgs, cerr := loadConfigs(f.Getenv)
	if cerr != nil {
		return s, cerr
	}
	raw, from := cfgs.trustedKeys()
	keys, kerr := parseTrustedKeys(raw, from)
	if kerr != nil {
		return s, kerr
	}
	fmt.Fprintf(f.IO.ErrOut, "mcpgov: hint: no bundle is configured; using %s (register it with `mcpgov bundle init --register %s`)\n", dir, dir)
	return bundleSettings{src: bundleSource{Dir: dir, From: "the working directory"}, keys: keys, keysFrom: from}, nil
}

// findGovernanceDir returns the first DIR/governance holding a catalog,
// from wd up to the root, or "".
func findGovernanceDir(wd string) string {
	for dir := wd; ; {
		cand := filepath.Join(dir, governanceDir)
		if info, err := os.Stat(filepath.Join(cand, catalog.CatalogFile)); err == nil && info.Mode().IsRegular() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// load loads the bundle, verified first when a key is pinned.
func (s bundleSettings) load() (*catalog.Bundle, error) {
	b, err := catalog.LoadSignedBundle(s.src.Dir, s.keys)
	if err == nil {
		return b, nil
	}
	if isSignatureError(err) {
		return nil, refuseBundle(s.src.Dir, s.keysFrom, err)
	}
	return nil, s.loadError(err)
}

func (s bundleSettings) loadError(err error) error {
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		return withHint(fmt.Errorf("load bundle %s (from %s): %w", s.src.Dir, s.src.From, err), "run `mcpgov catalog validate "+s.src.Dir+"` to list every problem")
	}
	return fmt.Errorf("load bundle (from %s): %w", s.src.From, err)
}

// loadForReview is load for a review before signing (--unsigned-ok): with
// trusted keys pinned, a bundle whose signature check fails is still
// loaded, with a warning that nothing else will use it until it is signed.
// Without --unsigned-ok the refusal's hint names the flag (cmd is the
// command to suggest it for).
// unverified is set when the bundle was loaded past a failed check.
func (s bundleSettings) loadForReview(errOut io.Writer, unsignedOK bool, cmd string) (b *catalog.Bundle, unverified bool, err error) {
	b, err = catalog.LoadSignedBundle(s.src.Dir, s.keys)
	switch {
	case err == nil:
		return b, false, nil
	case !isSignatureError(err):
		return nil, false, s.loadError(err)
	case !unsignedOK:
		refusal := refuseBundle(s.src.Dir, s.keysFrom, err)
		var hinted *HintError
		if errors.As(refusal, &hinted) {
			hinted.Hint += fmt.Sprintf("; to review it before signing: `mcpgov %s --unsigned-ok %s`", cmd, s.src.Dir)
		}
		return nil, false, refusal
	}
	b, lerr := catalog.LoadBundle(s.src.Dir)
	if lerr != nil {
		return nil, false, s.loadError(lerr)
	}
	fmt.Fprintf(errOut, "mcpgov: warning: %v; checked for review only (--unsigned-ok): the shim and every other command refuse it until it is signed with a key trusted by %s\n", err, s.keysFrom)
	return b, true, nil
}

// loadBundle resolves and loads the governance bundle of a command that
// needs one (./governance is found when none is configured).
func loadBundle(f *Factory, flag string) (*catalog.Bundle, error) {
	s, err := resolveAuthoringBundle(f, flag)
	if err != nil {
		return nil, err
	}
	return s.load()
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
	return s.load()
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
