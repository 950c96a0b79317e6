package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/login"
)

// Config is mcpgov's configuration file (config.toml). The user's file lives
// in $XDG_CONFIG_HOME/mcpgov; a managed one (written by MDM) in
// /etc/mcpgov, /Library/Application Support/mcpgov or %ProgramData%\mcpgov.
type Config struct {
	// Bundle is the governance bundle directory.
	Bundle string `toml:"bundle"`
	// TrustedKeys are public keys (mcpgov-ed25519:…) a bundle must be
	// signed with. When the managed config sets them, the user's are ignored.
	TrustedKeys []string `toml:"trusted_keys"`
	// Profile is the login profile used when --profile and MCPGOV_PROFILE
	// are not given ("default" when empty).
	Profile string `toml:"profile"`
	// Profiles are named identity-provider settings (`mcpgov login`). In
	// the managed config a profile's issuer and client_id are fixed: users
	// cannot log in elsewhere under that profile.
	Profiles map[string]LoginProfile `toml:"profiles"`
	// Audit configures the local audit trail ([audit] table).
	Audit AuditConfig `toml:"audit"`

	path string
}

// LoginProfile is one [profiles.NAME] table.
type LoginProfile struct {
	Issuer   string   `toml:"issuer"`
	ClientID string   `toml:"client_id"`
	Scopes   []string `toml:"scopes"`
	// GatewayURL is the central gateway's MCP endpoint: the only upstream
	// the shim sends the user's access token to.
	GatewayURL string `toml:"gateway_url"`
	// GatewayAudience must be among the access token's audiences for the
	// token to be sent to the gateway.
	GatewayAudience string `toml:"gateway_audience"`
}

// configs is the user's and the managed configuration, either may be empty.
type configs struct {
	user, managed Config
}

func userConfigPath(getenv func(string) string) string {
	if p := getenv("MCPGOV_CONFIG"); p != "" {
		return p
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "mcpgov", "config.toml")
	}
	if d, err := os.UserConfigDir(); err == nil && getenv("HOME") == "" {
		return filepath.Join(d, "mcpgov", "config.toml")
	}
	return filepath.Join(getenv("HOME"), ".config", "mcpgov", "config.toml")
}

func managedConfigPath(getenv func(string) string) string {
	if p := getenv("MCPGOV_MANAGED_CONFIG"); p != "" {
		return p
	}
	switch runtime.GOOS {
	case "darwin":
		return "/Library/Application Support/mcpgov/config.toml"
	case "windows":
		pd := getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "mcpgov", "config.toml")
	}
	return "/etc/mcpgov/config.toml"
}

// loadConfigs reads both configuration files strictly: unknown keys are
// errors naming the key and file. A missing file is an empty config.
func loadConfigs(getenv func(string) string) (configs, error) {
	var c configs
	var err error
	if c.managed, err = readConfig(managedConfigPath(getenv)); err != nil {
		return c, err
	}
	if c.user, err = readConfig(userConfigPath(getenv)); err != nil {
		return c, err
	}
	return c, nil
}

func readConfig(path string) (Config, error) {
	cfg := Config{path: path}
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read config %s: %w", path, err)
	}
	return parseConfig(path, text)
}

// parseConfig decodes the text of the config file at path strictly.
func parseConfig(path string, text []byte) (Config, error) {
	cfg := Config{path: path}
	md, err := toml.Decode(string(text), &cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, withHint(fmt.Errorf("config %s: unknown key %q", path, und[0].String()), "known keys: bundle, trusted_keys, profile, [profiles.NAME] issuer, client_id, scopes, gateway_url, gateway_audience, [audit] dir, logging, rotate_bytes, rotate_age, witness, signing_key, checkpoint_interval, durability (see `mcpgov help config`)")
	}
	if cfg.Bundle != "" && !filepath.IsAbs(cfg.Bundle) {
		cfg.Bundle = filepath.Join(filepath.Dir(path), cfg.Bundle)
	}
	return cfg, nil
}

