package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// The stateless protocol revision (2026-07-28, SEP-2575) has no
// initialize and no sessions: every request names its protocol version,
// client and capabilities in params._meta, and the POST that carries it is
// its whole lifecycle (no Mcp-Session-Id, no GET stream, no resumption).
//
// Upstreams: the gateway keeps one engine session per (endpoint,
// verified identity, client), opened with a legacy initialize the first
// time that caller's client speaks the revision on that endpoint, and
// reused by its later requests until it is idle for IdleTimeout. Its
// upstreams are sessions of 2025-11-25, except a URL server the catalog
// says speaks the revision (launch.protocol), which is called without a
// session, each request on its own (shim.HTTPUpstream.Stateless), its
// input_required answers passed to the client as they are and the
// client's retry governed as a call of its own. The engine session is
// kept either way, because:
//   - most servers speak 2025-11-25 and older (server-everything,
//     every stdio server): a stdio server must be started and initialized,
//     and one process per request would cost a process start per call;
//   - one pooled engine session keeps the engine unchanged: the same
//     admission, RBAC, rate limits, guardrails, tool namespacing of /mcp and
//     one record per call, with the verified identity of the requests it
//     serves (the identity is part of the key, so a session never serves a
//     caller other than the one it was opened for);
//   - pools are bounded as sessions are (MaxSessions, IdleTimeout) and
//     reloaded with the bundle like any session.
//
// Each request goes upstream under an id of the gateway's own (two
// requests of one client may carry the same id on two connections), and
// its answer goes back under the client's id, with resultType "complete"
// on a result. A client that closes its POST cancels the call upstream.
// The upstream session is opened with the client's elicitation and
// sampling capabilities only: a server's request during a call reaches
// the client as the revision's multi round-trip request (mrtr.go); roots
// are not offered. A subscriptions/listen POST gets the pooled session's
// list_changed notifications (listen.go).

// codeHeaderMismatch is SEP-2575's error for HTTP headers that do not
// mirror the body.
const codeHeaderMismatch = -32020

// Meta keys of the stateless revision.
const (
	metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	metaClientInfo      = "io.modelcontextprotocol/clientInfo"
	metaServerInfo      = "io.modelcontextprotocol/serverInfo"
)

// Headers of the stateless revision that mirror the body.
const (
	headerMethod = "Mcp-Method"
	headerName   = "Mcp-Name"
)

