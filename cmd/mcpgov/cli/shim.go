package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/shim"
	"github.com/mcpgov/mcpgov/shim/creds"
)

// ShimOptions are the inputs of `mcpgov shim`.
type ShimOptions struct {
	IO      *IOStreams
	Factory *Factory

	Bundle  string
	Server  string
	Name    string // the entry's name in the client's config, for records
	Mode    string
	URL     string
	Headers []string
	ID      string   // `mcpgov shim ID`
	Command []string // after --
	// SecretEnv are NAME=REF: the server's variable NAME gets the secret
	// REF references (what `mcpgov wrap --move-secrets` writes).
	SecretEnv []string
	// SecretArgs are N=REF: the secret REF references is appended to the
	// server's argument N (what `mcpgov wrap --move-secrets` writes for a
	// secret it took out of an argument).
	SecretArgs []string
	// SecretHeaders are NAME=REF: the HTTP header NAME for --url gets the
	// secret REF references; SecretQuery are NAME=REF: it fills the empty
	// value of the URL's query parameter NAME; SecretUserinfo is the REF
	// of the URL's user:password (what wrap --move-secrets writes for a
	// remote entry).
	SecretHeaders  []string
	SecretQuery    []string
	SecretUserinfo string
	// SecretBearer is the REF of the token sent as "Authorization: Bearer
	// TOKEN" (what wrap writes for Codex's bearer_token_env_var).
	SecretBearer string
	// SecretOrigin is the origin (scheme://host:port) wrap took the
	// secrets above from; they go to no other (empty: an entry wrapped
	// before origins were recorded, --url's own, unchecked).
	SecretOrigin string
	// OAuth client of --url, for a server that asks for a bearer token.
	OAuthClientID          string
	OAuthClientSecret      string // a secret reference
	OAuthClientMetadataURL string
	OAuthIssuer            string
	OAuthScopes            string // space-separated
	NoBrowser              bool
	OAuthConsentTTL        time.Duration
}

