package gateway

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Server-to-client requests under the stateless revision: multi
// round-trip requests (MRTR, SEP-2322).
//
// A client of 2026-07-28 gets no server requests: when a server needs the
// user's input or a model's answer, it answers the client's tools/call,
// prompts/get or resources/read with resultType "input_required", the
// requests (inputRequests) and an opaque requestState; the client retries
// the same request with its answers (inputResponses) and the state.
//
// The gateway's upstreams speak 2025-11-25, whose servers send
// elicitation/create and sampling/createMessage as requests in their
// session while the call waits. The pooled upstream session of a client
// that declares elicitation or sampling (in its _meta clientCapabilities)
// is opened with those capabilities, and a server's request during one of
// that client's calls:
//   - answers the call's POST with input_required, the request under a key
//     of the gateway's ("elicitation-1"), and a requestState sealed with
//     AES-GCM under a key of the gateway's, naming the waiting call, the
//     round, the verified caller, the endpoint, the method and a digest of
//     the request's name (or URI) and arguments, and an expiry;
//   - the upstream request and the call stay open. The retry must come
//     from the same caller, on the same endpoint, repeat the request, and
//     carry the state of the latest round (each is good for one retry:
//     state is kept by the gateway, so a copied state cannot be replayed);
//     it is governed again as a new call is (Session.Recheck: identity,
//     tool rules, guardrails, rate limits, Rego); its answers go to the
//     waiting upstream requests, byte for byte as the client sent them,
//     and the retry's POST carries the rest of the call: its progress, a
//     further round, or the answer. The call is recorded once, when it
//     ends, as any call;
//   - a retry that never comes: after InputTimeout the upstream's requests
//     are answered with an error, the call is cancelled upstream and
//     recorded as cancelled, with why. A retry that answers only some of
//     the requests gets the others asked again;
//   - a server request is tied to the call on whose answer stream it came
//     (Streamable HTTP: a server sends its requests about a call there);
//     one that came elsewhere (the GET stream, a stdio server) is tied to
//     the one call of the client in flight. One the gateway cannot tie to
//     exactly one call (none, several at once: such a request does not
//     say which call it is for; or the call it came with is over), or one
//     the client did not declare, is answered with an error that says so.
//
// The waiting call lives on the replica that holds the pooled session.
// With AdvertiseURL set, the sealed state names that replica, and a retry
// another replica receives is forwarded there and answered from there
// (forward.go); without it, that retry gets an error naming the setting.
// A replica that drains keeps taking the retries of the calls it holds,
// direct or forwarded, until they end or the drain's deadline cancels
// them (ops.go).

// DefaultInputTimeout bounds how long a call waits for its client's
// retry with the input its server asked for: a person filling in a form
// takes minutes (server-everything gives its own elicitation 10).
const DefaultInputTimeout = 10 * time.Minute

// inputMethods are the requests a server may answer with input_required.
var inputMethods = map[string]bool{"tools/call": true, "prompts/get": true, "resources/read": true}

// metaClientCapabilities is the _meta member with the client's
// capabilities.
const metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"

// inputCapabilities are the client capabilities a pooled session is
// opened with: the server requests MRTR carries that mcpgov relays. Roots
// are not offered: servers ask for them right after initialize, outside
// any call, where no answer could carry them.
var inputCapabilities = map[string]string{"elicitation": "elicitation/create", "sampling": "sampling/createMessage"}

// clientInputCapabilities returns the members of the client's declared
// capabilities that pooled sessions relay, as the client wrote them.
func clientInputCapabilities(meta map[string]any) map[string]any {
	caps, _ := meta[metaClientCapabilities].(map[string]any)
	out := map[string]any{}
	for name := range inputCapabilities {
		if v, ok := caps[name]; ok && v != nil {
			out[name] = v
		}
	}
	return out
}

// statelessCall is one request of a stateless client in its pooled
// session.
type statelessCall struct {
	clientID json.RawMessage // the id of the POST that waits for it now
	method   string
	params   json.RawMessage // as the client sent them
	input    *inputCall      // once its server asked for input
	logLevel string          // the least level of the log messages it takes (loglevel.go)
}

