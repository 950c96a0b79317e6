package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Peer is one side of a session as the session writes to it: the client,
// or one upstream server. WriteFrame sends one whole JSON-RPC message and
// must be safe for concurrent use.
type Peer interface {
	WriteFrame(msg []byte) error
}

// RelatedWriter is a Peer that takes, with a request or notification of
// a server, the client's id of the call it is about, when the upstream's
// transport said which call that is (rpc.Message.Related): a client with
// several calls in flight then gets it where that call's answer goes. m
// is the message as the client gets it, parsed (its Raw is what is sent),
// as MessageWriter takes it. related is empty (not nil) when the
// transport tied the message to a request that is no call of the
// client's (answered already, or the engine's own): it belongs to none of
// the client's calls.
type RelatedWriter interface {
	WriteRelated(m *rpc.Message, related json.RawMessage) error
}

// Route is one upstream behind a session.
type Route struct {
	// Name prefixes the upstream's tools in an aggregated session
	// ("github" makes "github__create_issue"); unused with one route.
	Name string
	// Core governs the upstream's catalog entry; nil relays everything.
	Core *Core
	// Upstream receives the messages meant for the server.
	Upstream Peer
}

// SessionOptions configure a Session.
type SessionOptions struct {
	// Client receives the messages meant for the client.
	Client Peer
	// Routes are the upstreams, at least one.
	Routes []Route
	// Aggregate serves the routes as one server, tools named
	// route__tool, even when there is only one route (an aggregating
	// endpoint). With several routes a session always aggregates.
	Aggregate bool
	// Tools, when not nil, is a virtual server: the only aggregated tool
	// names (route__tool) the client may list and call.
	Tools map[string]bool
	// ServerName and ServerVersion are the serverInfo an aggregated
	// session answers initialize with.
	ServerName, ServerVersion string
	// Diag receives the session's diagnostic lines (a dropped frame, a
	// refused message); io.Discard when nil.
	Diag io.Writer
}

// Session is the governance engine for one client connection (DESIGN §4):
// it receives the client's and the upstreams' raw messages from any
// transport and decides, per message, which hook it gets, whether it is
// answered locally or forwarded, and to which upstream. Transports keep
// only framing and lifecycle: they read whole messages and hand them in,
// and they end the session.
//
// The session owns the upstream id space: every call the client sends
// goes upstream under the session's own integer id and its answer is
// matched by that integer and sent back with the client's id, byte for
// byte.
type Session struct {
	client    Peer
	routes    []route
	aggregate bool
	tools     map[string]bool
	name, ver string
	diag      io.Writer
	diagMu    sync.Mutex

	pending *pending
	// finishing counts governed work in progress (hooks, audit records),
	// on a reader's goroutine or its own; Wait returns once there is none.
	finishing inflight
	// reverse maps the ids an aggregated session gives the upstreams'
	// own requests toward the client back to their route and id.
	reverse reverseIDs
}

// route is one upstream and the core that governs its new calls.
type route struct {
	name     string
	upstream Peer
	core     atomic.Pointer[Core]
}

// NewSession returns the session for one client connection.
func NewSession(opts SessionOptions) *Session {
	s := &Session{client: opts.Client, aggregate: opts.Aggregate || len(opts.Routes) > 1, tools: opts.Tools,
		name: opts.ServerName, ver: opts.ServerVersion, diag: opts.Diag, pending: newPending()}
	if s.diag == nil {
		s.diag = io.Discard
	}
	if s.name == "" {
		s.name = "mcpgov"
	}
	s.routes = make([]route, len(opts.Routes))
	for i, r := range opts.Routes {
		s.routes[i].name, s.routes[i].upstream = r.Name, r.Upstream
		s.routes[i].core.Store(r.Core)
	}
	s.reverse.init()
	return s
}

// core returns the core governing route i's new calls.
func (s *Session) core(i int) *Core { return s.routes[i].core.Load() }