func newShimCmd(f *Factory, runF func(context.Context, *ShimOptions) error) *cobra.Command {
	opts := &ShimOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "shim [flags] -- COMMAND [ARG...] | shim ID | shim --url URL",
		GroupID: "enforce",
		Short:   "Run an MCP server through mcpgov's governance (what wrapped client configs launch)",
		Long: `Relay an MCP client's stdio connection to an upstream MCP server, enforcing
the catalog. Clients launch it in place of the server (see "mcpgov wrap"):

  mcpgov shim -- npx -y @modelcontextprotocol/server-everything stdio
  mcpgov shim everything        (launch parameters from the catalog)
  mcpgov shim --url https://mcp.example.com/mcp   (Streamable HTTP)

Every message passes through unchanged except what is governed:
  - a server that is not in the catalog, pending, blocked or of an unapproved
    version is not started; every request, initialize first, gets an error
    saying why and where to request approval (catalog request_url);
  - tools outside the entry's allow/deny lists are removed from tools/list and
    refused on tools/call with "Unknown tool";
  - a tool whose definition no longer matches its pinned fingerprint is hidden;
  - the client is sent notifications/tools/list_changed when what it may see
    changes.

Without --server the catalog entry is found by the command's launch identity
(package and version, or command line). With --mode audit nothing is blocked
and every decision that would have blocked is written to stderr as a line
starting "mcpgov: warning: audit mode: would have". Every configured bundle that loads is kept as the
last good copy ($XDG_STATE_HOME/mcpgov/bundle); when the configured bundle
later cannot be reached (a share not mounted, a sync that removed it) the
shim runs on that copy and warns. A bundle that is there but invalid
fails closed. A bundle named with --bundle is used as is.
Without any usable bundle, enforce mode starts nothing.

A Streamable HTTP upstream (--url, or a catalog entry with a url) is matched
by its canonical URL. When it answers 401 with a Bearer challenge and no
credentials are configured for it, the shim is its OAuth client, as
mcp-remote is: it finds the authorization server from the server's
protected-resource metadata, registers itself (or uses --oauth-client-id,
or the --oauth-client-metadata-url document), and runs the consent with
PKCE and a loopback redirect. It opens the browser and sends the call again
once consent is given; where it cannot open one (--no-browser, SSH, no
display) the call is answered with the consent link (a URL-mode
elicitation, or a tool error) and the call retried after consent works.
The link's redirect endpoint outlives the shim: a helper process in a
session of its own answers it if the client stops or kills the shim
first, until the consent is given or expires (--oauth-consent-ttl).
The grant is kept in the OS keyring and refreshed when it expires; a token
the server stops taking is refreshed, and a refused refresh leads to a new
consent. MCPGOV_BROWSER names a command that opens the link instead.
The shim opens the server's GET stream before the
client sees the initialize result, sends MCP-Protocol-Version, and starts a
new session with the client's initialize when the server forgets it (404).

Stdout carries the MCP protocol only; the server's stderr and mcpgov's
diagnostics go to stderr. When the client closes stdin the server's stdin is
closed, then it gets SIGTERM and SIGKILL (its whole process group); when the
server exits first, pending requests get errors and mcpgov exits 1.`,
		Example: `  mcpgov shim -- npx -y @modelcontextprotocol/server-everything stdio
  mcpgov shim --bundle ./governance --mode audit -- uvx mcp-server-fetch
  mcpgov shim everything`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.URL != "" {
				if len(args) > 0 {
					return flagErrorf("--url names the server; no command or ID")
				}
			} else if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash > 0 {
					return flagErrorf("unexpected argument %q before --", args[0])
				}
				opts.Command = args
				if len(opts.Command) == 0 {
					return flagErrorf("no command after --")
				}
			} else if len(args) == 1 {
				opts.ID = args[0]
			} else {
				return flagErrorf("give the server as ID, its command after --, or --url")
			}
			for _, h := range opts.Headers {
				if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
					return flagErrorf("invalid --header %q: want \"Name: value\"", h)
				}
			}
			if opts.ID != "" && opts.Server != "" {
				return flagErrorf("--server is for the -- COMMAND form; `mcpgov shim ID` names the server already")
			}
			switch opts.Mode {
			case "", string(catalog.ModeEnforce), string(catalog.ModeAudit):
			default:
				return flagErrorf("invalid --mode %q: want enforce or audit", opts.Mode)
			}
			if opts.URL == "" && (opts.OAuthClientID != "" || opts.OAuthClientSecret != "" || opts.OAuthIssuer != "" || opts.OAuthClientMetadataURL != "" || opts.OAuthScopes != "" || opts.OAuthConsentTTL != 0) {
				return flagErrorf("the --oauth-* flags are for --url")
			}
			if opts.OAuthConsentTTL != 0 && (opts.OAuthConsentTTL < time.Second || opts.OAuthConsentTTL > oauthuser.DefaultConsentTTL) {
				return flagErrorf("invalid --oauth-consent-ttl %s: want from 1s to %s", opts.OAuthConsentTTL, oauthuser.DefaultConsentTTL)
			}
			if opts.OAuthClientSecret != "" {
				if _, err := secretref.Parse(opts.OAuthClientSecret); err != nil {
					return flagErrorf("invalid --oauth-client-secret: want a secret reference (env:NAME, file:PATH, keyring:SERVICE/USER), never the secret itself")
				}
				if opts.OAuthIssuer == "" {
					// Else the server's metadata would choose where the
					// secret (and the grant's refresh token) goes.
					return flagErrorf("--oauth-client-secret needs --oauth-issuer: the secret goes only to the authorization server the client is registered at, never to one the --url server's metadata names; add --oauth-issuer ISSUER_URL")
				}
			}
			if opts.OAuthIssuer != "" && !strings.HasPrefix(opts.OAuthIssuer, "https://") && !strings.HasPrefix(opts.OAuthIssuer, "http://") {
				return flagErrorf("invalid --oauth-issuer %q: want the authorization server's issuer URL (https://…)", opts.OAuthIssuer)
			}
			for _, spec := range opts.SecretEnv {
				name, ref, ok := strings.Cut(spec, "=")
				if _, err := secretref.Parse(ref); !ok || name == "" || err != nil {
					return flagErrorf("invalid --secret-env %q: want NAME=REF, REF a secret reference (vault:…, env:…, file:…, keyring:…)", name)
				}
			}
			for _, spec := range opts.SecretArgs {
				n, ref, ok := strings.Cut(spec, "=")
				i, nerr := strconv.Atoi(n)
				if _, err := secretref.Parse(ref); !ok || nerr != nil || i < 0 || err != nil {
					return flagErrorf("invalid --secret-arg %q: want N=REF, N the argument's index after the command (0 is the first), REF a secret reference (vault:…, env:…, file:…, keyring:…)", n)
				}
			}
			for flag, specs := range map[string][]string{"--secret-header": opts.SecretHeaders, "--secret-query": opts.SecretQuery} {
				for _, spec := range specs {
					name, ref, ok := strings.Cut(spec, "=")
					if _, err := secretref.Parse(ref); !ok || name == "" || err != nil {
						return flagErrorf("invalid %s %q: want NAME=REF, REF a secret reference (vault:…, env:…, file:…, keyring:…)", flag, name)
					}
				}
			}
			if opts.SecretUserinfo != "" {
				if _, err := secretref.Parse(opts.SecretUserinfo); err != nil {
					return flagErrorf("invalid --secret-userinfo: want REF, a secret reference (vault:…, env:…, file:…, keyring:…)")
				}
			}
			if opts.SecretBearer != "" {
				if _, err := secretref.Parse(opts.SecretBearer); err != nil {
					return flagErrorf("invalid --secret-bearer: want REF, a secret reference (env:NAME, vault:…, file:…, keyring:…)")
				}
			}
			if opts.SecretOrigin != "" {
				if len(opts.SecretHeaders) == 0 && len(opts.SecretQuery) == 0 && opts.SecretUserinfo == "" && opts.SecretBearer == "" {
					return flagErrorf("--secret-origin is for --secret-header, --secret-bearer, --secret-query and --secret-userinfo: it names the origin their secrets were taken from")
				}
				if err := creds.ValidOrigin(opts.SecretOrigin); err != nil {
					return flagErrorf("invalid --secret-origin %q: %v; want scheme://host:port, as wrap --move-secrets writes it", opts.SecretOrigin, err)
				}
			}
			if (len(opts.SecretHeaders) > 0 || len(opts.SecretQuery) > 0 || opts.SecretUserinfo != "" || opts.SecretBearer != "") && opts.URL == "" {
				return flagErrorf("--secret-header, --secret-bearer, --secret-query and --secret-userinfo are for --url: they put a secret back into its requests")
			}
			if len(opts.SecretArgs) > 0 && len(opts.Command) == 0 {
				return flagErrorf("--secret-arg is for the -- COMMAND form: it puts a secret back into one of its arguments")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return shimRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().StringVar(&opts.Server, "server", "", "catalog ID of the server the command runs (default: found by launch identity)")
	cmd.Flags().StringVar(&opts.Name, "name", "", "the server's name in the client's config, kept in audit records (wrap sets it)")
	cmd.Flags().StringVar(&opts.Mode, "mode", "", "enforce or audit (default: the catalog's mode)")
	cmd.Flags().StringVar(&opts.URL, "url", "", "Streamable HTTP upstream (a remote server or the gateway)")
	cmd.Flags().StringArrayVar(&opts.Headers, "header", nil, `HTTP header "Name: value" for --url (repeatable)`)
	cmd.Flags().StringVar(&opts.OAuthClientID, "oauth-client-id", "", "OAuth client id of mcpgov at the --url server's authorization server (default: register dynamically)")
	cmd.Flags().StringVar(&opts.OAuthClientSecret, "oauth-client-secret", "", "secret reference (env:, file:, keyring:) of the --oauth-client-id's secret")
	cmd.Flags().StringVar(&opts.OAuthIssuer, "oauth-issuer", "", "issuer URL of the authorization server the --oauth-client-id is registered at, pinned instead of the one the --url server's metadata names (required with --oauth-client-secret)")
	cmd.Flags().StringVar(&opts.OAuthClientMetadataURL, "oauth-client-metadata-url", "", "https URL of mcpgov's client metadata document, the client id where the authorization server supports them")
	cmd.Flags().StringVar(&opts.OAuthScopes, "oauth-scopes", "", `scopes to ask the --url server's authorization server for, space-separated (default: the server's challenge, else its metadata's)`)
	cmd.Flags().DurationVar(&opts.OAuthConsentTTL, "oauth-consent-ttl", 0, "how long a --url server's consent link works, up to 10m (default 10m)")
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "never open a browser for a --url server's consent; the link goes to the MCP client")
	cmd.Flags().StringArrayVar(&opts.SecretEnv, "secret-env", nil, "set the server's variable NAME to the secret REF references: NAME=REF (repeatable; wrap --move-secrets writes it)")
	cmd.Flags().StringArrayVar(&opts.SecretHeaders, "secret-header", nil, "send the secret REF references as the HTTP header NAME for --url: NAME=REF (repeatable; wrap --move-secrets writes it)")
	cmd.Flags().StringArrayVar(&opts.SecretQuery, "secret-query", nil, "fill the empty query parameter NAME of --url with the secret REF references: NAME=REF (repeatable; wrap --move-secrets writes it)")
	cmd.Flags().StringVar(&opts.SecretOrigin, "secret-origin", "", "send the secrets of --secret-header, --secret-bearer, --secret-query and --secret-userinfo only when --url's origin is this scheme://host:port (wrap --move-secrets writes it)")
	cmd.Flags().StringVar(&opts.SecretBearer, "secret-bearer", "", `send the secret REF references as "Authorization: Bearer TOKEN" to --url (wrap writes it for Codex's bearer_token_env_var)`)
	cmd.Flags().StringVar(&opts.SecretUserinfo, "secret-userinfo", "", "put the user:password the secret REF references back into --url (wrap --move-secrets writes it)")
	cmd.Flags().StringArrayVar(&opts.SecretArgs, "secret-arg", nil, "append the secret REF references to the server's argument N (0 is the first after the command): N=REF (repeatable; wrap --move-secrets writes it)")
	return cmd
}

