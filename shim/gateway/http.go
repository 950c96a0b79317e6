package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Header names of the Streamable HTTP transport.
const (
	headerSession  = "Mcp-Session-Id"
	headerProtocol = "Mcp-Protocol-Version"
)

// supportedVersions are the protocol revisions the gateway's sessions
// speak; the stateless revision (2026-07-28) has no sessions and is
// served by stateless.go.
var supportedVersions = []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}

const statelessVersion = "2026-07-28"

// codeUnsupportedProtocolVersion is SEP-2575's error code.
const codeUnsupportedProtocolVersion = -32022

// serveMCP serves one request to an MCP endpoint.
func (h *Handler) serveMCP(rw http.ResponseWriter, r *http.Request, ep endpoint) {
	w, r, done, ok := h.admit(rw, r, ep)
	if !ok {
		return
	}
	defer done()
	if err := checkHost(r); err != nil {
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	if err := h.checkOrigin(r); err != nil {
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	version := r.Header.Get(headerProtocol)
	if version != "" && version < statelessVersion && !slices.Contains(supportedVersions, version) {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("unsupported %s %q (supported: %s)", headerProtocol, version, strings.Join(supportedVersions, ", ")))
		return
	}
	if r, ok = h.acceptForward(w, r, ep); !ok {
		return // a replica's forward that does not check out (forward.go)
	}
	if r = h.authenticate(w, r, ep); r == nil {
		return
	}
	if r.Method != http.MethodPost && version >= statelessVersion && r.Header.Get(headerSession) == "" {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("protocol %s has no sessions and no GET stream: every request is a POST", version))
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.post(w, r, ep, version)
	case http.MethodGet:
		h.get(w, r, ep)
	case http.MethodDelete:
		h.delete(w, r, ep)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed: use POST, GET or DELETE")
	}
}

// post serves one JSON-RPC message of the client.
func (h *Handler) post(w http.ResponseWriter, r *http.Request, ep endpoint, version string) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && mediaType(ct) != "application/json" { // the usual value unparsed
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	if _, err := requestLogging(r); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	jsonOK, sseOK := accepts(r.Header.Values("Accept"))
	if !jsonOK && !sseOK {
		httpError(w, http.StatusNotAcceptable, "Accept must list application/json or text/event-stream (clients send both)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			reason := fmt.Sprintf("the request body exceeds the gateway's limit of %d bytes", tooLarge.Limit)
			h.refuseInSession(r, ep, "", reason)
			rpcError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest, "mcpgov: "+reason)
			return
		}
		httpError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		rpcError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request: the POST body is empty")
		return
	}
	if trimmed[0] == '[' {
		rpcError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request: JSON-RPC batches are not supported (protocol 2025-06-18 and later)")
		return
	}
	m, err := parseBody(r, body)
	if err != nil {
		if errors.Is(err, rpc.ErrAmbiguous) {
			// As the shim does: a message two parsers would read
			// differently is an attack until shown otherwise.
			h.refuseInSession(r, ep, "", err.Error())
		}
		writeJSON(w, http.StatusBadRequest, rpc.ParseErrorResponse(err, rpc.LenientID(body)))
		return
	}
	if m.IsNotification() && !strings.HasPrefix(m.Method, "notifications/") {
		// A request without an id (or with id null) cannot be answered,
		// yet lenient servers execute it: it is never forwarded.
		reason := fmt.Sprintf("request %s without an id is never forwarded", m.Method)
		h.refuseInSession(r, ep, m.Method, reason)
		rpcError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request: mcpgov: "+reason)
		return
	}
	if m.IsCall() && isStatelessRequest(version, m) {
		h.postStateless(w, r, ep, m, version, sseOK)
		return
	}
	if version >= statelessVersion && r.Header.Get(headerSession) == "" {
		// A notification or an answer of a stateless client: the
		// revision has no session it could belong to (a client cancels a
		// request by closing its POST).
		w.WriteHeader(http.StatusAccepted)
		return
	}
	sid := r.Header.Get(headerSession)
	var s *session
	switch {
	case m.Method == "initialize" && m.IsCall():
		if drainRefuse(w, r) {
			return
		}
		if sid != "" {
			rpcError(w, http.StatusBadRequest, m.ID, jsonrpc.CodeInvalidRequest,
				"Invalid Request: initialize opens a new session; send it without "+headerSession)
			return
		}
		var status int
		var refusal []byte
		s, status, refusal = h.open(r, ep, m)
		if s == nil {
			writeJSON(w, status, refusal)
			return
		}
		w.Header().Set(headerSession, s.key)
	case sid == "":
		rpcError(w, http.StatusBadRequest, m.ID, jsonrpc.CodeInvalidRequest,
			fmt.Sprintf("Invalid Request: missing %s header; send initialize first to open a session", headerSession))
		return
	default:
		if s = h.lookup(w, r, sid, ep); s == nil {
			return
		}
	}
	if !m.IsCall() {
		// A notification, or the client's answer to a server's request
		// (taken while the gateway drains: a call in flight may wait
		// for it).
		s.fromClient(body)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if drainRefuse(w, r) {
		return
	}
	// An answer streams (and carries the server's messages about the
	// call) when the client accepts a stream; else it is one JSON body.
	h.callOnce(w, r, s, m, body, sseOK)
}

