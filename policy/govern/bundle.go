package govern

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcpgov/mcpgov/catalog"
)

// ErrNoBundleConfigured is returned when nothing names a bundle.
var ErrNoBundleConfigured = errors.New("no governance bundle configured")

// BundleSettings is the resolved bundle location and the keys it must be
// signed with (none when no key is pinned).
type BundleSettings struct {
	Source   BundleSource
	Keys     []catalog.PublicKey
	KeysFrom string
}

// ResolveBundleSettings resolves the bundle: flag (--bundle), then
// MCPGOV_BUNDLE, then the user's config, then the managed config; and the
// trusted keys. It never guesses: the shim and wrap must govern with the
// bundle the machine is configured with, not one a checked-out repository
// brings.
func ResolveBundleSettings(env Env, c Configs, flag string) (BundleSettings, error) {
	src, ok := ResolveBundle(flag, env, c)
	if !ok {
		return BundleSettings{}, NoBundleError(c.User.Path())
	}
	s, err := WithTrustedKeys(c, src)
	return s, err
}

// WithTrustedKeys is the settings of the bundle at src with the trusted
// keys the configs pin.
func WithTrustedKeys(c Configs, src BundleSource) (BundleSettings, error) {
	raw, from := c.TrustedKeys()
	keys, err := ParseTrustedKeys(raw, from)
	if err != nil {
		return BundleSettings{}, err
	}
	return BundleSettings{Source: src, Keys: keys, KeysFrom: from}, nil
}

// NoBundleError says exactly how to configure a bundle.
func NoBundleError(userConfig string) error {
	return WithHint(ErrNoBundleConfigured, fmt.Sprintf(
		"pass --bundle DIR, set MCPGOV_BUNDLE, or put bundle = \"DIR\" in %s (see `mcpgov help config`); create and register one with `mcpgov bundle init --register ./governance`",
		userConfig))
}

// GovernanceDir is the directory name authoring commands look for when no
// bundle is configured, in the working directory and then in each parent.
const GovernanceDir = "governance"