// shimGCPercent is the shim's GOGC unless the environment sets one: a
// shim lives as long as its client's session with a heap of a few MB, one
// per wrapped server of every client, so its memory counts more than the
// CPU of collecting a small heap more often. Measured on a shim serving
// 300 echo calls: peak RSS 0.6 MB lower than at the default 100 without
// guardrails, 1.3 MB with every guardrail; 25 and 10 saved no more.
const shimGCPercent = 50

// shimProcs sets how many threads run the shim's Go code at once, unless
// the environment sets GOMAXPROCS: one while it relays a stdio server for
// a core whose calls never wait on the network or the disk (no remote
// guardrail detector, audit durability write), else the runtime's
// default. Both pumps then read in blocking read(2) calls
// (shim.Command.BlockingRead), so nothing on a call's path goes through
// the runtime's poller, and one P spares the wake-ups of idle threads
// looking for work. Measured end to end (BenchmarkEchoRounds
// approved-write-vs-baseline, both orders): about a tenth less CPU per
// call and 1.3 MB less peak RSS, latency not worse. With one P held by a
// pump's blocking read, the poller is reached only by the runtime's
// monitor, up to 10 ms later: a remote detector's answer would wait that
// long, hence the default for a core that may block.
// mayBlocker is what shimProcs asks of the core in force (enforce.Core,
// reached through policy/govern: the CLI does not build cores itself).
type mayBlocker interface{ MayBlock() bool }

