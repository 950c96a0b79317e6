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
  3  findings: scan found a finding at or above --fail-on, policy tests
     failed, or audit verify found the trail edited, cut short or rewritten
  4  authentication required: run "mcpgov login"

A scan that reads a broken config file still exits 0: the problem is listed
under "errors" in the report, so one bad file never hides the rest of the
inventory. Use --fail-on to turn findings into exit code 3; output formats do
not change the exit code.

Stdout carries data only. Every line on stderr starts with "mcpgov: ": a
diagnostic then names its level, "mcpgov: error: ", "mcpgov: warning: " or
"mcpgov: hint: " (what to do about the line before it); a report of progress
("mcpgov: wrote …") names none. The lines after the first of a message are
indented. A command that fails prints its error once, with its hints after it:

  mcpgov: error: load bundle ./governance (from --bundle): …
  mcpgov: hint: run ` + "`mcpgov catalog validate ./governance`" + ` to list every problem`,
		},
		{
			name:  "audit-threats",
			short: "What the audit trail proves, and against whom",
			long:  auditThreats,
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
  XDG_STATE_HOME          where mcpgov keeps state (default %LOCALAPPDATA% on Windows,
                          else ~/.local/state; never a relative path): logins
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
  CLINE_DIR               the Cline CLI's directory (default ~/.cline)
  KIMI_CODE_HOME          Kimi Code's home (default ~/.kimi-code)
  GROK_HOME               Grok Build's home (default ~/.grok)
  PI_CODING_AGENT_DIR     Pi's agent directory (default ~/.pi/agent)
  CLAUDE_CODE_PLUGIN_CACHE_DIR
                          a further Claude Code plugins root (its installed_plugins.json)
  MCPGOV_BUNDLE           the governance bundle directory (after --bundle)
  MCPGOV_CONFIG           the user config file (default $XDG_CONFIG_HOME/mcpgov/config.toml)
  MCPGOV_MANAGED_CONFIG   the managed config file (default /etc/mcpgov/config.toml,
                          /Library/Application Support/mcpgov/config.toml on macOS,
                          %ProgramData%\mcpgov\config.toml on Windows)
  MCPGOV_TOKEN            a bearer token that overrides the stored login (CI)
  MCPGOV_PROFILE          the login profile (after --profile)
  MCPGOV_MACHINE_ID       what names this machine in scan --upload (an asset tag
                          from MDM; default the OS's machine id); only an HMAC
                          of it is sent
  MCPGOV_KEYRING          "off" keeps logins out of the OS keyring (0600 file instead)
  MCPGOV_AUDIT_DIR        the audit trail the shim writes and "mcpgov audit" reads
                          (after --dir; default $XDG_STATE_HOME/mcpgov/audit)
  NO_COLOR                disable colour in tables
  MCPGOV_FORCE_TTY        treat stdout as a terminal (table output when piped)

mcpgov scan only reads files: it never runs a configured command and never
contacts a configured URL (--upload contacts only the gateway).`,
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

  shadow_bundle = "DIR"
      A candidate bundle the shim evaluates beside the enforced one on
      every tools/call: its catalog (blocked servers, allowed tools),
      guardrails and policies decide too, and the record keeps both
      decisions ("decision.shadow": allow, reasons, rule_ids, revision) —
      the call itself goes on as the enforced bundle says, whatever the
      shadow decides. Rate limits are not counted for it. It is verified
      against trusted_keys like the bundle. Read the results with
      "mcpgov audit query --json", or replay the past instead with "mcpgov
      policy replay". The managed file's wins over the user's.

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
      The central gateway's MCP endpoint: its endpoints (/mcp,
      /servers/ID/mcp, /virtual/ID/mcp on the same host) are the only
      upstreams the shim sends your access token to.
  gateway_audience = "mcpgov-gateway"
      The token is sent to the gateway only when it is issued for this
      audience.