// allVersions are the revisions the gateway speaks, newest first:
// server/discover lists them.
var allVersions = []string{statelessVersion, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// legacyInitVersion is the revision of the upstream sessions opened for
// stateless callers.
const legacyInitVersion = "2025-11-25"

// postStateless serves one request of the stateless revision.
func (h *Handler) postStateless(w http.ResponseWriter, r *http.Request, ep endpoint, m *rpc.Message, header string, sseOK bool) {
	meta := requestMeta(m.Params)
	version, _ := meta[metaProtocolVersion].(string)
	if header == "" {
		statelessError(w, m.ID, http.StatusBadRequest, codeHeaderMismatch,
			fmt.Sprintf("%s header is required for a request carrying _meta %q", headerProtocol, metaProtocolVersion), nil)
		return
	}
	if version == "" {
		statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams,
			fmt.Sprintf("missing or invalid _meta %q: protocol %s requires it on every request", metaProtocolVersion, header), nil)
		return
	}
	if header != version {
		statelessError(w, m.ID, http.StatusBadRequest, codeHeaderMismatch,
			fmt.Sprintf("%s header %q does not match the request's _meta %q %q", headerProtocol, header, metaProtocolVersion, version), nil)
		return
	}
	if version != statelessVersion {
		data, _ := json.Marshal(map[string]any{"supported": allVersions, "requested": version})
		statelessError(w, m.ID, http.StatusBadRequest, codeUnsupportedProtocolVersion,
			fmt.Sprintf("protocol version %q is not supported by this gateway", version), data)
		return
	}
	if err := mirroredHeaders(r.Header, m); err != nil {
		statelessError(w, m.ID, http.StatusBadRequest, codeHeaderMismatch, err.Error(), nil)
		return
	}
	switch m.Method {
	case "initialize":
		statelessError(w, m.ID, http.StatusNotFound, jsonrpc.CodeMethodNotFound,
			fmt.Sprintf("Method not found: %s is not served under protocol %s by this gateway", m.Method, statelessVersion), nil)
		return
	}
	retry := isRetry(m)
	if !retry && drainRefuse(w, r) {
		return // only a retry may continue a call this replica holds
	}
	var rc retryCheck
	if retry {
		// A retry whose call waits on another replica goes there before
		// a pooled session is looked up: this replica needs none for it
		// (opening one starts the server's processes, its OAuth), and
		// failing to open one must not refuse a retry another replica
		// serves. A refusal is recorded in the pooled session, opened
		// only then.
		rc = h.checkRetry(r, ep, m)
		bad := func(status int, msg string) {
			if s, _, _ := h.pooled(r, ep, meta); s != nil {
				s.engine.Refuse(s.ctx, m.Method, "retry refused: "+msg)
			}
			statelessError(w, m.ID, status, jsonrpc.CodeInvalidParams, msg, nil)
		}
		if rc.why == "" {
			if elsewhere := rc.st.Replica != "" && rc.st.Replica != h.opts.AdvertiseURL; elsewhere && isContinuing(r) {
				if _, forwarded := forwardOf(r); !forwarded && drainRefuse(w, r) {
					return // another replica takes it and forwards it to the one holding its call
				}
			}
			if h.retryElsewhere(w, r, m, rc.st, bad) {
				return // its call waits on another replica (forward.go)
			}
		}
	}
	s, status, refusal := h.pooled(r, ep, meta)
	if s != nil && s.isEnded() {
		// Ended since it was looked up (idle, its upstream gone): once
		// more, which opens a new one.
		s, status, refusal = h.pooled(r, ep, meta)
	}
	if s == nil {
		if rm, err := rpc.Parse(refusal); err == nil {
			refusal = rm.WithID(m.ID)
		}
		writeJSON(w, status, refusal)
		return
	}
	noteSession(r, s)
	if m.Method == "server/discover" {
		writeJSON(w, http.StatusOK, rpc.ResultResponse(m.ID, s.discoverResult()))
		return
	}
	if m.Method == "subscriptions/listen" {
		s.listen(w, r, m)
		return
	}
	if m.Method == "tools/call" {
		if refused := s.checkParams(w, r, m); refused {
			return
		}
	}
	if retry && !s.passesRetry(m) {
		h.resumeInput(w, r, ep, s, m, sseOK, rc) // a call waiting for this input (mrtr.go)
		return
	}
	if drainRefuse(w, r) {
		return // a stateless upstream's retry is a call of its own, which any replica serves
	}
	s.callStateless(w, r, m, sseOK)
}

// checkParams refuses a tools/call whose Mcp-Param-* headers do not
// mirror its arguments, before policy decides on them; true when it
// answered. The refusal is recorded as the engine records the messages it
// refuses.
func (s *session) checkParams(w http.ResponseWriter, r *http.Request, m *rpc.Message) bool {
	var p struct {
		Name string `json:"name"`
	}
	if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.Name == "" {
		return false // the engine refuses it with the reason
	}
	bindings, ok, err := s.bindingsOf(r.Context(), p.Name)
	if err != nil {
		reason := fmt.Sprintf("the tools could not be listed to check the request's %s* headers: %v", paramHeaderPrefix, err)
		s.engine.Refuse(s.ctx, m.Method, reason)
		statelessError(w, m.ID, http.StatusBadGateway, jsonrpc.CodeInternalError, reason, nil)
		return true
	}
	if !ok {
		return false // not a tool the caller may see: the engine answers
	}
	if err := checkParamHeaders(r.Header, m.Params, bindings); err != nil {
		s.engine.Refuse(s.ctx, m.Method, err.Error())
		statelessError(w, m.ID, http.StatusBadRequest, codeHeaderMismatch, err.Error(), nil)
		return true
	}
	return false
}

// requestMeta reads params._meta; nil when there is none.
func requestMeta(params json.RawMessage) map[string]any {
	var p struct {
		Meta map[string]any `json:"_meta"`
	}
	if len(params) == 0 || jsonv2.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.Meta
}