// bundleSource says where the bundle directory came from, for messages.
type bundleSource struct {
	Dir  string
	From string // "--bundle", "MCPGOV_BUNDLE", or a config file path
}

// resolveBundle picks the bundle: --bundle, then MCPGOV_BUNDLE, then the
// user's config file, then the managed config. ok is false when none names
// one.
func resolveBundle(flag string, getenv func(string) string, c configs) (bundleSource, bool) {
	switch {
	case flag != "":
		return bundleSource{flag, "--bundle"}, true
	case getenv("MCPGOV_BUNDLE") != "":
		return bundleSource{getenv("MCPGOV_BUNDLE"), "MCPGOV_BUNDLE"}, true
	case c.user.Bundle != "":
		return bundleSource{c.user.Bundle, c.user.path}, true
	case c.managed.Bundle != "":
		return bundleSource{c.managed.Bundle, c.managed.path}, true
	}
	return bundleSource{}, false
}

// trustedKeys are the managed config's keys when it pins any, else the
// user's: a user cannot loosen what the organisation pinned.
func (c configs) trustedKeys() ([]string, string) {
	if len(c.managed.TrustedKeys) > 0 {
		return c.managed.TrustedKeys, c.managed.path
	}
	return c.user.TrustedKeys, c.user.path
}

// loginSettings is the resolved login configuration of one profile, with
// where each value came from for messages.
type loginSettings struct {
	Profile         string
	Issuer          string
	ClientID        string
	Scopes          []string
	GatewayURL      string
	GatewayAudience string
	// FixedBy names the managed config that fixes issuer/client_id.
	FixedBy string
}

// resolveLogin picks the profile (--profile, MCPGOV_PROFILE, the user's
// then the managed config's profile key, "default") and its settings. The
// managed config's issuer and client_id win over everything and conflicting
// flags are errors; otherwise flags beat the user's config, which beats the
// managed config's defaults.
func resolveLogin(getenv func(string) string, c configs, profileFlag, issuerFlag, clientFlag string, scopesFlag []string) (loginSettings, error) {
	ls := loginSettings{Profile: firstNonEmpty(profileFlag, getenv("MCPGOV_PROFILE"), c.user.Profile, c.managed.Profile, "default")}
	if err := login.ValidProfile(ls.Profile); err != nil {
		return ls, &FlagError{Err: err}
	}
	user, managed := c.user.Profiles[ls.Profile], c.managed.Profiles[ls.Profile]
	if managed.Issuer != "" && issuerFlag != "" && issuerFlag != managed.Issuer {
		return ls, &FlagError{Err: withHint(fmt.Errorf("--issuer %s conflicts with profile %q of the managed config %s, which fixes the issuer to %s", issuerFlag, ls.Profile, c.managed.path, managed.Issuer), "drop --issuer, or use another --profile")}
	}
	if managed.ClientID != "" && clientFlag != "" && clientFlag != managed.ClientID {
		return ls, &FlagError{Err: withHint(fmt.Errorf("--client-id %s conflicts with profile %q of the managed config %s, which fixes the client id to %s", clientFlag, ls.Profile, c.managed.path, managed.ClientID), "drop --client-id, or use another --profile")}
	}
	if managed.Issuer != "" || managed.ClientID != "" {
		ls.FixedBy = c.managed.path
	}
	ls.Issuer = firstNonEmpty(managed.Issuer, issuerFlag, user.Issuer)
	ls.ClientID = firstNonEmpty(managed.ClientID, clientFlag, user.ClientID)
	switch {
	case len(scopesFlag) > 0:
		ls.Scopes = scopesFlag
	case len(user.Scopes) > 0:
		ls.Scopes = user.Scopes
	default:
		ls.Scopes = managed.Scopes
	}
	ls.GatewayURL = firstNonEmpty(managed.GatewayURL, user.GatewayURL)
	ls.GatewayAudience = firstNonEmpty(managed.GatewayAudience, user.GatewayAudience)
	return ls, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