[audit] — the local audit trail the shim writes.

  dir = "DIR"
      The store (default $XDG_STATE_HOME/mcpgov/audit; MCPGOV_AUDIT_DIR
      wins).
  logging = "always"
      always, header_controlled (a request opts in with
      _meta {"io.mcpgov/logging": "on"}, or through the gateway with the
      header X-Mcpgov-Logging: on; _meta wins) or never; a call not logged
      in full still leaves a placeholder record. The managed file's value
      wins.
  rotate_bytes = 67108864
      Start a new segment past this size (default 64 MiB).
  rotate_age = "24h"
      Start a new segment once the current one is this old: a duration or
      days ("7d"); default 24h.
  durability = "write"
      When a call's reply may go: write (the default: once its record is
      written to the OS, which survives a crash of mcpgov or kill -9; the
      records of each 5 ms share one fsync, so a power loss can lose at
      most the last 5 ms) or fsync (once the record is on disk). Every
      record names its mode.
  witness = ["/var/lib/mcpgov-witness", "https://gateway.example.com/v1/checkpoints"]
      Where signed checkpoints are sent, so that truncating or re-signing
      the trail on this machine shows (mcpgov help audit-threats): a file
      or directory the user cannot rewrite, or an https URL. Managed and
      user lists add up; a user cannot remove a managed witness.
  signing_key = "/etc/mcpgov/audit.key"
      The checkpoint signing key (mcpgov audit keygen); the managed file's
      value wins. Default: signing.key in the store, created on first use.
  checkpoint_interval = "10s"
      Also sign a checkpoint when records have waited this long (default
      10s once a witness is set; otherwise only every 1,000 records and on
      exit).

