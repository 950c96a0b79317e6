package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/launch"
	"github.com/mcpgov/mcpgov/shim"
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
starting "mcpgov: audit:". Every configured bundle that loads is kept as the
last good copy ($XDG_STATE_HOME/mcpgov/bundle); when the configured bundle
later cannot be reached (a share not mounted, a sync that removed it) the
shim runs on that copy and warns. A bundle that is there but invalid
fails closed. A bundle named with --bundle is used as is.
Without any usable bundle, enforce mode starts nothing.

A Streamable HTTP upstream (--url, or a catalog entry with a url) is matched
by its canonical URL; the shim opens the server's GET stream before the
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
	return cmd
}

func shimRun(ctx context.Context, opts *ShimOptions) error {
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
	cfg, command, url := shimConfig(opts)
	cfg.Identity, cfg.IdentityErr = shimIdentityConfig(ctx, opts.Factory)
	cfg.Recorders = append(cfg.Recorders, &enforce.LogRecorder{W: opts.IO.ErrOut})
	cfg.Session = newSessionID()
	home, _ := os.UserHomeDir()
	cfg.ServerRef = serverRef(cfg, command, url, home)
	cfg.ServerRef.ConfigName = opts.Name
	defer attachShimAuditor(opts.Factory, &cfg)()
	core := enforce.New(cfg)
	// A refused server is recorded once the client said who it is.
	if refusal := core.WouldRefuse(); refusal != nil {
		_ = shim.Refuse(ctx, opts.IO.In, opts.IO.Out, refusal.Error(), func(cl audit.Client) {
			core.SetClient(cl)
			core.Admit(ctx)
		})
		return withHint(errors.New(refusal.Reason), refusal.Hint)
	}
	core.Admit(ctx) // in audit mode, records what would have been refused
	refuse := func(err error) {
		_ = shim.Refuse(ctx, opts.IO.In, opts.IO.Out, refusalError(err), func(cl audit.Client) {
			core.SetClient(cl)
			core.StartFailed(ctx, err.Error())
		})
	}
	relay := &shim.Relay{In: opts.IO.In, Out: opts.IO.Out, Stderr: opts.IO.ErrOut, Core: core}
	if url != "" {
		return shimHTTP(ctx, opts, relay, url, refuse)
	}
	if len(command) == 0 {
		err := fmt.Errorf("server %s has no stdio launch command in the catalog", opts.ID)
		refuse(err)
		return err
	}
	path, err := shim.LookCommand(command[0])
	if err != nil {
		refuse(err)
		return withHint(err, "clients started from a desktop often have a minimal PATH; use the command's absolute path")
	}
	up, err := shim.StartProcess(shim.Command{Path: path, Args: command[1:], Stderr: opts.IO.ErrOut})
	if err != nil {
		refuse(err)
		return err
	}
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

func shimHTTP(ctx context.Context, opts *ShimOptions, relay *shim.Relay, url string, refuse func(error)) error {
	headers := http.Header{}
	for _, h := range opts.Headers {
		name, value, _ := strings.Cut(h, ":") // checked in RunE
		headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
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
	up, err := shim.DialHTTP(url, headers, opts.IO.ErrOut)
	if err != nil {
		refuse(err)
		return err
	}
	err = relay.Run(ctx, up)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

func refusalError(err error) *jsonrpc.Error {
	return &jsonrpc.Error{Code: enforce.CodeServerNotApproved, Message: "mcpgov: " + err.Error()}
}

// shimConfig resolves the bundle, the catalog entry and the command line
// or URL. A bundle that cannot be loaded is put in BundleErr, so the core
// decides whether to start anyway (audit mode) and records it.
func shimConfig(opts *ShimOptions) (enforce.Config, []string, string) {
	// Launch is quoted to the client, on stderr and in records: masked by
	// scan's rules (issue 12), never the raw command line or URL.
	cfg := enforce.Config{Mode: catalog.Mode(opts.Mode), Launch: secret.MaskCommandLine(opts.Command)}
	command, url := opts.Command, opts.URL
	if url != "" {
		cfg.Launch = secret.MaskCommandLine([]string{url})
	}
	// Policies, guardrails and rate limits: a bundle whose Rego or
	// guardrails.toml is broken is no usable bundle (enforce mode then
	// starts nothing).
	var p *policy.Pipeline
	b, err := loadShimBundle(opts.Factory, opts.Bundle, func(b *catalog.Bundle) error {
		var perr error
		p, perr = shimPolicy(opts.Factory, b)
		return perr
	})
	if err != nil {
		cfg.BundleErr = err
		var hinted *HintError
		if errors.As(err, &hinted) && errors.Is(err, errNoBundleConfigured) {
			cfg.BundleErr = fmt.Errorf("%w (%s)", err, hinted.Hint)
		}
		if opts.ID != "" {
			cfg.Launch = opts.ID
		}
		return cfg, command, url
	}
	c := b.Catalog
	cfg.BundleRevision, cfg.RequestURL = b.Revision, c.Meta.RequestURL
	if cfg.Mode == "" {
		cfg.Mode = c.Meta.Mode
	}
	cfg.Server, cfg.VersionApproved = catalogEntry(c, opts.ID, opts.Server, url, command)
	switch {
	case opts.ID != "":
		cfg.Launch = opts.ID
		if s := cfg.Server; s != nil {
			if s.Launch.Command != "" {
				command = append([]string{s.Launch.Command}, s.Launch.Args...)
			}
			url = s.Launch.URL
		}
	case opts.Server != "" && cfg.Server == nil:
		cfg.Launch = opts.Server
	}
	// A bundle with no policies, guardrails or limits for this server
	// adds no hook.
	if p.Active(cfg.Server) {
		cfg.Deciders = append(cfg.Deciders, p)
		cfg.ResultFilters = append(cfg.ResultFilters, p)
		cfg.ToolReviewers = append(cfg.ToolReviewers, p)
	}
	return cfg, command, url
}

// catalogEntry is the catalog entry a shim run governs, and whether the
// version it launches is approved: the entry named by `shim ID` or
// --server, else the one the URL or command line matches by launch
// identity — never by display name. wrap predicts verdicts with it, so
// what wrap says is what the shim does.
func catalogEntry(c *catalog.Catalog, id, server, url string, command []string) (*catalog.Server, bool) {
	var m catalog.MatchResult
	ok := false
	switch {
	case id != "":
		m.Server = c.Server(id)
		return m.Server, m.Server != nil
	case server != "":
		// --server names the entry for launches whose identity cannot say
		// it; a package launch must still be an approved version of that
		// entry's package, or --server would approve any version.
		s := c.Server(server)
		if s == nil {
			return nil, false
		}
		if len(command) > 0 {
			if l := launch.Analyze(command[0], command[1:], ""); l.Ecosystem != "" {
				m, ok := (&catalog.Catalog{Servers: []*catalog.Server{s}}).Match(l)
				return s, ok && m.VersionApproved
			}
		}
		return s, true
	case url != "":
		m, ok = c.Match(launch.Analyze("", nil, url))
	case len(command) > 0:
		m, ok = c.Match(launch.Analyze(command[0], command[1:], ""))
	}
	if !ok {
		return nil, false
	}
	return m.Server, m.VersionApproved
}

// newSessionID names one shim run (one client connection) in records.
func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serverRef names the upstream for records: the catalog entry, the
// transport and the launch identity (secrets masked by the scanner's
// rules, never the raw command line).
func serverRef(cfg enforce.Config, command []string, url, home string) audit.ServerRef {
	ref := audit.ServerRef{Transport: "stdio"}
	if cfg.Server != nil {
		ref.ID, ref.Name = cfg.Server.ID, cfg.Server.Title
	}
	switch {
	case url != "":
		ref.Transport = "http"
		ref.Launch = launch.Identity("", nil, url, home)
	case len(command) > 0:
		ref.Launch = launch.Identity(command[0], command[1:], "", home)
	}
	return ref
}