// parseBody parses the message of a POST: a replica's forward's was
// parsed when the forward was checked (acceptForward).
func parseBody(r *http.Request, body []byte) (*rpc.Message, error) {
	if f, ok := forwardOf(r); ok && f.msg != nil {
		return f.msg, nil
	}
	return rpc.Parse(body)
}

// get opens the session's stream for the server's own messages.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, ep endpoint) {
	if _, sseOK := accepts(r.Header.Values("Accept")); !sseOK {
		httpError(w, http.StatusNotAcceptable, "Accept must list text/event-stream for GET")
		return
	}
	sid := r.Header.Get(headerSession)
	if sid == "" {
		httpError(w, http.StatusBadRequest, "missing "+headerSession+" header; GET opens the stream of an initialized session")
		return
	}
	s := h.lookup(w, r, sid, ep)
	if s == nil {
		return
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		s.resumeStream(w, r, last)
		return
	}
	s.serveGet(w, r)
}

// delete ends a session.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, ep endpoint) {
	sid := r.Header.Get(headerSession)
	if sid == "" {
		httpError(w, http.StatusBadRequest, "missing "+headerSession+" header")
		return
	}
	s := h.lookup(w, r, sid, ep)
	if s == nil {
		return
	}
	s.end(reasonClientEnded)
	if log := h.opts.Calls; log != nil {
		// The other replicas' copies end when idle; none resumes it.
		_ = log.EndSession(r.Context(), s.info.ID, h.opts.IdleTimeout)
	}
	w.WriteHeader(http.StatusNoContent)
}

// lookup finds the session sid of endpoint ep, or answers 404 (a client
// must then initialize a new session: the spec's signal); a caller other
// than the one that opened it gets 403.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, sid string, ep endpoint) *session {
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s == nil && len(h.opts.SessionKey) > 0 {
		if drainRefuse(w, r) {
			return nil // a draining replica takes on no session of another
		}
		return h.resume(w, r, sid, ep) // opened by another replica
	}
	if s == nil || s.endpoint != ep.path {
		httpError(w, http.StatusNotFound, "session not found; initialize a new one")
		return nil
	}
	if !sameCaller(caller(r), s.who) {
		httpError(w, http.StatusForbidden, "this session belongs to another caller")
		return nil
	}
	return s
}

// refuseInSession records a message refused before it reached a session,
// in the session the request names (its Mcp-Session-Id, on its endpoint,
// of its caller), as the shim records the same refusal; a request that
// names none leaves only the HTTP answer.
func (h *Handler) refuseInSession(r *http.Request, ep endpoint, method, reason string) {
	sid := r.Header.Get(headerSession)
	if sid == "" {
		return
	}
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s == nil || s.endpoint != ep.path || !sameCaller(caller(r), s.who) {
		return
	}
	s.engine.Refuse(s.ctx, method, reason)
}

// checkHost refuses, on a loopback listener, a Host that is not a
// loopback name: a DNS-rebinding page reaches a local gateway under its
// own host name.
func checkHost(r *http.Request) error {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !isLoopback(local.String()) {
		return nil
	}
	if !isLoopback(r.Host) {
		return fmt.Errorf("invalid Host header %q for a gateway listening on loopback", r.Host)
	}
	return nil
}

// checkOrigin refuses a browser request from an origin that may not use
// the gateway: one of AllowedOrigins when set, else the same origin.
func (h *Handler) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if len(h.opts.AllowedOrigins) > 0 {
		if slices.Contains(h.opts.AllowedOrigins, origin) {
			return nil
		}
		return fmt.Errorf("origin %q is not allowed", origin)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid Origin %q", origin)
	}
	if strings.EqualFold(u.Host, r.Host) || isLoopback(u.Host) && isLoopback(r.Host) {
		return nil
	}
	return fmt.Errorf("origin %q is not allowed (cross-origin; configure the allowed origins)", origin)
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// accepts reads the Accept header as the go-sdk does.
func accepts(values []string) (jsonOK, sseOK bool) {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			base, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(base)) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/event-stream", "text/*":
				sseOK = true
			case "*/*":
				jsonOK, sseOK = true, true
			}
		}
	}
	return jsonOK, sseOK
}

// metaVersion reads params._meta["io.modelcontextprotocol/protocolVersion"].
func metaVersion(params json.RawMessage) string {
	if !bytes.Contains(params, []byte("io.modelcontextprotocol/protocolVersion")) {
		return ""
	}
	var p struct {
		Meta map[string]any `json:"_meta"`
	}
	_ = json.Unmarshal(params, &p)
	v, _ := p.Meta["io.modelcontextprotocol/protocolVersion"].(string)
	return v
}

// mediaType is a Content-Type's media type, lower-cased, without its
// parameters ("" when it cannot be parsed).
func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

func httpError(w http.ResponseWriter, status int, msg string) {
	http.Error(w, "mcpgov: "+msg, status)
}

// rpcError answers with a JSON-RPC error body, so that MCP clients show
// the message.
func rpcError(w http.ResponseWriter, status int, id json.RawMessage, code int64, msg string) {
	writeJSON(w, status, rpc.ErrorResponse(id, &jsonrpc.Error{Code: code, Message: msg}))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