// FindGovernanceDir returns the first DIR/governance holding a catalog,
// from wd up to the root, or "".
func FindGovernanceDir(wd string) string {
	for dir := wd; ; {
		cand := filepath.Join(dir, GovernanceDir)
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

// ParseTrustedKeys parses the keys named in from (nil for none).
func ParseTrustedKeys(keys []string, from string) ([]catalog.PublicKey, error) {
	var trusted []catalog.PublicKey
	for _, k := range keys {
		pk, err := catalog.ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("trusted key in %s: %w", from, err)
		}
		trusted = append(trusted, pk)
	}
	return trusted, nil
}

// IsSignatureError reports whether err is a failed signature check.
func IsSignatureError(err error) bool {
	for _, target := range []error{catalog.ErrNotSigned, catalog.ErrUntrustedKey, catalog.ErrBadSignature, catalog.ErrBundleModified, catalog.ErrMalformedSignature} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// RefuseBundle is the error for a bundle whose signature check failed,
// with what to do about it.
func RefuseBundle(dir, from string, err error) error {
	hint := "re-sign the bundle with `mcpgov bundle sign` after reviewing the change, or restore it from git"
	if errors.Is(err, catalog.ErrNotSigned) {
		hint = "sign it with `mcpgov bundle sign --key FILE " + dir + "`"
	} else if errors.Is(err, catalog.ErrUntrustedKey) {
		hint = "trusted keys come from " + from + "; sign with a trusted key"
	}
	return WithHint(fmt.Errorf("refusing bundle %s: %w", dir, err), hint)
}

// Load loads the bundle, verified first when a key is pinned.
func (s BundleSettings) Load() (*catalog.Bundle, error) {
	b, err := catalog.LoadSignedBundle(s.Source.Dir, s.Keys)
	if err == nil {
		return b, nil
	}
	if IsSignatureError(err) {
		return nil, RefuseBundle(s.Source.Dir, s.KeysFrom, err)
	}
	return nil, s.LoadError(err)
}

// LoadError phrases an error loading the bundle with where it came from.
func (s BundleSettings) LoadError(err error) error {
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		return WithHint(fmt.Errorf("load bundle %s (from %s): %w", s.Source.Dir, s.Source.From, err), "run `mcpgov catalog validate "+s.Source.Dir+"` to list every problem")
	}
	return fmt.Errorf("load bundle (from %s): %w", s.Source.From, err)
}

// LoadForReview is Load for a review before signing (--unsigned-ok):
// with trusted keys pinned, a bundle whose signature check fails is still
// loaded, and warning says that nothing else will use it until it is
// signed. Without unsignedOK the refusal's hint names the flag (cmd is
// the command to suggest it for). warning is "" when the bundle verified.
func (s BundleSettings) LoadForReview(unsignedOK bool, cmd string) (b *catalog.Bundle, warning string, err error) {
	b, err = catalog.LoadSignedBundle(s.Source.Dir, s.Keys)
	switch {
	case err == nil:
		return b, "", nil
	case !IsSignatureError(err):
		return nil, "", s.LoadError(err)
	case !unsignedOK:
		refusal := RefuseBundle(s.Source.Dir, s.KeysFrom, err)
		var hinted *HintError
		if errors.As(refusal, &hinted) {
			hinted.Hint += fmt.Sprintf("; to review it before signing: `mcpgov %s --unsigned-ok %s`", cmd, s.Source.Dir)
		}
		return nil, "", refusal
	}
	b, lerr := catalog.LoadBundle(s.Source.Dir)
	if lerr != nil {
		return nil, "", s.LoadError(lerr)
	}
	return b, fmt.Sprintf("%v; checked for review only (--unsigned-ok): the shim and every other command refuse it until it is signed with a key trusted by %s", err, s.KeysFrom), nil
}

// Usable is a check beyond the catalog that a bundle must pass to govern
// (its policies and guardrails load).
type Usable func(*catalog.Bundle) error

// LoadLive loads the bundle the shim (or a gateway) governs with, which
// must keep working when the configured bundle cannot be reached (a share
// that is not mounted, a sync that removed it, a laptop offline): every
// configured bundle that loads is kept as the last good copy under the
// state directory, and when the configured one is unreachable the last
// good copy is used, with a notice. With trusted keys pinned, the copy is
// verified against them when it is kept and again when it is used. A
// bundle named with --bundle (explicit) is a deliberate choice (a test, a
// review): it is neither kept nor replaced. usable is the caller's check
// beyond the catalog: a bundle that fails it is not good, is never kept,
// and is not used.
func (s BundleSettings) LoadLive(env Env, explicit bool, usable Usable) (*catalog.Bundle, []Notice, error) {
	b, err := s.Load()
	if err == nil {
		err = CheckUsable(b, s.Keys, usable)
	}
	if explicit {
		if err != nil {
			return nil, nil, err
		}
		return b, nil, nil
	}
	cache, cerr := StateDir(env, "bundle")
	if err == nil {
		if cerr != nil {
			return b, []Notice{{"warning", fmt.Sprintf("the last good bundle is not kept: %v", cerr)}}, nil
		}
		if serr := catalog.SaveLastGood(b, cache, s.Keys); serr != nil {
			return b, []Notice{{"warning", serr.Error()}}, nil
		}
		return b, nil, nil
	}
	// Only a bundle that cannot be reached is stood in for. One that is
	// there but invalid (or unsigned, or signed by another key) was shipped
	// broken: failing closed says so, where an older copy could quietly
	// undo a tightening.
	var unavailable *catalog.UnavailableError
	if !errors.As(err, &unavailable) || cerr != nil {
		return nil, nil, err
	}
	lb, lerr := catalog.LoadLastGood(cache, s.Keys)
	if errors.Is(lerr, catalog.ErrNoLastGood) {
		return nil, nil, err // nothing kept yet
	}
	if lerr == nil {
		lerr = CheckUsable(lb, s.Keys, usable)
	}
	if lerr != nil {
		return nil, nil, fmt.Errorf("%w; the last good copy was not used: %v", err, lerr)
	}
	lb.Fallback = err
	return lb, []Notice{{"warning", fmt.Sprintf("the configured governance bundle cannot be used (%v); using the last good copy, revision %s, from %s", err, lb.Revision, lb.Dir)}}, nil
}

// CheckUsable runs usable on b; with keys pinned it then checks that the
// files it read (policies, guardrails) are still the ones verified.
func CheckUsable(b *catalog.Bundle, keys []catalog.PublicKey, usable Usable) error {
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
