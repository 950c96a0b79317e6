package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

func newGatewayCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "gateway <command>",
		GroupID: "enforce",
		Short:   "Serve the catalog's MCP servers over Streamable HTTP, governed (the central gateway)",
		Long: `The gateway is the shim's engine behind a network endpoint, for agents, CI
jobs and remote clients that do not launch a local shim: every call through it
is governed by the same catalog, policies, guardrails and audit trail.`,
		Example: `  mcpgov gateway serve --bundle ./governance --allow-anonymous`,
	}
	cmd.AddCommand(newGatewayServeCmd(f, nil))
	cmd.AddCommand(newGatewayTokenCmd(f))
	cmd.AddCommand(newGatewayCredsCmd(f))
	cmd.AddCommand(newGatewayInventoryCmd(f, nil))
	return cmd
}

// GatewayServeOptions are the inputs of `mcpgov gateway serve`.
type GatewayServeOptions struct {
	IO      *IOStreams
	Factory *Factory

	Bundle         string
	Listen         string
	AllowAnonymous bool
	AllowedOrigins []string
	MaxBody        int64
	MaxSessions    int
	IdleTimeout    time.Duration
	InputTimeout   time.Duration
	TLSCert        string
	TLSKey         string
	LogFormat      string
	DrainTimeout   time.Duration
	Store          string
	StoreDown      string
	// InventoryReaders are the groups that may read the fleet inventory
	// over HTTP ([gateway] inventory_readers).
	InventoryReaders []string
	// MetricsListen, when set, is the only address /metrics is served on.
	MetricsListen string
	// OTLPTraces, when set, is the OTLP/HTTP endpoint spans go to.
	OTLPTraces string
	// PublicURL is the gateway's URL as browsers reach it (per-user OAuth
	// consent returns there); its listen address when empty.
	PublicURL string
	// Consent is the gateway's OpenID client that signs a person in
	// before they consent ([gateway] consent_*); zero when unset.
	Consent govern.ConsentSignin
	// TrustedProxy are the peers whose X-Forwarded-For names the client
	// (--trusted-proxy, [gateway] trusted_proxies); trustedProxies, read.
	TrustedProxy   []string
	trustedProxies []netip.Prefix
	// AdvertiseURL is this replica's own URL as the other replicas reach
	// it (--advertise-url, [gateway] advertise_url); normalized.
	AdvertiseURL string
	// ReplicaCert and ReplicaKey are the client certificate presented to
	// the other replicas over https (--replica-cert, [gateway]
	// replica_cert); TLSCert and TLSKey when empty.
	ReplicaCert, ReplicaKey string
	// replicaCert is presented when a retry is forwarded over https,
	// and replicaCAs are the issuers accepted from the others (replicaTLS).
	replicaCert *tls.Certificate
	replicaCAs  *x509.CertPool
	// Set names the flags given on the command line: they override the
	// [gateway] config, which overrides the flags' defaults.
	Set map[string]bool
}

