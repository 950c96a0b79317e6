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
