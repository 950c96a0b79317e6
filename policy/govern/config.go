package govern

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	// ShadowBundle is a candidate bundle the shim evaluates beside the
	// enforced one on every call, recording its decision without
	// enforcing it. The managed config's wins.
	ShadowBundle string `toml:"shadow_bundle"`
	// Profile is the login profile used when --profile and MCPGOV_PROFILE
	// are not given ("default" when empty).
	Profile string `toml:"profile"`
	// Profiles are named identity-provider settings (`mcpgov login`). In
	// the managed config a profile's issuer and client_id are fixed: users
	// cannot log in elsewhere under that profile.
	Profiles map[string]LoginProfile `toml:"profiles"`
	// Audit configures the local audit trail ([audit] table).
	Audit AuditConfig `toml:"audit"`
	// Gateway configures `mcpgov gateway serve` ([gateway] table).
	Gateway GatewayConfig `toml:"gateway"`

	path string // the file it was read from
}

// Path is the file the config was read from.
func (c Config) Path() string { return c.path }

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

// Configs is the user's and the managed configuration, either may be
// empty. Where both set something, the managed one wins where a user must
// not loosen it (trusted keys, login issuer, audit logging) and the user's
// wins where it is a preference (bundle, audit directory).
type Configs struct {
	User, Managed Config
}

// UserConfigPath is the user's config file: MCPGOV_CONFIG, else
// $XDG_CONFIG_HOME/mcpgov/config.toml, else %AppData% on Windows
// without HOME, else ~/.config/mcpgov/config.toml.
func UserConfigPath(env Env) string {
	if p := env.getenv("MCPGOV_CONFIG"); p != "" {
		return p
	}
	if d := env.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "mcpgov", "config.toml")
	}
	home := env.getenv("HOME")
	if home == "" {
		if d := env.getenv("AppData"); d != "" && env.goos() == "windows" {
			return filepath.Join(d, "mcpgov", "config.toml")
		}
		home = env.Home
	}
	return filepath.Join(home, ".config", "mcpgov", "config.toml")
}

// ManagedConfigPath is the managed (MDM) config file:
// MCPGOV_MANAGED_CONFIG, else the OS's system-wide location.
func ManagedConfigPath(env Env) string {
	if p := env.getenv("MCPGOV_MANAGED_CONFIG"); p != "" {
		return p
	}
	switch env.goos() {
	case "darwin":
		return "/Library/Application Support/mcpgov/config.toml"
	case "windows":
		pd := env.getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "mcpgov", "config.toml")
	}
	return "/etc/mcpgov/config.toml"
}

// LoadConfigs reads both configuration files strictly: unknown keys are
// errors naming the key and file. A missing file is an empty config.
func LoadConfigs(env Env) (Configs, error) {
	var c Configs
	var err error
	if c.Managed, err = ReadConfig(ManagedConfigPath(env)); err != nil {
		return c, err
	}
	if c.User, err = ReadConfig(UserConfigPath(env)); err != nil {
		return c, err
	}
	return c, nil
}

// ReadConfig reads the config file at path strictly; a missing file is an
// empty config.
func ReadConfig(path string) (Config, error) {
	cfg := Config{path: path}
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read config %s: %w", path, err)
	}
	return ParseConfig(path, text)
}

// ParseConfig decodes the text of the config file at path strictly.
func ParseConfig(path string, text []byte) (Config, error) {
	cfg := Config{path: path}
	md, err := toml.Decode(string(text), &cfg)
	cfg.path = path
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, WithHint(fmt.Errorf("config %s: unknown key %q", path, und[0].String()), "known keys: bundle, trusted_keys, shadow_bundle, profile, [profiles.NAME] issuer, client_id, scopes, gateway_url, gateway_audience, [audit] dir, logging, rotate_bytes, rotate_age, witness, signing_key, checkpoint_interval, durability, [gateway] listen, allowed_origins, max_body, max_sessions, idle_timeout, input_timeout, tls_cert, tls_key, replica_cert, replica_key, inventory_readers, metrics_listen, public_url, otlp_traces, trusted_proxies, advertise_url, clock_skew, auth_failures, auth_failure_window, store, store_down, [[gateway.issuers]] url, audience, groups_claim, roles_claim (see `mcpgov help config`)")
	}
	if cfg.Bundle != "" && !filepath.IsAbs(cfg.Bundle) {
		cfg.Bundle = filepath.Join(filepath.Dir(path), cfg.Bundle)
	}
	if cfg.ShadowBundle != "" && !filepath.IsAbs(cfg.ShadowBundle) {
		cfg.ShadowBundle = filepath.Join(filepath.Dir(path), cfg.ShadowBundle)
	}
	return cfg, nil
}

