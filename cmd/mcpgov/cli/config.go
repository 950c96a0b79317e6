package cli

import (
	"errors"

	"github.com/mcpgov/mcpgov/policy/govern"
)

// The configuration model and its precedence live in govern; these names
// are the CLI's view of it (`mcpgov help config` documents every key).
type (
	// Config is one configuration file (config.toml).
	Config = govern.Config
	// LoginProfile is one [profiles.NAME] table.
	LoginProfile = govern.LoginProfile
	// AuditConfig is the [audit] table.
	AuditConfig = govern.AuditConfig
	// GatewayConfig is the [gateway] table.
	GatewayConfig = govern.GatewayConfig
)

// resolveLogin resolves the login profile with the flags given; a flag the
// managed config forbids is a usage error.
func resolveLogin(f *Factory, profileFlag, issuerFlag, clientFlag string, scopesFlag []string) (govern.LoginSettings, error) {
	c, err := f.Config()
	if err != nil {
		return govern.LoginSettings{}, err
	}
	ls, err := govern.ResolveLogin(f.Env(), c, govern.LoginFlags{Profile: profileFlag, Issuer: issuerFlag, ClientID: clientFlag, Scopes: scopesFlag})
	var usage *govern.UsageError
	if errors.As(err, &usage) {
		return ls, &FlagError{Err: usage.Err}
	}
	return ls, err
}

func firstNonEmpty(vals ...string) string { return govern.FirstNonEmpty(vals...) }