func shimProcs(f *Factory, core mayBlocker) {
	if f.Getenv("GOMAXPROCS") != "" {
		return
	}
	if core != nil && core.MayBlock() {
		runtime.SetDefaultGOMAXPROCS()
		return
	}
	runtime.GOMAXPROCS(1)
}

func shimRun(ctx context.Context, opts *ShimOptions) error {
	if opts.Factory.Getenv("GOGC") == "" {
		debug.SetGCPercent(shimGCPercent)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A client that goes away must not kill us with SIGPIPE before the
	// upstream is shut down: writes then fail with EPIPE instead. (Notify,
	// not Ignore: an ignored signal would be inherited by the server.)
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	if opts.IO.IsStdinTTY() {
		// Someone typed `mcpgov shim` by hand: what they type next would
		// only get JSON-RPC parse errors back.
		fmt.Fprintln(opts.IO.ErrOut, "mcpgov: hint: the shim speaks MCP (JSON-RPC, one message per line) on stdin and stdout; an MCP client starts it. Run `mcpgov wrap` to make your clients start servers through it, or `mcpgov scan` to list them")
	}
	eng := govern.Build(ctx, shimGovernOptions(opts))
	defer func() { _ = eng.Close() }()
	for _, n := range eng.Notices {
		printNotice(opts.IO, n)
	}
	core := eng.NewCore()
	// A refused server is recorded once the client said who it is.
	if refusal := core.WouldRefuse(); refusal != nil {
		// A bundle that does not load knows the better remedy (`mcpgov
		// catalog validate DIR`, how to configure one): the client's
		// error and the shim's hint say it.
		var hinted *govern.HintError
		if refusal.Rule == "bundle-unavailable" && errors.As(eng.Config.BundleErr, &hinted) {
			refusal.Hint = hinted.Hint
		}
		_ = shim.Refuse(ctx, opts.IO.In, opts.IO.Out, refusal.Error(), func(cl audit.Client) {
			core.SetClient(cl)
			core.Admit(ctx)
		})
		return withHint(errors.New(refusal.Reason), refusal.Hint)
	}
	core.Admit(ctx) // in audit mode, records what would have been refused
	refuse := func(err error) {
		_ = shim.Refuse(ctx, opts.IO.In, opts.IO.Out, govern.RefusalError(err), func(cl audit.Client) {
			core.SetClient(cl)
			core.StartFailed(ctx, err.Error())
		})
	}
	relay := &shim.Relay{In: opts.IO.In, Out: opts.IO.Out, Stderr: opts.IO.ErrOut, Core: core}
	// procs applies shimProcs for the core in force once a stdio server
	// runs and when the client's streams are in blocking mode too (a
	// client may hand over non-blocking ones, read through the poller);
	// under procsMu, so that the last one applied is for the latest core.
	var procsMu sync.Mutex
	stdio := false
	procs := func(start bool) {
		procsMu.Lock()
		defer procsMu.Unlock()
		stdio = stdio || start && shim.Blocking(opts.IO.In, opts.IO.Out)
		if stdio {
			if core := relay.CurrentCore(); core != nil {
				shimProcs(opts.Factory, core)
			} else {
				shimProcs(opts.Factory, nil)
			}
		}
	}
	// A changed bundle governs every new call of this connection: catalog
	// entry, policies, guardrails and revision together.
	go eng.Watch(ctx, govern.WatchOptions{Notify: func(n govern.Notice) { printNotice(opts.IO, n) }},
		govern.ApplyCores(relay.Reload).Then(func() { procs(false) }))
	if url := eng.URL; url != "" {
		cred, err := eng.Credentials(ctx, opts.Factory.Secrets(), false)
		if err != nil {
			refuse(err)
			return credentialsError(err)
		}
		return shimHTTP(ctx, opts, eng, relay, url, cred, refuse)
	}
	command := eng.Command
	if len(command) == 0 {
		err := fmt.Errorf("server %s has no stdio launch command in the catalog", opts.ID)
		refuse(err)
		return err
	}
	path, err := shim.LookCommand(command[0], opts.Factory.Getenv("PATH"))
	if err != nil {
		refuse(err)
		return withHint(err, "clients started from a desktop often have a minimal PATH; use the command's absolute path")
	}
	cred, err := eng.Credentials(ctx, opts.Factory.Secrets(), true)
	if err != nil {
		refuse(err)
		return credentialsError(err)
	}
	moved, err := eng.SecretEnv(ctx, opts.Factory.Secrets(), opts.SecretEnv)
	if err != nil {
		refuse(err)
		return withHint(err, "the config's secret was moved to the vault by mcpgov wrap --move-secrets; mcpgov unwrap puts it back")
	}
	cred.Env = append(moved, cred.Env...)
	args := command[1:]
	if len(opts.SecretArgs) > 0 {
		resolved, err := eng.SecretEnv(ctx, opts.Factory.Secrets(), opts.SecretArgs)
		if err == nil {
			args, err = creds.AppendArgs(args, resolved)
		} else if inner := errors.Unwrap(err); inner != nil {
			err = fmt.Errorf("--secret-arg %s: %w", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "--secret-env "), ": "+inner.Error()), inner)
		}
		if err != nil {
			refuse(err)
			return withHint(err, "the config's secret was moved to the vault by mcpgov wrap --move-secrets; mcpgov unwrap puts it back")
		}
	}
	up, err := shim.StartProcess(shim.Command{Path: path, Args: args, ExtraEnv: cred.Env, Stderr: opts.IO.ErrOut, BlockingRead: true})
	if err != nil {
		refuse(err)
		return err
	}
	procs(true)
	err = relay.Run(ctx, up)
	if errors.Is(err, shim.ErrUpstreamExited) {
		if exit := up.ExitErr(); exit != nil {
			return fmt.Errorf("%w (%v)", shim.ErrUpstreamExited, exit)
		}
		return shim.ErrUpstreamExited
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted; upstream MCP server stopped")
	}
	return err
}

