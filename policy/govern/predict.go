package govern

import (
	"context"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Launch is an upstream as a client's config launches it through the
// shim: the `shim ID`, --server, --url or command line, and --mode.
type Launch struct {
	ID, Server, URL string
	Command         []string
	Mode            catalog.Mode
	// Name is how messages quote it (masked).
	Name string
}

// Prediction is what a connection would do at its start.
type Prediction struct {
	// Server is the catalog entry it resolves to (nil: none).
	Server *catalog.Server
	// Mode is the mode it runs in.
	Mode catalog.Mode
	// Refusal says why the core would refuse it (nil: it starts; in audit
	// mode, it starts and the refusal is recorded).
	Refusal *enforce.Refusal
}

// Predict says what a connection to l would do at its start with bundle
// b, or bundleErr when there is no usable one: the same catalog entry
// (CatalogEntry) and the enforcement core's admission check, so what wrap
// says is what the shim does.
func Predict(ctx context.Context, b *catalog.Bundle, bundleErr error, l Launch) Prediction {
	cfg := enforce.Config{Mode: catalog.ModeEnforce, Launch: l.Name}
	mode := l.Mode
	if b == nil {
		cfg.BundleErr = bundleErr
	} else {
		c := b.Catalog
		cfg.Server, cfg.VersionApproved = CatalogEntry(c, l.ID, l.Server, l.URL, l.Command)
		cfg.RequestURL = c.Meta.RequestURL
		if mode == "" {
			mode = c.Meta.Mode
		}
	}
	if mode == "" {
		mode = catalog.ModeEnforce
	}
	return Prediction{Server: cfg.Server, Mode: mode, Refusal: enforce.New(cfg).Admit(ctx)}
}