// mirroredHeaders checks Mcp-Method, and Mcp-Name where the revision
// requires it, against the body: a policy decided on the body must not be
// read differently by an intermediary that reads the headers.
func mirroredHeaders(hdr http.Header, m *rpc.Message) error {
	// One value each: with two, an intermediary that reads the last one
	// would see another request than the one checked here.
	for _, h := range []string{headerMethod, headerName} {
		if n := len(hdr.Values(h)); n > 1 {
			return fmt.Errorf("the %s header is given %d times; send it once", h, n)
		}
	}
	method := hdr.Get(headerMethod)
	if method == "" {
		return fmt.Errorf("missing required %s header (protocol %s mirrors the method there)", headerMethod, statelessVersion)
	}
	if method != m.Method {
		return fmt.Errorf("header mismatch: %s header %q does not match the body's method %q", headerMethod, method, m.Method)
	}
	member := ""
	switch m.Method {
	case "tools/call", "prompts/get":
		member = "name"
	case "resources/read":
		member = "uri"
	default:
		return nil
	}
	raw := hdr.Get(headerName)
	if raw == "" {
		return fmt.Errorf("missing required %s header for method %s", headerName, m.Method)
	}
	name, err := decodeHeaderValue(raw)
	if err != nil {
		return fmt.Errorf("%s header: %v", headerName, err)
	}
	var p map[string]jsontext.Value
	if jsonv2.Unmarshal(m.Params, &p) != nil {
		return fmt.Errorf("params of %s are not an object with a string %q", m.Method, member)
	}
	var inBody string
	if jsonv2.Unmarshal(p[member], &inBody) != nil {
		return fmt.Errorf("params of %s have no string %q", m.Method, member)
	}
	if name != inBody {
		return fmt.Errorf("header mismatch: %s header %q does not match the body's %s %q", headerName, name, member, inBody)
	}
	return nil
}

// statelessError answers with a JSON-RPC error and the HTTP status the
// revision maps its code to.
func statelessError(w http.ResponseWriter, id json.RawMessage, status int, code int64, msg string, data json.RawMessage) {
	writeJSON(w, status, rpc.ErrorResponse(id, &jsonrpc.Error{Code: code, Message: "mcpgov: " + msg, Data: data}))
}

// poolSlot is one pooled upstream session, or its opening in progress.
type poolSlot struct {
	ready   chan struct{}
	s       *session
	status  int
	refusal []byte
}

// poolKey names the pooled session of a caller's client on an endpoint.
// When upstream credentials come from the request (a passthrough token,
// X-Mcpgov-Mcp-Headers), those headers are part of the key too: a session
// opened with one request's credentials never serves a request that
// carries others.
func (h *Handler) poolKey(r *http.Request, ep endpoint, meta map[string]any) string {
	who, _ := json.Marshal(caller(r))
	client, _ := json.Marshal(clientOf(meta))
	caps, _ := json.Marshal(clientInputCapabilities(meta))
	parts := [][]byte{[]byte(ep.path), who, client, caps}
	if _, ok := h.opts.Governance.(CredentialSource); ok {
		for _, name := range credentialHeaders { // the ones a forward's signature binds too
			parts = append(parts, []byte(strings.Join(r.Header.Values(name), "\n")))
		}
	}
	sum := sha256.Sum256(bytes.Join(parts, []byte{0}))
	return hex.EncodeToString(sum[:])
}

// clientOf is the _meta clientInfo's name and version.
func clientOf(meta map[string]any) map[string]string {
	ci, _ := meta[metaClientInfo].(map[string]any)
	name, _ := ci["name"].(string)
	version, _ := ci["version"].(string)
	return map[string]string{"name": name, "version": version}
}

// pooled returns the caller's pooled session on ep, opening it when there
// is none; on failure, the HTTP status and the JSON-RPC error to answer.
func (h *Handler) pooled(r *http.Request, ep endpoint, meta map[string]any) (*session, int, []byte) {
	key := h.poolKey(r, ep, meta)
	for {
		h.mu.Lock()
		slot := h.pools[key]
		if slot == nil {
			slot = &poolSlot{ready: make(chan struct{})}
			h.pools[key] = slot
			h.mu.Unlock()
			h.openPooled(r, ep, meta, key, slot)
			return slot.s, slot.status, slot.refusal
		}
		h.mu.Unlock()
		select {
		case <-slot.ready:
		case <-r.Context().Done():
			return nil, http.StatusServiceUnavailable, rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
				Message: "mcpgov: the request ended while its upstream session was opening"})
		}
		if slot.s == nil {
			return nil, slot.status, slot.refusal
		}
		slot.s.mu.Lock()
		ended := slot.s.ended
		slot.s.mu.Unlock()
		if !ended {
			return slot.s, 0, nil
		}
		// Ended since (idle, upstream gone, reload): end removed the
		// slot, or is about to; open a new one.
		h.mu.Lock()
		if h.pools[key] == slot {
			delete(h.pools, key)
		}
		h.mu.Unlock()
	}
}

