package cli

import (
	"errors"
	"fmt"

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