// inputCall returns the input state of a stateless call, if its server
// asked for input.
func (rep *reply) inputCall() *inputCall {
	if rep.call == nil {
		return nil
	}
	return rep.call.input
}

// inputCall is a call whose server asked for the client's input.
type inputCall struct {
	key      string // names it in its requestState
	s        *session
	rep      *reply
	who      audit.Identity
	endpoint string
	seq      int                     // numbers its input keys
	pending  map[string]pendingInput // the server's requests not answered yet, by key
	round    uint64                  // the round whose requestState is good
	parked   bool                    // answered input_required; waiting for the retry
	timer    *time.Timer
	final    *rpc.Message // its answer, come while no POST waited
}

// pendingInput is one request of the server waiting for the client.
type pendingInput struct {
	id     json.RawMessage // as the engine gave it to the client
	method string
	params json.RawMessage
}

// serverRequest handles a request of the server in a pooled session;
// related is the call it came with, when the transport said; s.mu is
// held.
func (s *session) serverRequest(m *rpc.Message, related json.RawMessage) {
	if m.Method == "ping" {
		go s.fromClient(rpc.ResultResponse(m.ID, json.RawMessage(`{}`)))
		return
	}
	refuse := func(code int64, why string) {
		s.h.warnf("%s from the upstream server answered with an error: %s", m.Method, why)
		answer := rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: code, Message: "mcpgov: " + why})
		go s.fromClient(answer)
	}
	if !s.inputCaps[m.Method] {
		refuse(jsonrpc.CodeMethodNotFound, fmt.Sprintf("%s is not relayed: the gateway's client speaks protocol %s and did not declare the capability for it", m.Method, statelessVersion))
		return
	}
	var target *reply
	n := 0
	if related != nil {
		// It came on the answer stream of the call it is about.
		rep := s.waiters[string(related)]
		switch {
		case rep == nil:
			refuse(jsonrpc.CodeInternalError, fmt.Sprintf("%s came with a request of the client that no longer waits (answered, cancelled or abandoned)", m.Method))
			return
		case rep.call == nil || !inputMethods[rep.call.method]:
			method := "a request"
			if rep.call != nil {
				method = rep.call.method
			}
			refuse(jsonrpc.CodeInternalError, fmt.Sprintf("%s came with the client's %s, whose answer cannot carry input requests (only tools/call, prompts/get and resources/read can)", m.Method, method))
			return
		}
		target, n = rep, 1
	} else {
		for _, rep := range s.waiters {
			if rep.call != nil && inputMethods[rep.call.method] {
				target = rep
				n++
			}
		}
	}
	switch {
	case n == 0:
		refuse(jsonrpc.CodeInternalError, fmt.Sprintf("%s came while no call of the client was in flight to carry it", m.Method))
		return
	case n > 1:
		refuse(jsonrpc.CodeInternalError, fmt.Sprintf("%s came while %d calls of the client were in flight in one upstream session, and the request does not say which it is for", m.Method, n))
		return
	}
	ic := target.call.input
	if ic == nil {
		ic = &inputCall{key: randomHex(16), s: s, rep: target, who: s.who, endpoint: s.endpoint, pending: map[string]pendingInput{}}
		target.call.input = ic
		if s.inputs == nil {
			s.inputs = map[*inputCall]bool{}
		}
		s.inputs[ic] = true
		s.h.inputsMu.Lock()
		s.h.inputs[ic.key] = ic
		s.h.inputsMu.Unlock()
	}
	ic.seq++
	name, _, _ := strings.Cut(m.Method, "/")
	ic.pending[name+"-"+strconv.Itoa(ic.seq)] = pendingInput{id: bytes.Clone(m.ID), method: m.Method, params: bytes.Clone(m.Params)}
	if !ic.parked {
		s.askInput(ic)
	}
}