// openPooled opens the pooled session of slot: a legacy initialize for the
// caller's client, without client capabilities, then initialized.
func (h *Handler) openPooled(r *http.Request, ep endpoint, meta map[string]any, key string, slot *poolSlot) {
	defer close(slot.ready)
	fail := func(status int, refusal []byte) {
		slot.status, slot.refusal = status, refusal
		h.mu.Lock()
		if h.pools[key] == slot {
			delete(h.pools, key)
		}
		h.mu.Unlock()
	}
	caps := clientInputCapabilities(meta)
	params, _ := json.Marshal(map[string]any{"protocolVersion": legacyInitVersion, "capabilities": caps,
		"clientInfo": clientOf(meta)})
	initID := `"mcpgov-stateless-` + randomHex(8) + `"`
	body := rpc.Request(json.RawMessage(initID), "initialize", params)
	m, err := rpc.Parse(body)
	if err != nil {
		fail(http.StatusInternalServerError, rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + err.Error()}))
		return
	}
	s, status, refusal := h.openAs(r, ep, m, nil, "", key)
	if s == nil {
		fail(status, refusal)
		return
	}
	s.mu.Lock()
	s.inputCaps = map[string]bool{}
	for name := range caps {
		s.inputCaps[inputCapabilities[name]] = true
	}
	s.mu.Unlock()
	answer, err := s.initialize(r.Context(), m, body)
	if err != nil {
		s.end("opening the upstream session for a stateless client failed: " + err.Error())
		if answer == nil {
			answer = rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
				Message: "mcpgov: the upstream session could not be opened: " + err.Error()})
		}
		fail(http.StatusBadGateway, answer)
		return
	}
	s.mu.Lock()
	s.initResult = answer
	s.mu.Unlock()
	slot.s = s
}

// discoverResult answers server/discover from the pooled session's
// initialize result: the server's capabilities (resource subscriptions
// are served through subscriptions/listen), instructions and serverInfo.
func (s *session) discoverResult() json.RawMessage {
	s.mu.Lock()
	answer := s.initResult
	s.mu.Unlock()
	var init struct {
		Result struct {
			Capabilities map[string]jsontext.Value `json:"capabilities"`
			ServerInfo   jsontext.Value            `json:"serverInfo"`
			Instructions string                    `json:"instructions"`
		} `json:"result"`
	}
	_ = jsonv2.Unmarshal(answer, &init, jsonv2.RejectUnknownMembers(false))
	caps := map[string]any{}
	for name, v := range init.Result.Capabilities {
		switch name {
		case "tools", "prompts", "resources":
			var c map[string]jsontext.Value
			if jsonv2.Unmarshal(v, &c) != nil {
				continue
			}
			caps[name] = c
		default:
			caps[name] = v
		}
	}
	res := map[string]any{"resultType": "complete", "supportedVersions": allVersions, "capabilities": caps}
	if init.Result.Instructions != "" {
		res["instructions"] = init.Result.Instructions
	}
	if len(init.Result.ServerInfo) > 0 {
		res["_meta"] = map[string]any{metaServerInfo: init.Result.ServerInfo}
	}
	b, _ := jsonv2.Marshal(res, jsonv2.Deterministic(true))
	return b
}