// shimGovernOptions is what govern assembles the shim's governance from:
// the flags, the configs, the local login and stderr for the event log.
func shimGovernOptions(opts *ShimOptions) govern.Options {
	f := opts.Factory
	c, cerr := f.Config()
	return govern.Options{
		Env: f.Env(), Configs: c, ConfigErr: cerr,
		Bundle: opts.Bundle, ID: opts.ID, Server: opts.Server, Name: opts.Name, Mode: catalog.Mode(opts.Mode),
		Command: opts.Command, URL: opts.URL,
		Identity:  &govern.LocalLogin{Env: f.Env(), Configs: c, Secrets: f.Secrets()},
		Log:       opts.IO.ErrOut,
		AuditWarn: func(msg string) { fmt.Fprintf(opts.IO.ErrOut, "mcpgov: warning: %s\n", msg) },
	}
}

// printNotice shows what govern wants a person to know, on stderr.
func printNotice(io *IOStreams, n govern.Notice) {
	fmt.Fprintf(io.ErrOut, "mcpgov: %s: %s\n", n.Kind, n.Text)
}

// credentialsError adds the remedy a credentials refusal carries.
func credentialsError(err error) error {
	var ce *creds.Error
	if errors.As(err, &ce) && ce.Hint != "" {
		return withHint(err, ce.Hint)
	}
	return err
}

