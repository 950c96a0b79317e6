package gateway

// Opening a session: the servers of its endpoint resolved, a core built
// and admitted per server, each upstream started (session.go serves it).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// open starts a session for an initialize on ep: it resolves the servers,
// builds a core per server, admits or refuses each, starts the upstreams
// and registers the session. On failure it returns the HTTP status and the
// JSON-RPC error body to answer with.
func (h *Handler) open(r *http.Request, ep endpoint, m *rpc.Message) (*session, int, []byte) {
	return h.openAs(r, ep, m, nil, "", "")
}

// openAs is open; resumed, when set, are the claims of a session another
// replica opened, which this one opens again under its id sid; poolKey,
// when set, makes it the pooled session of stateless callers, registered
// under a key no client is ever given.
func (h *Handler) openAs(r *http.Request, ep endpoint, m *rpc.Message, resumed *sessionClaims, sid, poolKey string) (*session, int, []byte) {
	var s *session
	fail := func(status int, code int64, msg string) (*session, int, []byte) {
		if s != nil {
			s.shutdownUpstreams()
			s.cancel()
		}
		return nil, status, rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: code, Message: msg})
	}
	h.mu.Lock()
	closed, n := h.closed, len(h.sessions)
	h.mu.Unlock()
	if closed {
		return fail(http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "mcpgov: the gateway is shutting down")
	}
	if n >= h.opts.MaxSessions {
		return fail(http.StatusServiceUnavailable, jsonrpc.CodeInternalError, fmt.Sprintf("mcpgov: the gateway has its maximum of %d sessions open; retry later", h.opts.MaxSessions))
	}
	who := caller(r)
	gov := h.opts.Governance
	var servers []Server
	var tools map[string]bool
	switch ep.kind {
	case kindServer:
		srv, err := gov.Server(ep.id)
		if err != nil {
			return fail(statusOf(err), jsonrpc.CodeInvalidRequest, "mcpgov: "+err.Error())
		}
		servers = []Server{srv}
	case kindVirtual:
		v, err := gov.Virtual(ep.id)
		if err != nil {
			return fail(statusOf(err), jsonrpc.CodeInvalidRequest, "mcpgov: "+err.Error())
		}
		if len(v.Groups) > 0 && !memberOf(v.Groups, who.Groups) {
			return fail(http.StatusForbidden, jsonrpc.CodeInvalidRequest, fmt.Sprintf("mcpgov: the caller may not use virtual server %s: it is for members of %s", ep.id, strings.Join(v.Groups, ", ")))
		}
		servers, tools = v.Servers, v.Tools
		if tools == nil {
			tools = map[string]bool{} // a virtual server without tools exposes none
		}
	default:
		servers = gov.Servers()
	}
	info := SessionInfo{ID: randomHex(12), Identity: who, Endpoint: ep.path}
	key := ""
	if resumed != nil {
		info.ID, key = resumed.SID, sid
	} else if poolKey != "" {
		key = "stateless:" + randomHex(16)
	} else if key = h.signSession(info, m.Params); key == "" {
		key = randomHex(16)
	}
	rev := revisionOf(gov)
	client := enforce.ClientInfo(m.Params)
	s = &session{h: h, key: key, endpoint: ep.path, aggregate: ep.kind != kindServer, who: who, info: info, poolKey: poolKey,
		waiters: map[string]*reply{}, tokens: map[string]*reply{}, live: map[*reply]bool{}, posts: map[string]*reply{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var routes []enforce.Route
	for _, srv := range servers {
		core, err := gov.Core(srv.ID, info)
		if err != nil {
			return fail(http.StatusInternalServerError, jsonrpc.CodeInternalError, fmt.Sprintf("mcpgov: server %s: %v", srv.ID, err))
		}
		core.SetClient(client)
		if refusal := core.WouldRefuse(); refusal != nil {
			if ep.kind == kindAggregate && refusal.Rule == enforce.RuleGroups {
				continue // not the caller's: /mcp aggregates what their groups may use
			}
			core.Admit(s.ctx) // recorded, with the client
			if ep.kind == kindServer {
				s.cancel()
				return nil, http.StatusForbidden, rpc.ErrorResponse(m.ID, refusal.Error())
			}
			h.warnf("server %s left out of %s: %s", srv.ID, ep.path, refusal.Reason)
			continue
		}
		core.Admit(s.ctx) // in audit mode, records what would have been refused
		cred, err := h.credentials(r, who, srv)
		var up shim.Upstream
		if err == nil {
			up, err = h.start(srv, cred, poolKey != "")
		}
		if err != nil {
			core.StartFailed(s.ctx, err.Error()) // the error never holds a consent URL
			var consent ConsentNeeded
			if ep.kind == kindServer && errors.As(err, &consent) {
				s.cancel()
				return nil, http.StatusOK, consentAnswer(m, consent)
			}
			if ep.kind == kindServer {
				return fail(http.StatusBadGateway, enforce.CodeServerNotApproved, fmt.Sprintf("mcpgov: server %s could not be started: %v", srv.ID, err))
			}
			h.warnf("server %s left out of %s: %v", srv.ID, ep.path, err)
			continue
		}
		s.ups = append(s.ups, up)
		s.ids = append(s.ids, srv.ID)
		routes = append(routes, enforce.Route{Name: srv.ID, Core: core, Upstream: up})
	}
	if len(routes) == 0 {
		return fail(http.StatusBadGateway, jsonrpc.CodeInternalError, "mcpgov: no upstream server is available on "+ep.path)
	}
	s.engine = enforce.NewSession(enforce.SessionOptions{Client: s, Routes: routes, Aggregate: ep.kind != kindServer,
		Tools: tools, ServerName: h.opts.ServerName, ServerVersion: h.opts.ServerVersion, Diag: h.opts.Diag})
	// The timer runs once the session is registered (end unregisters it).
	s.idle = time.AfterFunc(time.Duration(1<<62), s.expire)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.idle.Stop()
		return fail(http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "mcpgov: the gateway is shutting down")
	}
	h.sessions[s.key] = s
	h.wg.Add(1)
	h.mu.Unlock()
	for i, up := range s.ups {
		if d, ok := up.(directUpstream); ok {
			// Each streamed answer is finished (post hooks, record) on
			// its stream's goroutine: no hop through the pump, and one
			// session's answers are not finished one at a time.
			d.DeliverTo(func(m *rpc.Message) {
				growStack()
				_ = s.engine.FromUpstreamMessage(s.ctx, i, m)
			})
		}
		s.pumps.Add(1)
		go s.pump(i, up)
	}
	s.idle.Reset(h.opts.IdleTimeout)
	if revisionOf(gov) != rev {
		// The bundle changed while the cores were built, before Reload
		// could see this session: it gets the new cores now.
		s.reload()
	}
	return s, 0, nil
}