func newGatewayServeCmd(f *Factory, runF func(context.Context, *GatewayServeOptions) error) *cobra.Command {
	opts := &GatewayServeOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "serve [--bundle DIR] [--listen ADDR] [--tls-cert F --tls-key F] [--allow-anonymous]",
		Short: "Serve MCP Streamable HTTP endpoints for the catalog's servers",
		Long: `Serve the catalog's approved servers over MCP Streamable HTTP (protocol
2025-06-18 and 2025-11-25):

  /servers/ID/mcp   one catalog server (proxy): a remote server reached at its
                    url, or a stdio server the gateway launches, one process
                    per MCP session
  /mcp              every approved server as one, tools named server__tool
  /virtual/ID/mcp   a virtual server of the catalog: exactly its tools
  /inventory        the fleet inventory: machines upload their scans (POST,
                    mcpgov scan --upload); the groups in [gateway]
                    inventory_readers read it (GET)
  /healthz /readyz  liveness, readiness (a usable bundle; 503 while draining,
                    and with --store until the store has answered once)
  /metrics          Prometheus: calls, denials, guardrail verdicts and
                    durations, upstream and policy latency per server and
                    tool (counted from the audit records), HTTP requests,
                    open sessions; with --metrics-listen only on that
                    address (keep it private)

With --otlp-traces URL (or [gateway] otlp_traces) every MCP message POSTed
is a span sent to that OTLP/HTTP endpoint, named and described as the
OpenTelemetry conventions for MCP say ("tools/call add": mcp.method.name,
jsonrpc.request.id, gen_ai.tool.name, mcp.session.id as in the records),
with the catalog server, the decision, its rule ids and the audit record's
id, and two children: the policy decision and the upstream round trip. A
request's traceparent header makes it a child of the caller's span. Spans
carry no argument, result, reason or personal value; a queue that is full
drops spans (counted in /metrics) rather than slow a call.

A POST carries one JSON-RPC message and is answered as a stream
(text/event-stream) when the client accepts one, else as application/json;
notifications and answers get 202. initialize opens a session
(Mcp-Session-Id), GET opens its stream of the servers' own messages, DELETE
ends it. A request whose Origin is not the gateway's own (or one of
--allowed-origin) is refused, and so is a Host other than loopback on a
loopback address (DNS rebinding).

Every request must carry "Authorization: Bearer TOKEN": a JWT of one of the
identity providers in config.toml ([[gateway.issuers]]: signature against
the provider's keys, issuer, audience, expiry; groups from the provider's
claim), or a personal or service token made by "mcpgov gateway token
create". A request without a valid one gets 401 with a WWW-Authenticate
challenge naming the OAuth protected-resource metadata (RFC 9728) at
/.well-known/oauth-protected-resource, which lists the providers; an
address with too many failures in a row gets 429 for a while
([gateway] auth_failures). Records carry the verified identity (method
jwt, pat or service). The gateway refuses to start when nobody could
authenticate (no provider, no live token) unless --allow-anonymous says
that callers without a token are served as "anonymous" (local trials,
conformance runs); records then name the method "anonymous".

Groups decide what a caller may use: a catalog server with groups is
served only to members (/mcp leaves it out, /servers/ID/mcp answers 403),
and [servers.ID.tools] groups limit single tools the same way (hidden,
refused as "Unknown tool", recorded).

Settings come from the [gateway] table of config.toml (mcpgov help config);
a flag given overrides its key. With --tls-cert and --tls-key (or tls_cert
and tls_key) the gateway serves HTTPS only.

The bundle is watched: a changed bundle is loaded and its signature checked
and, when usable, governs every open session's new calls (its clients get
notifications/tools/list_changed) and every new session; a session of a
server the new bundle refuses ends. A changed bundle that cannot be used
leaves the last good one serving; the log and /readyz say why.

Audit logging per request: with [audit] logging = "header_controlled", a
request's X-Mcpgov-Logging header (on or off) says whether the calls it
carries are logged in full or as placeholders, and a call's _meta
"io.mcpgov/logging" wins over it; under always and never the header changes
nothing, so no request is logged beyond what the configuration permits.

Stdout carries nothing; diagnostics and one line per blocked call go to
stderr, as text lines or, with --log-format json, one JSON object per line.
SIGINT or SIGTERM drains: new requests get 503 and /readyz fails while the
calls in flight finish and are recorded, calls waiting for their client's
input among them (their retries and answers are still taken), up to
--drain-timeout; a call still waiting then is cancelled and recorded as
cancelled by the drain. Then every session ends.`,
		Example: `  mcpgov gateway serve --bundle ./governance --listen 127.0.0.1:8080 --allow-anonymous`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.MaxBody < 0 {
				return flagErrorf("invalid --max-body %d: want a size in bytes", opts.MaxBody)
			}
			opts.Set = map[string]bool{}
			cmd.Flags().Visit(func(fl *pflag.Flag) { opts.Set[fl.Name] = true })
			if err := checkGatewayFlags(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return gatewayServeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().BoolVar(&opts.AllowAnonymous, "allow-anonymous", false, "serve callers without a token, as \"anonymous\" (local trials)")
	cmd.Flags().StringArrayVar(&opts.AllowedOrigins, "allowed-origin", nil, "Origin a browser client may call from (repeatable; default: same origin only)")
	cmd.Flags().Int64Var(&opts.MaxBody, "max-body", gateway.DefaultMaxBody, "largest POST body in bytes")
	addGatewayServeFlags(cmd, opts)
	addGatewayStoreFlags(cmd, opts)
	return cmd
}

func gatewayServeRun(ctx context.Context, opts *GatewayServeOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.LogFormat == "json" {
		// Every stderr line from here on, the final error included.
		opts.IO.ErrOut = newJSONLog(opts.IO.ErrOut)
	}
	errOut := opts.IO.ErrOut
	f := opts.Factory
	c, err := f.Config()
	if err != nil {
		return err
	}
	if err := resolveGatewaySettings(opts, c); err != nil {
		return err
	}
	shared, err := openGatewayStore(opts, c)
	if err != nil {
		return err
	}
	if shared != nil {
		defer shared.Close()
	}
	if err := checkAdvertiseStore(opts, shared != nil); err != nil {
		return err
	}
	auth, authCfg, err := govern.NewReplicaAuthenticator(ctx, f.Env(), c, opts.AllowAnonymous, shared.TokenStore())
	if err != nil {
		return err
	}
	gov, notices, err := govern.NewReplicaGovernance(f.Env(), c, opts.Bundle, errOut, func(msg string) { opts.IO.Warnf("%s", msg) }, shared)
	if err != nil {
		return err
	}
	defer gov.Close()
	metrics := gateway.NewMetrics()
	gov.WrapSink = metrics.Sink
	gov.Creds = govern.NewReplicaInjector(ctx, f.Env(), f.Secrets(), govern.CredentialRecorder(gov.Store(), govern.NoActor), shared)
	tracing, stopTraces, err := startTracing(opts, metrics)
	if err != nil {
		return err
	}
	defer stopTraces()
	if tracing != nil {
		gov.WrapSink = tracing.Around(metrics.Sink)
	}
	for _, n := range notices {
		printNotice(opts.IO, n)
	}
	if opts.AllowAnonymous {
		opts.IO.Warnf("--allow-anonymous: callers without a token are served and recorded as \"anonymous\"")
	}
	var idps []string
	for _, is := range authCfg.Issuers {
		idps = append(idps, is.URL)
	}
	if len(idps) > 0 {
		opts.IO.Notef("accepting JWTs of %s (audience checked), and tokens from `mcpgov gateway token create`", strings.Join(idps, ", "))
	} else {
		opts.IO.Notef("accepting tokens from `mcpgov gateway token create` (no identity provider in [[gateway.issuers]])")
	}
	inventory, err := shared.FleetStore(f.Env())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", opts.Listen, err), "pick a free address with --listen")
	}
	defer ln.Close()
	publicURL := opts.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
		if opts.TLSCert != "" {
			publicURL = "https://" + ln.Addr().String()
		}
	}
	consents, err := gov.OAuthUsers(ctx, f.Env(), publicURL)
	if err != nil {
		return err
	}
	var callback http.Handler
	if consents != nil {
		gov.Creds.OAuthUsers = consents
		person, err := gov.CheckConsentPerson(ctx, consents, opts.Consent, publicURL)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle(gateway.OAuthCallbackPath, consents.RedirectHandler())
		if person != nil {
			mux.Handle(gateway.OAuthStartPath, person)
			mux.Handle(gateway.OAuthSigninPath, person)
			opts.IO.Notef("per-user OAuth consent: people sign in at %s first; only the person a link was made for may consent", opts.Consent.Issuer)
		} else {
			opts.IO.Warnf("per-user OAuth consent links are not bound to the person they were made for: whoever opens one grants their upstream account to that person; set [gateway] consent_issuer and consent_client_id")
		}
		callback = mux
		opts.IO.Notef("per-user OAuth consent returns to %s%s", strings.TrimRight(publicURL, "/"), gateway.OAuthCallbackPath)
	}
	if opts.MetricsListen != "" {
		mln, err := net.Listen("tcp", opts.MetricsListen)
		if err != nil {
			return withHint(fmt.Errorf("listen on %s for /metrics: %w", opts.MetricsListen, err), "pick a free address with --metrics-listen")
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		opts.IO.Notef("metrics at http://%s/metrics", mln.Addr())
	}
	roots, err := replicaRoots(opts)
	if err != nil {
		return err
	}
	build := func(sessionKey []byte) (*gateway.Handler, error) {
		return gateway.New(gateway.Options{
			Governance:       gov,
			OAuthCallback:    callback,
			Inventory:        inventory,
			InventoryReaders: opts.InventoryReaders,
			Identify:         auth.Identify,
			Auth: gateway.AuthOptions{
				AuthorizationServers: idps,
				MaxFailures:          authCfg.MaxFailures,
				FailureWindow:        authCfg.FailureWindow,
				Refused:              gov.AuthRefused,
				TrustedProxies:       opts.trustedProxies,
			},
			AllowedOrigins: opts.AllowedOrigins,
			MaxBody:        opts.MaxBody,
			MaxSessions:    opts.MaxSessions,
			IdleTimeout:    opts.IdleTimeout,
			InputTimeout:   opts.InputTimeout,
			AdvertiseURL:   opts.AdvertiseURL,
			ReplicaRoots:   roots,
			ReplicaCert:    opts.replicaCert,
			ServerName:     "mcpgov-gateway",
			ServerVersion:  opts.Factory.Version.Version,
			Diag:           errOut,
			Path:           f.Getenv("PATH"),
			Metrics:        metrics,
			SessionKey:     sessionKey,
			Calls:          shared.CallLog(),
			EventLog:       shared.EventLog(opts.IdleTimeout),
			Tracing:        tracing,
			// On its own listener, /metrics is not served beside the MCP
			// endpoints, where anyone who reaches the gateway could read
			// every server's and tool's name and traffic.
			MetricsElsewhere: opts.MetricsListen != "",
		})
	}
	// A replica whose store is down at start serves at once all the
	// same: it answers /healthz and explains itself in /readyz until it
	// can read the replicas' session key.
	late := &lateHandler{}
	sessionKey, keyErr := shared.SessionKey(ctx)
	var h *gateway.Handler
	if keyErr == nil {
		if h, err = build(sessionKey); err != nil {
			return err
		}
		late.serve(h)
	}
	srv := &http.Server{Handler: late, ReadHeaderTimeout: 10 * time.Second}
	defer srv.Close()
	served := make(chan error, 1)
	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		// Asked of every client, required of none: only a forward
		// between replicas must come with one (acceptForward).
		gateway.ReplicaClientAuth(srv.TLSConfig, opts.replicaCAs)
		go func() { served <- srv.ServeTLS(ln, opts.TLSCert, opts.TLSKey) }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	if h == nil {
		sessionKey, err := awaitSessionKey(ctx, opts, shared, keyErr, late)
		if err != nil {
			return nil // stopped before the store answered: nothing to drain
		}
		if h, err = build(sessionKey); err != nil {
			return err
		}
		late.serve(h)
	}
	opts.IO.Notef("gateway serving %s://%s (bundle revision %s, %d servers)", scheme, ln.Addr(), gov.Revision(), len(gov.Servers()))
	if opts.AdvertiseURL != "" {
		opts.IO.Notef("advertised to the other replicas as %s: retries of calls waiting here are forwarded here", opts.AdvertiseURL)
	}
	shared.EndCopies(ctx, h.EndRecord)
	go gov.Watch(ctx, shared.WatchOptions(ctx, govern.WatchOptions{Notify: func(n govern.Notice) { printNotice(opts.IO, n) }}), shared.AfterReload(ctx, gov.Revision, h.Reload))
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain: new requests get 503 while the calls in flight, and those
	// waiting for their client's input, finish and are recorded; then the
	// sessions end and the server closes.
	opts.IO.Notef("gateway draining: %d sessions open", h.Sessions())
	drain, cancel := context.WithTimeout(context.Background(), opts.DrainTimeout)
	defer cancel()
	if err := h.Drain(drain); err != nil {
		opts.IO.Warnf("%v", err)
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	_ = srv.Shutdown(shutdown)
	opts.IO.Notef("gateway stopped")
	return nil
}