// callStateless runs one request in the pooled session under an id of
// the gateway's, and answers the POST with what comes back for it.
func (s *session) callStateless(w http.ResponseWriter, r *http.Request, m *rpc.Message, sseOK bool) {
	s.mu.Lock()
	s.seq++
	gid := json.RawMessage(`"mcpgov-` + strconv.FormatUint(s.seq, 10) + `"`)
	s.mu.Unlock()
	params, err := legacyParams(m.Params, s.statelessRoute(m, false))
	if err != nil {
		statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams, err.Error(), nil)
		return
	}
	body := rpc.Request(gid, m.Method, params)
	up, err := rpc.Parse(body)
	if err != nil {
		statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, err.Error(), nil)
		return
	}
	call := &statelessCall{clientID: m.ID, method: m.Method, params: m.Params, logLevel: requestLogLevel(m.Params)}
	rep := &reply{id: string(gid), out: newOutbox(), call: call, rewrite: func(answer *rpc.Message) []byte {
		if call.method == "tools/list" && answer.Result != nil {
			s.noteTools(answer.Result) // s.mu is held (WriteFrame)
		}
		return statelessAnswer(answer, call.clientID, call.method)
	}}
	if !s.register(w, up, rep, true) {
		return
	}
	// The engine returns once the upstream took the request, which for a
	// Streamable HTTP upstream is when its answer's headers come; the POST
	// is watched meanwhile, since closing it is how a stateless client
	// cancels.
	logCtx := withRequestLogging(s.ctx, r)
	go func() { _ = s.engine.FromClient(logCtx, body) }()
	s.awaitStateless(w, r, rep, sseOK)
}

// reasonClosed is why a stateless request is cancelled when its client
// closes the POST: the revision's only cancellation (its Streamable HTTP
// transport has no notifications/cancelled).
const reasonClosed = "cancelled: the client closed its POST, which is how a client of protocol " + statelessVersion + " cancels a request"

// awaitStateless answers the POST with what comes for rep: its progress
// and answer, or the server's input requests (mrtr.go).
func (s *session) awaitStateless(w http.ResponseWriter, r *http.Request, rep *reply, sseOK bool) {
	s.mu.Lock()
	out := rep.out
	s.mu.Unlock()
	cancel := func() { s.cancelStateless(rep, reasonClosed) }
	if !out.await(r.Context()) {
		cancel()
		return
	}
	if !sseOK {
		select {
		case <-out.closed():
		case <-r.Context().Done():
			cancel()
			return
		}
	}
	// An answer already there goes as one JSON body when it is all there
	// is, or when the revision gives it a status of its own (a protocol
	// error is not a stream); else the stream carries what comes.
	if n, last := out.answered(); last != nil && (!sseOK || n == 1 || statelessStatus(last) != http.StatusOK) {
		_, _ = out.take()
		writeJSON(w, statelessStatus(last), last)
		return
	}
	_ = s.stream(w, r, out, cancel, nil, 0)
}

// sessionMeta are the _meta members by which a stateless request carries
// what a legacy session learnt at initialize; a legacy upstream refuses a
// request that carries them (SEP-2575 asks it to), and its session
// already knows them.
var sessionMeta = map[string]bool{
	metaProtocolVersion: true,
	metaClientInfo:      true,
	"io.modelcontextprotocol/clientCapabilities": true,
	metaLogLevel: true,
}

// legacyParams is a stateless request's params as its upstream session
// takes them: without the members of _meta in sessionMeta, except the
// request's log level with keepLevel (for an upstream called under the
// stateless revision, which takes the level per request: loglevel.go);
// every other byte is kept.
func legacyParams(params json.RawMessage, keepLevel bool) (json.RawMessage, error) {
	var p map[string]jsontext.Value
	if len(params) == 0 || jsonv2.Unmarshal(params, &p) != nil || p["_meta"] == nil {
		return params, nil
	}
	meta, err := withoutMembers(json.RawMessage(p["_meta"]), "params._meta", func(name string) bool {
		return sessionMeta[name] && !(keepLevel && name == metaLogLevel)
	})
	if err != nil {
		return nil, err
	}
	return rpc.ReplaceMember(params, "_meta", meta)
}

// cachedMethods are the requests whose results carry the revision's
// cache fields (SEP-2549: ttlMs and cacheScope, required on the wire).
var cachedMethods = map[string]bool{"tools/list": true, "prompts/list": true, "resources/list": true,
	"resources/templates/list": true, "resources/read": true}