// start starts one server's upstream. A stdio server gets a process of
// its own per MCP session: its state (initialize, subscriptions, roots,
// request ids, tasks) belongs to one client connection, and a process
// shared by sessions would mix them and leak one user's data into another
// user's session; a pool would need the server to be stateless, which
// nothing in the catalog says.
//
// A URL server the catalog says speaks the stateless revision
// (launch.protocol 2026-07-28) is called without a session, once its
// server/discover confirms it. The catalog decides, not discovery alone:
// how a server is reached is part of its review, as its URL is, and
// calling it statelessly changes what is governed and recorded (each
// input round a call of its own, no call waiting in the gateway); a
// server whose discover starts listing the revision after an upgrade
// does not change that unreviewed. Probing every server would also cost
// each session of a 2025-11-25 server a refused server/discover first.
// For a stateless client (pooled), the server's input_required answers
// pass to the client as they are; for a client of a session they are
// asked of it as the server's requests.
func (h *Handler) start(srv Server, cred shim.Credentials, pooled bool) (shim.Upstream, error) {
	if srv.URL != "" {
		up, err := shim.DialHTTPWith(srv.URL, srv.Headers, cred, h.opts.Diag)
		if err != nil {
			return nil, err
		}
		if srv.Protocol == shim.StatelessRevision {
			up.Stateless(pooled)
		}
		return up, nil
	}
	if len(srv.Command) == 0 {
		return nil, fmt.Errorf("server %s has neither a url nor a stdio command in the catalog", srv.ID)
	}
	path, err := shim.LookCommand(srv.Command[0], h.opts.Path)
	if err != nil {
		return nil, err
	}
	p, err := shim.StartProcess(shim.Command{Path: path, Args: srv.Command[1:], Env: srv.Env, ExtraEnv: cred.Env, Stderr: h.opts.Diag})
	if err != nil {
		return nil, err
	}
	return p, nil
}
