package cli

import (
	"github.com/spf13/cobra"
)

type helpTopic struct {
	name, short, long string
}

func helpTopics() []helpTopic {
	return []helpTopic{
		{
			name:  "exit-codes",
			short: "Exit codes mcpgov returns",
			long: `mcpgov exits with one of these codes:

  0  success
  1  error: something failed (a file could not be written, a bundle is invalid, …)
  2  usage error: unknown command or flag, wrong arguments
  3  findings: scan found a finding at or above --fail-on, or policy tests failed
  4  authentication required: run "mcpgov login"

A scan that reads a broken config file still exits 0: the problem is listed
under "errors" in the report, so one bad file never hides the rest of the
inventory. Use --fail-on to turn findings into exit code 3; output formats do
not change the exit code.`,
		},
		{
			name:  "config",
			short: "The config.toml file, key by key",
			long:  configTopic,
		},
		{
			name:  "environment",
			short: "Environment variables mcpgov reads",
			long: `mcpgov reads these environment variables:

  HOME, USERPROFILE       the home directory whose client configs are scanned
  XDG_CONFIG_HOME         Linux/macOS config root for XDG clients (default ~/.config)
  XDG_STATE_HOME          where mcpgov keeps state (default ~/.local/state): logins
                          (mcpgov/login), the audit trail (mcpgov/audit), the last good
                          bundle (mcpgov/bundle), wrap backups (mcpgov/wrap), rate limits
  APPDATA, LOCALAPPDATA   Windows per-user config roots
  ProgramData, ProgramW6432, ProgramFiles
                          Windows machine-wide (managed) config roots
  CLAUDE_CONFIG_DIR       Claude Code's config directory (holds .claude.json)
  CODEX_HOME              Codex's home (default ~/.codex)
  COPILOT_HOME            GitHub Copilot CLI's home (default ~/.copilot)
  CONTINUE_GLOBAL_DIR     Continue's global directory (default ~/.continue)
  OPENCODE_CONFIG         an extra opencode config file
  OPENCODE_CONFIG_DIR     an extra opencode config directory
  GEMINI_CLI_SYSTEM_SETTINGS_PATH
                          Gemini CLI's system settings file
  VSCODE_PORTABLE         a portable VS Code's data directory
  MCPGOV_BUNDLE           the governance bundle directory (after --bundle)
  MCPGOV_CONFIG           the user config file (default $XDG_CONFIG_HOME/mcpgov/config.toml)
  MCPGOV_MANAGED_CONFIG   the managed config file (default /etc/mcpgov/config.toml,
                          /Library/Application Support/mcpgov/config.toml on macOS,
                          %ProgramData%\mcpgov\config.toml on Windows)
  MCPGOV_TOKEN            a bearer token that overrides the stored login (CI)
  MCPGOV_PROFILE          the login profile (after --profile)
  MCPGOV_KEYRING          "off" keeps logins out of the OS keyring (0600 file instead)
  MCPGOV_AUDIT_DIR        the audit trail the shim writes and "mcpgov audit" reads
                          (after --dir; default $XDG_STATE_HOME/mcpgov/audit)
  NO_COLOR                disable colour in tables
  MCPGOV_FORCE_TTY        treat stdout as a terminal (table output when piped)

mcpgov scan only reads files: it never runs a configured command and never
contacts a configured URL.`,
		},
	}
}

// configTopic documents every key of Config; a test checks that each one
// is here.
const configTopic = `mcpgov reads two config.toml files, strictly (an unknown key is an error
naming the key and the file):

  user      $XDG_CONFIG_HOME/mcpgov/config.toml (default ~/.config/mcpgov/config.toml;
            %AppData%\mcpgov\config.toml on Windows), or MCPGOV_CONFIG
  managed   /etc/mcpgov/config.toml, /Library/Application Support/mcpgov/config.toml
            on macOS, %ProgramData%\mcpgov\config.toml on Windows, or
            MCPGOV_MANAGED_CONFIG; written by MDM

Neither file has to exist. "mcpgov bundle init --register DIR" writes the bundle
key into the user's file (only that line changes; a copy of the previous file
is kept under $XDG_STATE_HOME/mcpgov/config-backups).

Top-level keys:

  bundle = "DIR"
      The governance bundle directory: catalog.toml, guardrails.toml,
      policies/. A relative path is relative to the config file. Commands
      take the bundle from --bundle, then MCPGOV_BUNDLE, then the user's
      file, then the managed one. The shim that wrapped servers run reads
      the config files too (clients started from a desktop often do not
      pass MCPGOV_BUNDLE on), and keeps the last good copy of the bundle.
      When nothing names a bundle, catalog and policy commands use
      ./governance in the working directory or a parent; scan, wrap and the
      shim never guess.

  trusted_keys = ["mcpgov-ed25519:…"]
      Public keys (from "mcpgov bundle keygen") a bundle must be signed
      with; with any set, every command refuses a bundle that is unsigned,
      changed since it was signed, or signed by another key ("catalog
      validate" and "policy test" accept --unsigned-ok for a review before
      signing). When the managed file sets keys, the user's are ignored.

  profile = "NAME"
      The login profile used when --profile and MCPGOV_PROFILE are not
      given (default "default").

[profiles.NAME] — an identity provider for "mcpgov login". None is needed
for a catalog without groups (the starter bundle's). Once a login is
configured (the profile has an issuer, or one was stored), the shim sends the
caller's identity and, in enforce mode, refuses calls without a usable one.

  issuer = "https://idp.example.com"
      The OpenID Connect issuer URL. In the managed file it is fixed: users
      cannot log in elsewhere under this profile.
  client_id = "mcpgov-cli"
      mcpgov's OAuth client ID at the provider (fixed by the managed file
      too).
  scopes = ["openid", "profile", "email", "groups", "offline_access"]
      Scopes to request (the default shown).
  gateway_url = "https://gateway.example.com/mcp"
      The central gateway's MCP endpoint: the only upstream the shim sends
      your access token to.
  gateway_audience = "mcpgov-gateway"
      The token is sent to the gateway only when it is issued for this
      audience.

[audit] — the local audit trail the shim writes.

  dir = "DIR"
      The store (default $XDG_STATE_HOME/mcpgov/audit; MCPGOV_AUDIT_DIR
      wins).
  logging = "always"
      always, header_controlled (a request opts in with
      _meta {"io.mcpgov/logging": "on"}) or never; a call not logged in
      full still leaves a placeholder record. The managed file's value wins.
  rotate_bytes = 67108864
      Start a new segment past this size (default 64 MiB).
  rotate_age = "24h"
      Start a new segment once the current one is this old: a duration or
      days ("7d"); default 24h.

Example (user file):

  bundle = "/home/ann/src/governance"

  [profiles.default]
  issuer = "https://idp.example.com"
  client_id = "mcpgov-cli"`

// newHelpTopicCmd makes "mcpgov help TOPIC" print the topic text alone.
func newHelpTopicCmd(t helpTopic) *cobra.Command {
	cmd := &cobra.Command{
		Use:     t.name,
		Short:   t.short,
		Long:    t.long,
		Example: "  mcpgov help " + t.name,
		Annotations: map[string]string{
			"helpTopic": "true",
		},
	}
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		c.Println(c.Long)
	})
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		c.Println(c.Long)
		return nil
	})
	return cmd
}