func shimHTTP(ctx context.Context, opts *ShimOptions, eng *govern.Engine, relay *shim.Relay, url string, cred shim.Credentials, refuse func(error)) error {
	headers := http.Header{}
	for _, h := range opts.Headers {
		name, value, _ := strings.Cut(h, ":") // checked in RunE
		headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	dial, err := shimMovedHTTP(ctx, opts, eng, url, headers)
	if errors.Is(err, creds.ErrOrigin) {
		refuse(err)
		return withHint(err, "if the server really moved, run mcpgov unwrap, then mcpgov wrap --move-secrets on the entry with its new URL; else put the entry's --url back")
	}
	if err != nil {
		refuse(err)
		return withHint(err, "the config's secret was moved to the vault by mcpgov wrap --move-secrets; mcpgov unwrap puts it back")
	}
	// The user's access token goes to the configured gateway only.
	auth, err := shimUpstreamHeaders(ctx, opts.Factory, url)
	if err != nil {
		refuse(err)
		return err
	}
	if headers.Get("Authorization") == "" && auth != nil {
		headers.Set("Authorization", auth.Get("Authorization"))
	}
	up, err := shim.DialHTTPWith(dial, headers, cred, opts.IO.ErrOut)
	if err != nil {
		refuse(err)
		return err
	}
	if headers.Get("Authorization") == "" && cred.Apply == nil {
		// No token of the user's login, no configured credentials: a
		// server that asks for one gets mcpgov's own OAuth client.
		id, server := eng.OAuthRecordsAs()
		remote, err := shimRemote(ctx, opts, url, eng.OAuthSink())
		if err != nil {
			refuse(err)
			return err
		}
		if remote.NoKeyring == "" {
			// A consent whose link goes to the client outlives this
			// shim: its grant lands in the keyring all the same.
			remote.Keep = shimKeeper(opts.Factory, id, server)
		}
		defer remote.Close()
		defer remote.Linger(ctx)
		up.WithAuthorizer(remote)
	}
	err = relay.Run(ctx, up)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

// shimMovedHTTP puts back what wrap --move-secrets took out of a remote
// entry: secret headers into headers, and query values and the user into
// the URL it returns (url itself, the one governance matched, holds none).
func shimMovedHTTP(ctx context.Context, opts *ShimOptions, eng *govern.Engine, url string, headers http.Header) (string, error) {
	if len(opts.SecretHeaders) == 0 && len(opts.SecretQuery) == 0 && opts.SecretUserinfo == "" && opts.SecretBearer == "" {
		return url, nil
	}
	if err := creds.CheckOrigin(opts.SecretOrigin, url); err != nil {
		return "", err
	}
	resolve := func(flag string, specs []string) ([]string, error) {
		out, err := eng.SecretEnv(ctx, opts.Factory.Secrets(), specs)
		if inner := errors.Unwrap(err); err != nil && inner != nil {
			name := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "--secret-env "), ": "+inner.Error())
			return nil, fmt.Errorf("%s %s: %w", flag, name, inner)
		}
		return out, err
	}
	hs, err := resolve("--secret-header", opts.SecretHeaders)
	if err != nil {
		return "", err
	}
	for _, h := range hs {
		name, value, _ := strings.Cut(h, "=")
		headers.Set(name, value)
	}
	if opts.SecretBearer != "" {
		b, err := resolve("--secret-bearer", []string{"bearer=" + opts.SecretBearer})
		if err != nil {
			return "", err
		}
		_, tok, _ := strings.Cut(b[0], "=")
		headers.Set("Authorization", "Bearer "+tok)
	}
	qs, err := resolve("--secret-query", opts.SecretQuery)
	if err != nil {
		return "", err
	}
	var userinfo string
	if opts.SecretUserinfo != "" {
		u, err := resolve("--secret-userinfo", []string{"userinfo=" + opts.SecretUserinfo})
		if err != nil {
			return "", err
		}
		_, userinfo, _ = strings.Cut(u[0], "=")
	}
	return creds.FillURL(url, qs, userinfo)
}

// shimUpstreamHeaders is the local login's Authorization header for an
// HTTP upstream (govern.LocalLogin.UpstreamHeaders), with a login failure
// made an AuthError (exit 4).
func shimUpstreamHeaders(ctx context.Context, f *Factory, url string) (http.Header, error) {
	l, err := f.localLogin()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	h, err := l.UpstreamHeaders(ctx, url)
	var le *govern.LoginError
	switch {
	case err == nil:
		return h, nil
	case errors.As(err, &le):
		if le.NeedsLogin {
			return nil, &AuthError{Err: err}
		}
		return nil, err
	}
	ls, _ := l.Settings()
	return nil, loginError(err, ls.Profile)
}
