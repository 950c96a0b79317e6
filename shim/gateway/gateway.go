// Package gateway is the HTTP face of the relay family (DESIGN §9): an
// http.Handler that serves MCP Streamable HTTP (protocol 2025-06-18 and
// 2025-11-25) to remote clients and agents, with each MCP session run by
// one enforce.Session, the same engine the stdio shim uses. The handler
// keeps only what a transport keeps: HTTP framing, sessions, streams and
// the upstreams' lifecycle. Every message reaches the engine raw.
//
// Endpoints:
//
//	/servers/{id}/mcp   proxy: one catalog server
//	/mcp                aggregator: every server Governance serves, tools named server__tool
//	/virtual/{id}/mcp   a virtual server: exactly its tool subset
//	/oauth/callback     per-user OAuth consent returns here (outbound credentials)
//	/inventory          fleet inventory: scans uploaded (POST) and read (GET)
//	/healthz, /readyz   liveness and readiness
//	/.well-known/oauth-protected-resource[/PATH]  RFC 9728 metadata
package gateway

import (
	"context"
	"crypto/cipher"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/scan/fleet"
)

// Server is how the gateway reaches one catalog server: a Streamable HTTP
// URL, or a stdio command it launches.
type Server struct {
	ID      string
	URL     string      // Streamable HTTP upstream; wins over Command
	Headers http.Header // sent with every request to URL
	Command []string    // stdio launch: the resolved command, then its arguments
	Env     []string    // the launched command's environment; nil: the gateway's
	// Protocol is the catalog's launch.protocol: "2026-07-28" calls a URL
	// upstream statelessly (shim.HTTPUpstream.Stateless).
	Protocol string
}

// Virtual is a virtual server: routes to several servers, exposing only
// the named tools.
type Virtual struct {
	Servers []Server
	// Tools are the aggregated names (server__tool) the client may list
	// and call.
	Tools map[string]bool
	// Groups, when set, are the groups whose members may use it.
	Groups []string
}

// SessionInfo is what Governance learns about the session a core is for.
type SessionInfo struct {
	// ID names the session in records. It is not the Mcp-Session-Id,
	// which works as a credential for the session.
	ID       string
	Identity audit.Identity
	// Endpoint is the path the session was opened on.
	Endpoint string
}

// ErrNotFound is returned by Governance for a server or virtual server
// it does not serve.
var ErrNotFound = errors.New("not found")

// Governance is what the gateway needs from the governance assembly:
// which servers it serves and how to reach them, and one core per session
// and server. It is a consumer-side interface so that the assembly (bundle
// source, reloads, audit store, identity) can be plugged in.
type Governance interface {
	// Server returns server id, or an error wrapping ErrNotFound.
	Server(id string) (Server, error)
	// Servers returns the servers the aggregating endpoint serves.
	Servers() []Server
	// Virtual returns virtual server id, or an error wrapping ErrNotFound
	// (or saying why it cannot be served).
	Virtual(id string) (Virtual, error)
	// Core returns the core that governs one session's calls to server id.
	Core(id string, s SessionInfo) (*enforce.Core, error)
	// Ready returns nil when the gateway can govern (a usable bundle).
	Ready() error
}

// OAuthCallbackPath is the redirect endpoint of per-user OAuth consent.
const OAuthCallbackPath = "/oauth/callback"

// OAuthStartPath and OAuthSigninPath are where a consent link leads when
// the gateway signs the person in before they consent, and where its
// identity provider sends them back; OAuthCallback serves them too.
const (
	OAuthStartPath  = "/oauth/start"
	OAuthSigninPath = "/oauth/signin"
)

// Defaults.
const (
	DefaultMaxBody     = 8 << 20 // a POST body (one JSON-RPC message)
	DefaultMaxSessions = 10000
	DefaultBacklog     = 256 // messages kept for a GET stream not yet open
	DefaultIdleTimeout = 30 * time.Minute
	DefaultKeepAlive   = 25 * time.Second // under common proxies' 60 s idle limit
)