// statelessAnswer is an answer as the stateless revision gives it: under
// the client's id, a result with resultType "complete" (unless the server
// gave one). A list or read result also says how it may be cached: what
// the gateway answers depends on the caller (their groups, the catalog's
// rules) and on a bundle that can change at any reload, so it is
// "private" (no shared cache may serve it to another caller; an absent
// cacheScope means "public") and stale at once (ttlMs 0) unless the
// server gave a lifetime.
func statelessAnswer(a *rpc.Message, clientID json.RawMessage, method string) []byte {
	if a.Result == nil {
		return a.WithID(clientID)
	}
	res := bytes.TrimSpace(a.Result)
	var members map[string]jsontext.Value
	if len(res) < 2 || res[0] != '{' || jsonv2.Unmarshal(res, &members) != nil {
		return a.WithID(clientID)
	}
	var add []byte
	replaced := false
	if _, ok := members["resultType"]; !ok {
		add = append(add, `"resultType":"complete"`...)
	}
	if cachedMethods[method] {
		if _, ok := members["ttlMs"]; !ok {
			add = append(add, `,"ttlMs":0`...)
		}
		if v, ok := members["cacheScope"]; !ok {
			add = append(add, `,"cacheScope":"private"`...)
		} else if string(v) != `"private"` {
			if r, err := rpc.ReplaceMember(res, "cacheScope", json.RawMessage(`"private"`)); err == nil {
				res, replaced = r, true
			}
		}
	}
	if len(add) == 0 {
		if replaced {
			return rpc.ResultResponse(clientID, res)
		}
		return a.WithID(clientID)
	}
	add = bytes.TrimPrefix(add, []byte(","))
	out := make([]byte, 0, len(res)+len(add)+2)
	out = append(out, '{')
	out = append(out, add...)
	if rest := bytes.TrimSpace(res[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	out = append(out, res[1:]...)
	return rpc.ResultResponse(clientID, out)
}

// statelessStatus is the HTTP status the revision gives an answer: 404
// for an unknown method, 400 for an invalid request (one the gateway
// refuses as ambiguous), invalid params, an unsupported version or missing
// client capabilities, else 200.
func statelessStatus(answer []byte) int {
	var a struct {
		Error *struct {
			Code int64 `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(answer, &a) != nil || a.Error == nil {
		return http.StatusOK
	}
	switch a.Error.Code {
	case jsonrpc.CodeMethodNotFound:
		return http.StatusNotFound
	case jsonrpc.CodeInvalidRequest, jsonrpc.CodeInvalidParams, codeUnsupportedProtocolVersion, -32021:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// isStatelessRequest reports whether a request speaks the stateless
// revision: by its header or by its _meta.
func isStatelessRequest(header string, m *rpc.Message) bool {
	return header >= statelessVersion || strings.Contains(string(m.Params), metaProtocolVersion) && metaVersion(m.Params) >= statelessVersion
}

// passesRetry reports whether a retry goes to the server as a call of
// its own, governed as any call: when the session has an upstream called
// statelessly, whose input_required answers pass to the client as they
// are, and the retry's requestState is not one the gateway sealed (it is
// that server's own; the server checks it).
func (s *session) passesRetry(m *rpc.Message) bool {
	var p struct {
		State string `json:"requestState"`
		Name  string `json:"name"`
	}
	if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.State == "" || strings.HasPrefix(p.State, stateVersion) {
		return false
	}
	if s.aggregate && m.Method != "tools/call" {
		// Aggregated, only a tools/call is served (the engine refuses the
		// rest), on the route its namespaced name goes to. Any other
		// method names no route a foreign requestState could be meant
		// for: refused as one (resumeInput).
		return false
	}
	return s.statelessRoute(m, true)
}

// statelessRoute reports whether m goes to an upstream called under the
// stateless revision: on a server's endpoint its upstream; aggregated,
// the route its namespaced name goes to, and for a request that names
// none (a resource's URI, a list) whether any route is one (anyRoute) or
// every route is.
func (s *session) statelessRoute(m *rpc.Message, anyRoute bool) bool {
	stateless := func(i int) bool {
		hu, ok := s.ups[i].(*shim.HTTPUpstream)
		return ok && hu.IsStateless()
	}
	if !s.aggregate {
		return len(s.ups) == 1 && stateless(0)
	}
	var q struct {
		Name string `json:"name"`
	}
	if m.Method != "resources/read" && jsonv2.Unmarshal(m.Params, &q, jsonv2.RejectUnknownMembers(false)) == nil && q.Name != "" {
		ri := s.engine.RouteOf(q.Name)
		return ri >= 0 && ri < len(s.ups) && stateless(ri)
	}
	n := 0
	for i := range s.ups {
		if stateless(i) {
			n++
		}
	}
	if anyRoute {
		return n > 0
	}
	return n > 0 && n == len(s.ups)
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}