// Reload makes core govern every new call of route i: the catalog entry,
// policies, guardrails and bundle revision change together, while calls
// in flight finish under the core that let them through. The client is
// told to list the tools again, as what it may see can have changed.
func (s *Session) Reload(i int, core *Core) error {
	old := s.routes[i].core.Swap(core)
	if old != nil && core != nil {
		core.SetClient(old.clientInfo())
	}
	n, err := rpc.Notification("notifications/tools/list_changed", nil)
	if err != nil {
		return err
	}
	return s.client.WriteFrame(n)
}

// warnf writes one diagnostic line.
func (s *Session) warnf(format string, args ...any) {
	s.diagMu.Lock()
	defer s.diagMu.Unlock()
	fmt.Fprintf(s.diag, "mcpgov: warning: "+format+"\n", args...)
}

// Drained returns a channel closed once no call awaits an answer the
// client still wants and every answer being finished has been written.
func (s *Session) Drained() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-s.pending.drained()
		<-s.finishing.wait()
		close(done)
	}()
	return done
}

// Wait returns once all governed work in progress is done and its answer
// written (or abandoned).
func (s *Session) Wait() { <-s.finishing.wait() }

// UpstreamGone answers every call still waiting for route i's upstream
// with an error and records the governed ones: nothing the upstream may
// have run goes unrecorded.
func (s *Session) UpstreamGone(i int, cause error) {
	msg := "upstream MCP server exited"
	if i >= 0 && i < len(s.routes) && s.routes[i].name != "" {
		msg = fmt.Sprintf("upstream MCP server %s exited", s.routes[i].name)
	}
	if cause != nil && !errors.Is(cause, io.EOF) {
		msg += ": " + cause.Error()
	}
	for _, c := range s.pending.takeRoute(i) {
		if c.cancelled {
			c.recordCancelled(context.Background(), "the upstream exited without answering")
			continue
		}
		if c.state != nil {
			c.core.FailCall(context.Background(), c.state, msg)
		}
		_ = s.client.WriteFrame(rpc.ErrorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
	}
}

// Abandon records the calls still pending when the session ends after
// the client went away: the client can no longer be answered, but what
// the upstreams were asked to run is on record.
func (s *Session) Abandon() {
	for _, c := range s.pending.takeRoute(-1) {
		switch {
		case c.cancelled:
			c.recordCancelled(context.Background(), "the upstream had not answered when the session ended")
		case c.state != nil:
			c.core.FailCall(context.Background(), c.state, "the client closed its input before the upstream answered; the upstream was stopped")
		}
	}
}

// inflight counts work in progress and says when there is none. Unlike a
// sync.WaitGroup it may be waited on while work is still being added (the
// readers add while the transport waits for the drain).
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

func (f *inflight) add() {
	f.mu.Lock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
	f.mu.Unlock()
}

// wait returns a channel closed once nothing is in progress.
func (f *inflight) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.idle
}

// reverseIDs maps the ids an aggregated session gives the upstreams' own
// requests (sampling, elicitation, roots) toward the client: two servers
// may both send request 1, and the client's answer must reach the one
// that asked.
type reverseIDs struct {
	mu   sync.Mutex
	next uint64
	ids  map[string]reverseID
}

type reverseID struct {
	route int
	id    json.RawMessage
}

func (r *reverseIDs) init() { r.ids = map[string]reverseID{} }

// give returns the client-facing id for route's request id.
func (r *reverseIDs) give(route int, id json.RawMessage) json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	key := fmt.Sprintf(`"mcpgov-%d"`, r.next)
	r.ids[canonicalID(json.RawMessage(key))] = reverseID{route: route, id: id}
	return json.RawMessage(key)
}

// take returns and forgets where the client's answer with id goes.
func (r *reverseIDs) take(id json.RawMessage) (reverseID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := canonicalID(id)
	v, ok := r.ids[key]
	delete(r.ids, key)
	return v, ok
}