// Options configure a Handler.
type Options struct {
	Governance Governance
	// Identify returns the identity behind a request; a non-nil error
	// refuses it (401).
	Identify func(*http.Request) (audit.Identity, error)
	// AllowedOrigins, when set, are the only Origin header values a
	// request may carry ("https://app.example.com"). When empty, a request
	// with an Origin must be same-origin (its host equal to Host).
	AllowedOrigins []string
	// MaxBody bounds a POST body; DefaultMaxBody when 0.
	MaxBody int64
	// MaxSessions bounds the open sessions; DefaultMaxSessions when 0.
	MaxSessions int
	// ServerName and ServerVersion are the serverInfo of aggregating and
	// virtual endpoints.
	ServerName, ServerVersion string
	// Diag receives diagnostic lines; io.Discard when nil.
	Diag io.Writer
	// IdleTimeout ends a session nobody used for this long (no request,
	// no stream open, no call in flight); DefaultIdleTimeout when 0.
	IdleTimeout time.Duration
	// KeepAlive is how long an event stream may stay quiet before the
	// gateway writes a comment line on it; DefaultKeepAlive when 0.
	KeepAlive time.Duration
	// Path is the PATH stdio upstreams' commands are looked up in.
	Path string
	// Grace is how long a stdio upstream gets to exit after its session
	// ends, before SIGTERM and SIGKILL; 2s when 0.
	Grace time.Duration
	// Auth configures the challenge, the protected-resource metadata and
	// the limit on repeated authentication failures.
	Auth AuthOptions
	// Metrics, when set, are served at /metrics and count the requests;
	// Metrics.Sink counts the engine's records.
	Metrics *Metrics
	// SessionKey, when set, signs self-describing session ids, so that
	// every replica given the same key serves every session (resume.go).
	SessionKey []byte
	// Calls, when set, logs each tools/call's answer in the store the
	// replicas share, so that a client's retry is answered once
	// (calls.go).
	Calls CallLog
	// MetricsElsewhere: the caller serves Metrics.Handler on a listener
	// of its own; the handler counts but does not serve /metrics.
	MetricsElsewhere bool
	// OAuthCallback, when set, is served at OAuthCallbackPath: where an
	// authorization server sends a person back after consenting to
	// mcpgov calling a server for them (login/oauthuser).
	OAuthCallback http.Handler
	// Inventory, when set, keeps the fleet inventory machines upload to
	// InventoryPath; InventoryReaders are the groups that may read it.
	Inventory        fleet.Store
	InventoryReaders []string
	// EventLog keeps the events of sessions' streams, for clients that
	// resume a broken stream (Last-Event-ID); a MemoryEventLog with the
	// default bounds when nil.
	EventLog EventLog
	// Tracing, when set, makes a span of every MCP message POSTed;
	// Tracing.Sink adds what the engine's records say.
	Tracing *Tracing
	// InputTimeout bounds how long a stateless client's call whose server
	// asked for input waits for the client's retry (mrtr.go);
	// DefaultInputTimeout when 0.
	InputTimeout time.Duration
	// AdvertiseURL is this replica's own URL as the other replicas reach
	// it ("http://10.0.0.7:8080"): the requestStates it seals name it, and
	// a replica that gets a retry of a call waiting here forwards it here
	// (forward.go). It needs SessionKey.
	AdvertiseURL string
	// ReplicaRoots are the roots a replica's certificate is checked
	// against when a retry is forwarded to it over https; the system's
	// when nil.
	ReplicaRoots *x509.CertPool
	// ReplicaCert is the client certificate this replica presents when
	// it forwards a retry over https (mutual TLS: the receiving replica's
	// listener verifies it, see ReplicaClientAuth, and refuses a forward
	// over https without it); its leaf must allow client authentication.
	// None when nil.
	ReplicaCert *tls.Certificate
}