[gateway] — "mcpgov gateway serve". Its flags override these keys; a key
the managed file sets wins over the user's.

  listen = "127.0.0.1:8080"
      The address to listen on (default 127.0.0.1:8080).
  allowed_origins = ["https://app.example.com"]
      Origin values a browser client may call from (default: same origin
      only).
  max_body = 8388608
      The largest POST body in bytes (default 8 MiB); a larger one gets 413.
  max_sessions = 10000
      The most MCP sessions open at once (default 10000); past it an
      initialize gets 503.
  idle_timeout = "30m"
      A session nobody used for this long ends (default 30m).
  input_timeout = "10m"
      How long a call of a 2026-07-28 client whose server asked for input
      (elicitation, sampling) waits for the client's retry with it (default
      10m); then the server's request is answered with an error and the
      call is cancelled and recorded as such.
  tls_cert = "/etc/mcpgov/gateway.crt"
  tls_key = "/etc/mcpgov/gateway.key"
      PEM certificate (chain) and key: with both set the gateway serves
      HTTPS only. Relative to the config file.
  replica_cert = "/etc/mcpgov/replica.crt"
  replica_key = "/etc/mcpgov/replica.key"
      PEM client certificate (chain) and key this replica presents to the
      others when it forwards a retry over https (mutual TLS; see
      advertise_url); it accepts theirs when a certificate in this file
      issued them (the system's roots are not taken). The certificate
      must allow client authentication (clientAuth extended key usage):
      a replica advertising its URL with one that does not is refused at
      start. Needs tls_cert; default: tls_cert and tls_key themselves,
      which a public CA issues for serverAuth only, so give replicas a
      certificate of a CA of their own. Relative to the config file; as
      --replica-cert and --replica-key.
  public_url = "https://mcp.example.com"
      The gateway's URL as browsers reach it (behind a proxy or load
      balancer): a person consenting to mcpgov calling a server for them
      (auth type oauth_user) is sent back to public_url/oauth/callback,
      which the authorization server must list as a redirect URI. Default:
      the listen address; as --public-url.
  consent_issuer = "https://login.example.com"
  consent_client_id = "mcpgov-gateway"
  consent_client_secret = "env:MCPGOV_CONSENT_SECRET"
      The gateway's OpenID client at your identity provider, which must
      allow public_url/oauth/signin as a redirect URI. With it, a consent
      link (auth type oauth_user) leads to public_url/oauth/start: the
      person signs in there first, only the person the link was made for
      may go on to consent (anyone else is refused, the link is burnt and
      a consent_failed record names other_user), and the consent's
      redirect is taken only from the browser that signed in. Without it a
      link works for whoever opens it: someone it was passed to grants
      their own upstream account to the person who got the link; the
      gateway warns at start and records consent_unchecked. The secret is
      a reference (env:, file:, keyring:).
  metrics_listen = "127.0.0.1:9090"
      Serve /metrics only on this address, not beside the MCP endpoints
      (where anyone who reaches the gateway could read it); as
      --metrics-listen.
  trusted_proxies = ["10.0.0.0/8"]
      The load balancers or reverse proxies (CIDR prefixes or addresses)
      in front of the gateway. For a request from one of them, the client
      address (the limit on repeated failed authentications, and the
      record of a refused call) is the rightmost X-Forwarded-For hop that
      is not itself one of them; from any other peer the header is ignored,
      since a client can write anything there. Default: none; as
      --trusted-proxy (repeatable).
  otlp_traces = "http://127.0.0.1:4318"
      Send one span per MCP request (OpenTelemetry conventions for MCP;
      the caller's traceparent is its parent), with the policy decision
      and the upstream round trip as children, to this OTLP/HTTP endpoint
      (/v1/traces is added when the URL has no path); as --otlp-traces.
      Spans hold no argument, result or personal value; when the exporter
      falls behind, spans are dropped and counted, never waited for.
  inventory_readers = ["security"]
      Groups whose members may read the fleet inventory over HTTP (GET
      /inventory); nobody when unset. Any authenticated caller may upload
      a scan (mcpgov scan --upload).
  clock_skew = "1m"
      How far an identity provider's clock may be off: a token counts as
      expired this long after its exp (default 1m, at most 1h).
  auth_failures = 20
      Failed authentications one client address may make within
      auth_failure_window before every request from it gets 429 until the
      window ends (default 20).
  auth_failure_window = "1m"
      The window of auth_failures (default 1m).
  store = "redis://redis.internal:6379/0"
      The Redis-protocol store (Redis, Valkey, ElastiCache, Memorystore;
      rediss:// for TLS, unix:///PATH for a socket) that several replicas
      behind a load balancer share: rate-limit counters, budgets, issued
      tokens and their revocation ("mcpgov gateway token" uses it too),
      the credential vault (sealed; "mcpgov creds" uses it too), the fleet
      inventory, each session's taint facts, the key that signs session
      ids (any replica serves any session) and bundle reloads (a replica
      looks at its bundle every second and at once when another announces
      a new revision). A replica started while the store is down is not
      ready until it answers. Default: none, one process.
  store_down = "enforce"
      While the store is unreachable: enforce (default) refuses calls that
      need a rate-limit or budget counter and sessions new to the replica,
      and issued tokens cannot be checked; audit counts rate limits and
      budgets per replica, starts new sessions' facts over, and says so on
      stderr. Either way the store is tried again at each call: no restart
      once it is back.
  advertise_url = "http://10.0.0.7:8080"
      This replica's own URL as the other replicas reach it: scheme, host
      and port only (https:// when it serves TLS, http:// otherwise; not
      0.0.0.0). A call of a 2026-07-28 client whose server asked for input
      (elicitation, sampling) waits on the replica whose upstream session
      asked; with advertise_url on every replica, the client's retry is
      forwarded there by whichever replica gets it, and answered from
      there (JSON or stream, as it comes), so a load balancer needs no
      affinity. The forward carries the client's credentials, checked
      again there, and a signature under the store's key; the client's
      address goes with it. Clients never see the URL: it travels sealed
      in the requestState. A retry whose replica stopped gets an error
      saying the call was lost with it. Over https, a replica's
      certificate is checked against the system's roots and the
      certificates in this replica's own tls_cert (so each replica's
      certificate must name the host of its advertise_url), and the
      forwarding replica presents its replica_cert (mutual TLS): a
      forward over https without a verified one is refused (403). Use
      https between hosts: over http the signature alone authenticates a
      forward. Needs store.
      Default: none (a retry on another replica gets an error); as
      --advertise-url.

[[gateway.issuers]] — an identity provider whose JWT access tokens the
gateway accepts (repeat the table for several). The token's iss picks the
provider; its keys come from the provider's discovery document and are
fetched again when a token names a new key (rotation). The managed file's
list, when it has one, replaces the user's.

  url = "https://idp.example.com"
      The issuer, exactly as the tokens' iss claim names it (https; http
      only on loopback).
  audience = "mcpgov-gateway"
      Must be among the token's audiences (required: without it tokens
      issued for any application would pass).
  groups_claim = "groups"
      The claim with the caller's groups (default "groups": Dex, Okta and
      Entra ID group claims); a dotted path reaches into an object
      ("realm_access.roles"), and a claim named as a whole wins (Okta and
      Auth0 custom claims such as "https://example.com/groups"). An array
      of strings or a space-separated string. A token whose groups were
      left out for their number (Entra ID's group overage: _claim_names,
      hasgroups) is refused with what to change, never served without
      groups.
  roles_claim = "roles"
      A claim whose values count as groups too (Entra ID app roles).

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