// BundleSource says where the bundle directory came from, for messages.
type BundleSource struct {
	Dir  string
	From string // "--bundle", "MCPGOV_BUNDLE", or a config file path
}

// ResolveBundle picks the bundle: flag (--bundle), then MCPGOV_BUNDLE,
// then the user's config file, then the managed config. ok is false when
// none names one.
func ResolveBundle(flag string, env Env, c Configs) (BundleSource, bool) {
	switch {
	case flag != "":
		return BundleSource{flag, "--bundle"}, true
	case env.getenv("MCPGOV_BUNDLE") != "":
		return BundleSource{env.getenv("MCPGOV_BUNDLE"), "MCPGOV_BUNDLE"}, true
	case c.User.Bundle != "":
		return BundleSource{c.User.Bundle, c.User.Path()}, true
	case c.Managed.Bundle != "":
		return BundleSource{c.Managed.Bundle, c.Managed.Path()}, true
	}
	return BundleSource{}, false
}

// ShadowBundle is the shadow bundle directory and the file that names
// it: the managed config's, else the user's; "" when none.
func (c Configs) ShadowBundle() (dir, from string) {
	if c.Managed.ShadowBundle != "" {
		return c.Managed.ShadowBundle, c.Managed.Path()
	}
	return c.User.ShadowBundle, c.User.Path()
}

// TrustedKeys are the managed config's keys when it pins any, else the
// user's: a user cannot loosen what the organisation pinned. from names
// the file they came from.
func (c Configs) TrustedKeys() (keys []string, from string) {
	if len(c.Managed.TrustedKeys) > 0 {
		return c.Managed.TrustedKeys, c.Managed.Path()
	}
	return c.User.TrustedKeys, c.User.Path()
}

// LoginSettings is the resolved login configuration of one profile, with
// where each value came from for messages.
type LoginSettings struct {
	Profile         string
	Issuer          string
	ClientID        string
	Scopes          []string
	GatewayURL      string
	GatewayAudience string
	// FixedBy names the managed config that fixes issuer/client_id.
	FixedBy string
}

// LoginFlags are the login settings given on the command line.
type LoginFlags struct {
	Profile, Issuer, ClientID string
	Scopes                    []string
}

// ResolveLogin picks the profile (--profile, MCPGOV_PROFILE, the user's
// then the managed config's profile key, "default") and its settings. The
// managed config's issuer and client_id win over everything and
// conflicting flags are UsageErrors; otherwise flags beat the user's
// config, which beats the managed config's defaults.
func ResolveLogin(env Env, c Configs, fl LoginFlags) (LoginSettings, error) {
	ls := LoginSettings{Profile: FirstNonEmpty(fl.Profile, env.getenv("MCPGOV_PROFILE"), c.User.Profile, c.Managed.Profile, "default")}
	if err := login.ValidProfile(ls.Profile); err != nil {
		return ls, &UsageError{Err: err}
	}
	user, managed := c.User.Profiles[ls.Profile], c.Managed.Profiles[ls.Profile]
	if managed.Issuer != "" && fl.Issuer != "" && fl.Issuer != managed.Issuer {
		return ls, &UsageError{Err: WithHint(fmt.Errorf("--issuer %s conflicts with profile %q of the managed config %s, which fixes the issuer to %s", fl.Issuer, ls.Profile, c.Managed.Path(), managed.Issuer), "drop --issuer, or use another --profile")}
	}
	if managed.ClientID != "" && fl.ClientID != "" && fl.ClientID != managed.ClientID {
		return ls, &UsageError{Err: WithHint(fmt.Errorf("--client-id %s conflicts with profile %q of the managed config %s, which fixes the client id to %s", fl.ClientID, ls.Profile, c.Managed.Path(), managed.ClientID), "drop --client-id, or use another --profile")}
	}
	if managed.Issuer != "" || managed.ClientID != "" {
		ls.FixedBy = c.Managed.Path()
	}
	ls.Issuer = FirstNonEmpty(managed.Issuer, fl.Issuer, user.Issuer)
	ls.ClientID = FirstNonEmpty(managed.ClientID, fl.ClientID, user.ClientID)
	switch {
	case len(fl.Scopes) > 0:
		ls.Scopes = fl.Scopes
	case len(user.Scopes) > 0:
		ls.Scopes = user.Scopes
	default:
		ls.Scopes = managed.Scopes
	}
	ls.GatewayURL = FirstNonEmpty(managed.GatewayURL, user.GatewayURL)
	ls.GatewayAudience = FirstNonEmpty(managed.GatewayAudience, user.GatewayAudience)
	return ls, nil
}

// FirstNonEmpty returns the first value that is not "".
func FirstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// configRelative resolves dir against the directory of the config file
// that named it.
func configRelative(configPath, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(filepath.Dir(configPath), dir)
}