// Handler serves the gateway's endpoints.
type Handler struct {
	opts Options
	mux  *http.ServeMux

	logFailing atomic.Bool // the event log's last append failed (warned once)

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup       // sessions' goroutines
	failures failures             // failed authentications per client address
	resumeMu sync.Mutex           // one session resumption at a time
	pools    map[string]*poolSlot // stateless callers' sessions, by poolKey

	// Stateless calls waiting for their client's input, by the key their
	// requestState names, and the cipher that seals those states
	// (mrtr.go).
	inputsMu    sync.Mutex
	inputs      map[string]*inputCall
	stateOnce   sync.Once
	stateCipher cipher.AEAD
	stateErr    error
	replicas    replicas // forwarding retries to the replica holding their call

	drainState
}

// New returns the gateway handler.
func New(opts Options) (*Handler, error) {
	if opts.Governance == nil {
		return nil, errors.New("gateway: no Governance")
	}
	if opts.Identify == nil {
		return nil, errors.New("gateway: no Identify")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.Diag == nil {
		opts.Diag = io.Discard
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.Grace <= 0 {
		opts.Grace = 2 * time.Second
	}
	if opts.EventLog == nil {
		opts.EventLog = NewMemoryEventLog(0, 0)
	}
	if opts.ServerName == "" {
		opts.ServerName = "mcpgov-gateway"
	}
	if opts.InputTimeout <= 0 {
		opts.InputTimeout = DefaultInputTimeout
	}
	h := &Handler{opts: opts, sessions: map[string]*session{}, pools: map[string]*poolSlot{}, inputs: map[string]*inputCall{}, mux: http.NewServeMux()}
	if err := h.initReplicas(); err != nil {
		return nil, err
	}
	h.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	h.mux.HandleFunc("/readyz", h.readyz)
	h.mux.HandleFunc(metadataPath, h.resourceMetadata)
	h.mux.HandleFunc(metadataPath+"/{path...}", h.resourceMetadata)
	if opts.Metrics != nil {
		opts.Metrics.register(h)
		if !opts.MetricsElsewhere {
			h.mux.Handle("/metrics", opts.Metrics.Handler())
		}
	}
	h.mux.HandleFunc(InventoryPath, h.serveInventory)
	if opts.OAuthCallback != nil {
		// Reached by the person's browser, without a bearer token: the
		// single-use state it carries is what authorizes it.
		h.mux.Handle(OAuthCallbackPath, opts.OAuthCallback)
		h.mux.Handle(OAuthStartPath, opts.OAuthCallback)
		h.mux.Handle(OAuthSigninPath, opts.OAuthCallback)
	}
	h.mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		h.serveTraced(w, r, endpoint{kind: kindAggregate, path: r.URL.Path})
	})
	h.mux.HandleFunc("/servers/{id}/mcp", func(w http.ResponseWriter, r *http.Request) {
		h.serveTraced(w, r, endpoint{kind: kindServer, id: r.PathValue("id"), path: r.URL.Path})
	})
	h.mux.HandleFunc("/virtual/{id}/mcp", func(w http.ResponseWriter, r *http.Request) {
		h.serveTraced(w, r, endpoint{kind: kindVirtual, id: r.PathValue("id"), path: r.URL.Path})
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed || h.Draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: shutting down")
		return
	}
	if err := h.opts.Governance.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	if st, ok := h.opts.Governance.(Stale); ok {
		if err := st.Stale(); err != nil {
			// Still ready: the last good bundle serves, and taking every
			// replica out of rotation over one bad edit would stop them all.
			fmt.Fprintf(w, "ready; warning: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

// Close ends every session (their upstreams are shut down) and refuses
// new ones; it returns once their goroutines are done or ctx is.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end("the gateway is shutting down")
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sessions returns the number of open sessions.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

func (h *Handler) warnf(format string, args ...any) {
	fmt.Fprintf(h.opts.Diag, "mcpgov: warning: "+format+"\n", args...)
}

type endpointKind int

const (
	kindServer endpointKind = iota
	kindAggregate
	kindVirtual
	kindInventory
)

// endpoint is the MCP endpoint a request came to.
type endpoint struct {
	kind endpointKind
	id   string
	path string
}