const auditThreats = `What the audit trail proves, and against whom.

Every trail
  Each record carries the SHA-256 of the line before it, and checkpoints sign
  the chain's length and head with an ed25519 key. "mcpgov audit verify"
  finds any record edited, deleted, reordered or inserted, a segment removed,
  a forged checkpoint: anything done without the signing key (a bug, a
  failing disk, a tool that edits one file).

What the default, unmanaged setup does not prove
  The key is signing.key inside the store, which its owner (and root, and
  malware running as either) can read and write. They can:
    - delete the newest records together with their checkpoints: the trail
      still verifies, only shorter;
    - rewrite any record, recompute the hashes after it and sign the
      checkpoints again with signing.key: the trail verifies, also against
      a pinned --key, because the key is the same;
    - make a new key, replace signing.pub and sign a new history: caught only
      by someone who pinned the old verifier key with --key;
    - put back an older copy of the whole directory.
  On its own a trail shows that it is intact, not that its owner left it
  alone.

What a witness adds ([audit] witness in the managed config)
  Every checkpoint the store signs is also sent to a witness: a file or
  directory the user can append to but not rewrite (chattr +a, chflags
  sappnd, a WORM mount), or an https URL (the gateway). Sending happens in
  the background and is retried; a call never waits for it, a failure is
  warned about ("mcpgov: warning: witness …"), the shim waits at most 5s
  for it when it exits, and a checkpoint still undelivered then is sent by
  the next shim. Records that waited
  checkpoint_interval (default 10s) are signed and sent even when idle.
  Each record's hash covers every record before it, so one witnessed
  checkpoint of seq N vouches for records 1 to N. "mcpgov audit verify"
  compares the chain with every witnessed checkpoint and exits 3 on:
    truncated  a witnessed checkpoint lies beyond the end of the chain:
               records were removed, or an older copy was put back
    forked     the record at a witnessed seq hashes differently here: the
               history was rewritten and signed again
    rollback   the witness saw the chain shrink: an older copy was put back
               and written on
    rekeyed    the witness holds checkpoints of this store under a key
               verify does not trust: the signing key was replaced

What whoever controls the machine can still hide with a witness
  - the records after the last witnessed checkpoint (verify prints how
    many): up to checkpoint_interval of activity, or longer while the
    witness cannot be reached;
  - calls that never pass through the shim: a stopped shim, an unwrapped
    client, a server run directly;
  - the link between trail and witness: a new store.id, another
    MCPGOV_MANAGED_CONFIG or a config without the witness make verify on
    this machine call the trail unwitnessed, not tampered. The witness sees
    the store fall silent; that is for the auditor to watch;
  - nothing it already sent: entries cannot be removed from an append-only
    witness. Anyone who can append to a shared witness file can add entries
    that make verify fail, not ones that make it pass.
  The verify that counts runs where the trail's owner has no control,
  against a copy of the trail:
    mcpgov audit verify ./copy --key "$(cat audit.pub)" --witness https://…

The signing key in a managed deployment
  [audit] signing_key in the managed config (made with "mcpgov audit keygen")
  keeps the key out of the store: users cannot replace it, and verify trusts
  its verifier key rather than the store's signing.pub. The shim runs as the
  user and must read the key, so the user can sign with it too: a managed
  key pins who signed, and only the witness catches a history signed again.`