// askInput answers the POST the call waits on with input_required and
// every request of the server not answered yet, and parks the call until
// the retry; s.mu is held.
func (s *session) askInput(ic *inputCall) {
	if ic.parked {
		return // asked already: the latest requestState stays the good one
	}
	rep := ic.rep
	ic.round++
	timeout := s.h.opts.InputTimeout
	state, err := s.h.sealState(sealedState{Call: ic.key, Round: ic.round, Who: callerDigest(ic.who), Endpoint: ic.endpoint,
		Method: rep.call.method, Digest: requestDigest(rep.call.method, rep.call.params), Expires: time.Now().Add(timeout).UnixMilli()})
	if err != nil {
		s.h.warnf("sealing a requestState: %v", err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"resultType":"input_required","inputRequests":{`)
	keys := make([]string, 0, len(ic.pending))
	for k := range ic.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		p := ic.pending[k]
		if i > 0 {
			b.WriteByte(',')
		}
		kq, _ := jsontext.AppendQuote(nil, k)
		mq, _ := jsontext.AppendQuote(nil, p.method)
		b.Write(kq)
		b.WriteString(`:{"method":`)
		b.Write(mq)
		if len(p.params) > 0 {
			b.WriteString(`,"params":`)
			b.Write(p.params)
		}
		b.WriteByte('}')
	}
	sq, _ := jsontext.AppendQuote(nil, state)
	b.WriteString(`},"requestState":`)
	b.Write(sq)
	b.WriteByte('}')
	rep.out.push(rpc.ResultResponse(rep.call.clientID, b.Bytes()))
	rep.out.close()
	delete(s.live, rep)
	ic.parked = true
	round := ic.round
	ic.timer = time.AfterFunc(timeout, func() { s.inputExpired(ic, round) })
}

// inputExpired gives up on a call whose client did not retry in time.
func (s *session) inputExpired(ic *inputCall, round uint64) {
	s.mu.Lock()
	waiting := ic.parked && ic.round == round && s.inputs[ic]
	s.mu.Unlock()
	if !waiting {
		return
	}
	why := fmt.Sprintf("the client did not answer the server's input requests within %s", s.h.opts.InputTimeout)
	s.h.warnf("call %s abandoned: %s", ic.rep.id, why)
	s.cancelStateless(ic.rep, why)
}

// cancelStateless ends a stateless request nobody waits for any more:
// the server's requests still waiting for the client's input are answered
// with an error, and the call is cancelled upstream, recorded with why.
func (s *session) cancelStateless(rep *reply, why string) {
	s.forget(rep)
	var pending []pendingInput
	var answered bool
	s.mu.Lock()
	ic := rep.call.input
	if ic != nil {
		for _, p := range ic.pending {
			pending = append(pending, p)
		}
		ic.pending = map[string]pendingInput{}
		ic.parked = false
		if ic.timer != nil {
			ic.timer.Stop()
		}
		answered = ic.final != nil
		delete(s.inputs, ic)
	}
	s.mu.Unlock()
	if ic != nil {
		s.h.dropInput(ic)
	}
	if answered {
		return // the engine recorded it as it passed
	}
	for _, p := range pending {
		s.fromClient(rpc.ErrorResponse(p.id, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + why}))
	}
	s.engine.CancelRequest(context.WithoutCancel(s.ctx), json.RawMessage(rep.id), why)
}

// dropInput forgets a call's requestState.
func (h *Handler) dropInput(ic *inputCall) {
	h.inputsMu.Lock()
	if h.inputs[ic.key] == ic {
		delete(h.inputs, ic.key)
	}
	h.inputsMu.Unlock()
	h.drainWake()
}

// endInputs forgets the waiting calls of a session that ended.
func (s *session) endInputs(inputs map[*inputCall]bool) {
	for ic := range inputs {
		if ic.timer != nil {
			ic.timer.Stop()
		}
		s.h.dropInput(ic)
	}
}

// retryMembers are the members by which a retry carries its input.
var retryMembers = []string{"inputResponses", "requestState"}

// isRetry reports whether a stateless request carries input for a call
// that waits for it: whether a top-level member of its params, decoded
// (so "request\u0053tate" is requestState) and compared without case (as
// rpc.CheckNames compares names), is one of retryMembers. The same text
// deeper in params (a tool's arguments) is not a retry. Params that do
// not parse are not a retry: the normal path refuses them.
func isRetry(m *rpc.Message) bool {
	if !inputMethods[m.Method] || len(m.Params) == 0 {
		return false
	}
	dec := jsontext.NewDecoder(bytes.NewReader(m.Params))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return false
		}
		for _, r := range retryMembers {
			if strings.EqualFold(name.String(), r) {
				return true
			}
		}
		if dec.SkipValue() != nil {
			return false
		}
	}
	return false
}

// retryCheck is what checkRetry found of a retry: the state it carries
// and its answers, or why it is refused (status and why).
type retryCheck struct {
	st        sealedState
	responses map[string]jsontext.Value
	status    int
	why       string
}

// checkRetry checks a stateless client's retry against the state it
// carries (sealed by a replica of the gateway, for this caller, endpoint
// and request, not expired). It needs no session: a retry whose state
// names another replica is forwarded there once it passes
// (retryElsewhere), before any pooled session of this replica is looked
// up.
func (h *Handler) checkRetry(r *http.Request, ep endpoint, m *rpc.Message) retryCheck {
	refuse := func(status int, why string) retryCheck { return retryCheck{status: status, why: why} }
	if err := rpc.CheckNames(m.Params, "params"); err != nil {
		return refuse(http.StatusBadRequest, err.Error())
	}
	var p map[string]jsontext.Value
	if err := jsonv2.Unmarshal(m.Params, &p); err != nil {
		return refuse(http.StatusBadRequest, fmt.Sprintf("params of %s: %v", m.Method, err))
	}
	var token string
	if v := p["requestState"]; v == nil || jsonv2.Unmarshal(v, &token) != nil || token == "" {
		return refuse(http.StatusBadRequest, "inputResponses without a requestState: a retry carries the requestState of the input_required answer it answers")
	}
	var responses map[string]jsontext.Value
	if v := p["inputResponses"]; v != nil {
		if err := jsonv2.Unmarshal(v, &responses); err != nil || v.Kind() != '{' {
			return refuse(http.StatusBadRequest, "inputResponses must be an object of answers by input request key")
		}
	}
	st, err := h.openState(token)
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error())
	}
	switch {
	case time.Now().UnixMilli() > st.Expires:
		return refuse(http.StatusBadRequest, fmt.Sprintf("requestState expired at %s (a call waits at most %s for its input); send the request again without it",
			time.UnixMilli(st.Expires).UTC().Format(time.RFC3339), h.opts.InputTimeout))
	case st.Who != callerDigest(caller(r)):
		return refuse(http.StatusForbidden, "requestState was issued to another caller; only the caller whose call asked for input may answer it")
	case st.Endpoint != ep.path:
		return refuse(http.StatusBadRequest, fmt.Sprintf("requestState belongs to a call on %s; retry it there", st.Endpoint))
	case st.Method != m.Method || st.Digest != requestDigest(m.Method, m.Params):
		return refuse(http.StatusBadRequest, fmt.Sprintf("the retry must repeat the original %s request (its name or URI and arguments) with its inputResponses and requestState", st.Method))
	}
	return retryCheck{st: st, responses: responses}
}

// resumeInput serves a stateless client's retry of a call that waits for
// its input on this replica, rc what checkRetry found of it.
// A retry refused is recorded in the caller's pooled session (mine), as
// the engine records the messages it refuses: a forged, foreign or
// replayed state is worth a look.
func (h *Handler) resumeInput(w http.ResponseWriter, r *http.Request, ep endpoint, mine *session, m *rpc.Message, sseOK bool, rc retryCheck) {
	bad := func(status int, msg string) {
		mine.engine.Refuse(mine.ctx, m.Method, "retry refused: "+msg)
		statelessError(w, m.ID, status, jsonrpc.CodeInvalidParams, msg, nil)
	}
	if rc.why != "" {
		bad(rc.status, rc.why)
		return
	}
	st, responses, who := rc.st, rc.responses, caller(r)
	h.inputsMu.Lock()
	ic := h.inputs[st.Call]
	h.inputsMu.Unlock()
	if ic == nil && st.Replica == "" && len(h.opts.SessionKey) > 0 && drainRefuse(w, r) {
		return // perhaps held by another replica, which the client may reach
	}
	if ic == nil {
		bad(http.StatusBadRequest, h.callOver(st))
		return
	}
	if !sameCaller(ic.who, who) || ic.endpoint != ep.path {
		bad(http.StatusForbidden, "requestState was issued to another caller; only the caller whose call asked for input may answer it")
		return
	}
	s := ic.s
	rep := ic.rep
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		bad(http.StatusBadRequest, "the call this requestState continues is over: its upstream session ended; send the request again without requestState")
		return
	}
	if !s.inputs[ic] || ic.round != st.Round || !ic.parked {
		s.mu.Unlock()
		bad(http.StatusBadRequest, "requestState was used already (each is good for one retry); retry with the requestState of the latest input_required answer")
		return
	}
	var deliver [][]byte
	var keys []string
	for key, pi := range ic.pending {
		v, ok := responses[key]
		if !ok {
			continue // asked again below
		}
		if err := checkInputResponse(pi.method, v); err != nil {
			s.mu.Unlock()
			bad(http.StatusBadRequest, fmt.Sprintf("inputResponses[%q] (the answer to %s): %v", key, pi.method, err))
			return
		}
		deliver = append(deliver, rpc.ResultResponse(pi.id, json.RawMessage(v)))
		keys = append(keys, key)
	}
	// The retry's POST waits for the rest of the call from now on.
	ic.parked = false
	ic.timer.Stop()
	rep.call.clientID = m.ID
	rep.call.logLevel = requestLogLevel(m.Params)
	rep.out = newOutbox()
	if sseOK {
		s.live[rep] = true
	}
	for _, k := range keys {
		delete(ic.pending, k)
	}
	final := ic.final
	s.mu.Unlock()
	noteSession(r, s)
	s.touch()

	original, err := withoutMembers(m.Params, "params", func(name string) bool { return slices.Contains(retryMembers, name) })
	if err != nil {
		s.cancelStateless(rep, "its retry could not be read: "+err.Error())
		bad(http.StatusBadRequest, err.Error())
		return
	}
	if refusal := s.engine.Recheck(withRequestLogging(s.ctx, r), m.ID, m.Method, original); refusal != nil {
		s.cancelStateless(rep, "refused when the client retried it with its input")
		writeJSON(w, statelessStatus(refusal), refusal)
		return
	}
	for _, d := range deliver {
		s.fromClient(d)
	}
	s.mu.Lock()
	switch {
	case final != nil:
		delete(s.inputs, ic)
		rep.out.push(rep.rewrite(final))
		rep.out.close()
	case len(ic.pending) > 0:
		// What the client left unanswered, and what came since, unless
		// a request that came since asked already.
		s.askInput(ic)
	}
	s.mu.Unlock()
	if final != nil {
		h.dropInput(ic)
	}
	s.awaitStateless(w, r, rep, sseOK)
}

// checkInputResponse checks a client's answer to a server's request
// before it goes upstream: the members its result type requires.
func checkInputResponse(method string, v jsontext.Value) error {
	if v.Kind() != '{' {
		return errors.New("must be an object")
	}
	var members map[string]jsontext.Value
	if err := jsonv2.Unmarshal(v, &members); err != nil {
		return err
	}
	switch method {
	case "elicitation/create":
		var action string
		if jsonv2.Unmarshal(members["action"], &action) != nil || action != "accept" && action != "decline" && action != "cancel" {
			return errors.New(`needs "action": "accept", "decline" or "cancel"`)
		}
		if c := members["content"]; c != nil && c.Kind() != '{' && c.Kind() != 'n' {
			return errors.New(`"content" must be an object`)
		}
	case "sampling/createMessage":
		var role string
		if jsonv2.Unmarshal(members["role"], &role) != nil || role == "" {
			return errors.New(`needs a string "role"`)
		}
		if members["content"] == nil {
			return errors.New(`needs "content"`)
		}
	}
	return nil
}

// sealedState is what a requestState carries, sealed.
type sealedState struct {
	Call     string `json:"c"` // the waiting call
	Round    uint64 `json:"r"` // its round this state answers
	Who      string `json:"w"` // digest of the verified caller
	Endpoint string `json:"e"`
	Method   string `json:"m"`
	Digest   string `json:"d"` // of the request's name or URI and arguments
	Expires  int64  `json:"x"` // Unix milliseconds
	// Replica is the AdvertiseURL of the replica holding the call, and
	// Instance its process (forward.go); empty without AdvertiseURL.
	Replica  string `json:"a,omitempty"`
	Instance string `json:"i,omitempty"`
}

// stateVersion prefixes the requestStates this gateway seals.
const stateVersion = "mcpgov1."

// stateAEAD returns the cipher that seals requestStates: keyed from
// SessionKey when replicas share one (so that each can read the others'
// states and say where the call waits), else from a random key of this
// process.
func (h *Handler) stateAEAD() (cipher.AEAD, error) {
	h.stateOnce.Do(func() {
		var key [32]byte
		if len(h.opts.SessionKey) > 0 {
			key = sha256.Sum256(append([]byte("mcpgov requestState\x00"), h.opts.SessionKey...))
		} else if _, err := rand.Read(key[:]); err != nil {
			h.stateErr = err
			return
		}
		block, err := aes.NewCipher(key[:])
		if err != nil {
			h.stateErr = err
			return
		}
		h.stateCipher, h.stateErr = cipher.NewGCM(block)
	})
	return h.stateCipher, h.stateErr
}

// sealState seals st into a requestState.
func (h *Handler) sealState(st sealedState) (string, error) {
	aead, err := h.stateAEAD()
	if err != nil {
		return "", err
	}
	if h.opts.AdvertiseURL != "" {
		st.Replica, st.Instance = h.opts.AdvertiseURL, h.replicas.instance
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(stateVersion))
	return stateVersion + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// errForgedState: the requestState was not sealed by this gateway, or was
// altered.
var errForgedState = errors.New("requestState was not issued by this gateway, or was altered; echo the requestState of the input_required answer exactly")

// openState opens a requestState sealState made.
func (h *Handler) openState(token string) (sealedState, error) {
	var st sealedState
	aead, err := h.stateAEAD()
	if err != nil {
		return st, err
	}
	rest, ok := strings.CutPrefix(token, stateVersion)
	if !ok {
		return st, errForgedState
	}
	sealed, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(sealed) < aead.NonceSize() {
		return st, errForgedState
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(stateVersion))
	if err != nil {
		return st, errForgedState
	}
	if err := json.Unmarshal(plain, &st); err != nil {
		return st, errForgedState
	}
	return st, nil
}

// callerDigest names a verified caller in a requestState.
func callerDigest(id audit.Identity) string {
	sum := sha256.Sum256([]byte(id.Method + "\x00" + id.Issuer + "\x00" + id.Subject))
	return hex.EncodeToString(sum[:16])
}

// requestDigest digests what a retry must repeat of the request it
// retries: its name or URI and its arguments, canonical (RFC 8785), so
// that a client's re-encoding of the same request matches.
func requestDigest(method string, params json.RawMessage) string {
	var p struct {
		Name      string         `json:"name"`
		URI       string         `json:"uri"`
		Arguments jsontext.Value `json:"arguments"`
	}
	_ = jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false))
	args := []byte("null")
	if len(p.Arguments) > 0 {
		v := p.Arguments.Clone()
		if v.Canonicalize() == nil {
			args = v
		}
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(p.Name), []byte(p.URI), args} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// withoutMembers is the object obj (what names it in errors) without the
// members drop names; every other byte is kept.
func withoutMembers(obj json.RawMessage, what string, drop func(name string) bool) (json.RawMessage, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, fmt.Errorf("%s must be an object", what)
	}
	_ = enc.WriteToken(jsontext.BeginObject)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		member := name.String()
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		if drop(member) {
			continue
		}
		if err := enc.WriteToken(jsontext.String(member)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(v); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(out.Bytes(), "\n")), nil
}
