package shim

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// The stateless revision toward the server (2026-07-28, SEP-2575): no
// initialize and no session; each request is one POST that names the
// protocol version, the client and its capabilities in params._meta, with
// Mcp-Method and Mcp-Name mirroring the body; closing the POST cancels
// it; and a server that needs the client's input answers with resultType
// "input_required", its inputRequests and a requestState, and gets the
// same request again with the inputResponses (multi round-trip requests,
// SEP-2322).
//
// The engine above sees the session it knows: the client's initialize is
// answered from the server's server/discover (which must list the
// revision), notifications/initialized is not sent, a
// notifications/cancelled closes the request's POST.

// StatelessRevision is the protocol revision without sessions.
const StatelessRevision = "2026-07-28"

// Meta keys of the stateless revision.
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"
	metaLogLevel           = "io.modelcontextprotocol/logLevel"
)

// maxInputRounds bounds the rounds of input one call may ask of a client
// of a session (the go-sdk client stops at the same number).
const maxInputRounds = 10

// maxInputRequests bounds the input requests of one round: each becomes
// a request to the client.
const maxInputRequests = 16

// inputMethods are the requests an input_required answer may ask of a
// client (SEP-2322): only these are asked of a session's client.
var inputMethods = map[string]bool{"elicitation/create": true, "sampling/createMessage": true, "roots/list": true}

// statelessUp is the state of an upstream called without a session.
type statelessUp struct {
	// passInput: input_required answers go to the client as they are
	// (it speaks the revision); else they are asked of the client as a
	// session's server requests, and the call retried with the answers.
	passInput bool

	mu     sync.Mutex
	meta   map[string]json.RawMessage // the _meta members every request carries
	calls  map[string]*upCall         // requests in flight, by raw id
	inputs map[string]inputWait       // server requests asked of the client, by raw id
	seq    uint64                     // numbers them
	// params are the x-mcp-header annotations of the tools the server
	// listed, by tool name: a call carries the annotated arguments in
	// Mcp-Param-* headers, which the revision requires.
	params map[string][]ParamHeader
	// rounds counts, with passInput, the rounds of input a call has
	// asked of its client so far, by the requestState of its last one:
	// the client's retry carrying it continues the count. Its elements
	// (passedState) are in roundsOrder, oldest first.
	rounds      map[string]*list.Element
	roundsOrder list.List
	// listen is the upstream's subscriptions/listen, with passInput
	// (http_stateless_listen.go).
	listen upListen
	// listenWait waits delay before the listen is opened again, false
	// when ctx ended first; nil waits on a timer (tests set their own,
	// to see the delays without waiting them).
	listenWait func(ctx context.Context, delay time.Duration) bool
}

// passedState is one entry of statelessUp.rounds.
type passedState struct {
	state  string
	rounds int
}

// maxPassedStates bounds statelessUp.rounds: past it, the oldest state
// is dropped (that of a call whose client never retried, most likely;
// dropping any other could reset a live call's count).
const maxPassedStates = 1024

// inputCapability is the client capability each input request needs.
var inputCapability = map[string]string{"elicitation/create": "elicitation", "sampling/createMessage": "sampling", "roots/list": "roots"}

// declared returns the input methods the client declared in params'
// _meta (the call's own), or at its initialize.
func (st *statelessUp) declared(params json.RawMessage) map[string]bool {
	var p struct {
		Meta map[string]jsontext.Value `json:"_meta"`
	}
	_ = jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false))
	raw, ok := p.Meta[metaClientCapabilities]
	if !ok {
		raw = jsontext.Value(st.meta[metaClientCapabilities])
	}
	var caps map[string]jsontext.Value
	_ = jsonv2.Unmarshal(raw, &caps, jsonv2.RejectUnknownMembers(false))
	out := map[string]bool{}
	for method, name := range inputCapability {
		if v, ok := caps[name]; ok && v.Kind() == '{' {
			out[method] = true
		}
	}
	return out
}

// checkPassedInput says why the input requests of an input_required
// answer in its round-th round cannot go to a client that declared
// the input methods declared (nil: to a session's client, whose
// capabilities the engine checks), or "" when they can.
func checkPassedInput(reqs map[string]jsontext.Value, round int, declared map[string]bool) string {
	switch {
	case round > maxInputRounds:
		return fmt.Sprintf("the server asked for the client's input more than %d times in one call", maxInputRounds)
	case len(reqs) == 0:
		return "" // busy: the client retries later
	case len(reqs) > maxInputRequests:
		return fmt.Sprintf("the server asked for %d inputs in one round; mcpgov asks a client at most %d", len(reqs), maxInputRequests)
	}
	keys := slices.Sorted(maps.Keys(reqs))
	for _, k := range keys {
		var req struct {
			Method string         `json:"method"`
			Params jsontext.Value `json:"params"`
		}
		if jsonv2.Unmarshal(reqs[k], &req, jsonv2.RejectUnknownMembers(false)) != nil || req.Method == "" {
			return fmt.Sprintf("the server's input request %q has no method", k)
		}
		if !inputMethods[req.Method] {
			return fmt.Sprintf("the server's input request %q asks for %.60q; an input request is elicitation/create, sampling/createMessage or roots/list", k, req.Method)
		}
		if declared != nil && !declared[req.Method] {
			return fmt.Sprintf("the server's input request %q asks for %s, which the client did not declare in its capabilities (%s)", k, req.Method, inputCapability[req.Method])
		}
		if kind := req.Params.Kind(); kind != '{' && kind != 0 {
			return fmt.Sprintf("the server's input request %q has params that are not an object", k)
		}
	}
	return ""
}

// noteRounds keeps the rounds of the call whose last input_required
// answer carried state; st.mu held.
func (st *statelessUp) noteRounds(state string, rounds int) {
	if state == "" {
		return
	}
	if st.rounds == nil {
		st.rounds = map[string]*list.Element{}
	}
	if e := st.rounds[state]; e != nil {
		st.roundsOrder.Remove(e)
	} else if len(st.rounds) >= maxPassedStates {
		oldest := st.roundsOrder.Front()
		delete(st.rounds, st.roundsOrder.Remove(oldest).(passedState).state)
	}
	st.rounds[state] = st.roundsOrder.PushBack(passedState{state: state, rounds: rounds})
}

// takeRounds returns the rounds of input the call params continue (its
// requestState's), 0 for a new call; st.mu held.
func (st *statelessUp) takeRounds(params json.RawMessage) int {
	var p struct {
		RequestState string `json:"requestState"`
	}
	if jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.RequestState == "" {
		return 0
	}
	e := st.rounds[p.RequestState]
	if e == nil {
		return 0
	}
	delete(st.rounds, p.RequestState)
	return st.roundsOrder.Remove(e).(passedState).rounds
}

// ParamHeader is one x-mcp-header annotation of a tool's input schema
// (SEP-2243): the property's path in the arguments, and the header's name
// part (Mcp-Param-{Header}).
type ParamHeader struct {
	Path   []string
	Header string
}

// upCall is one request of the client in flight to the server.
type upCall struct {
	m       *rpc.Message // as the engine sent it
	cancel  func()       // closes its POST in flight
	rounds  int
	asked   []string                   // ids of the server requests of the round asked of the client
	state   string                     // requestState of the round being answered
	waiting int                        // server requests of the round the client has not answered
	answers map[string]json.RawMessage // the client's answers, by input key
}

// inputWait is one server request asked of the client.
type inputWait struct {
	call   string // the raw id of the call it is for
	key    string // its key in inputRequests
	method string
}

// Stateless makes the upstream call its server under the stateless
// revision: when the catalog says the server speaks it. passInput says
// whether the client speaks it too (its input_required answers then pass
// to it as they are). Call it before the first message.
func (u *HTTPUpstream) Stateless(passInput bool) {
	u.stateless = &statelessUp{passInput: passInput, calls: map[string]*upCall{}, inputs: map[string]inputWait{}}
}

// IsStateless reports whether the upstream calls its server without a
// session.
func (u *HTTPUpstream) IsStateless() bool { return u.stateless != nil }

// writeStateless sends one message of the engine under the stateless
// revision.
func (u *HTTPUpstream) writeStateless(m *rpc.Message) error {
	st := u.stateless
	switch {
	case m.IsResponse():
		u.inputAnswered(m)
		return nil
	case m.Method == "initialize" && m.IsCall():
		return u.discover(m)
	case m.Method == "notifications/cancelled":
		u.cancelStateless(m.Params)
		return nil
	case !m.IsCall():
		// initialized, roots/list_changed: the revision has no session
		// to tell.
		return nil
	case m.Method == "ping":
		// The revision has no ping (each request reaches the server on
		// its own): answered here.
		u.deliver(frameResult{frame: rpc.ResultResponse(m.ID, json.RawMessage(`{}`))})
		return nil
	case (m.Method == "resources/subscribe" || m.Method == "resources/unsubscribe") && st.passInput:
		// The revision subscribes through subscriptions/listen.
		u.subscription(m)
		return nil
	case m.Method == "logging/setLevel":
		// The revision carries the level in each request's _meta.
		var p struct {
			Level jsontext.Value `json:"level"`
		}
		if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.Level.Kind() != '"' {
			u.deliver(frameResult{frame: rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "mcpgov: logging/setLevel needs a string level"})})
			return nil
		}
		st.mu.Lock()
		meta := maps.Clone(st.meta)
		meta[metaLogLevel] = json.RawMessage(p.Level)
		st.meta = meta
		st.mu.Unlock()
		u.deliver(frameResult{frame: rpc.ResultResponse(m.ID, json.RawMessage(`{}`))})
		return nil
	}
	c := &upCall{m: m}
	st.mu.Lock()
	if st.passInput {
		c.rounds = st.takeRounds(m.Params)
	}
	st.calls[string(m.ID)] = c
	st.mu.Unlock()
	if err := u.sendStateless(c, m.Params); err != nil {
		st.mu.Lock()
		mine := st.endCall(string(m.ID), c)
		st.mu.Unlock()
		if !mine {
			// Cancelled before or while it was sent (its POST closed
			// before the server's answer began): the call is over, not
			// refused.
			u.deliver(frameResult{frame: rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
				Message: "mcpgov: cancelled before the server answered"})})
			return nil
		}
		return err
	}
	return nil
}

// errCallOver: the call was cancelled before its POST went out.
var errCallOver = errors.New("the call was cancelled before it was sent")

// sendStateless POSTs call c with params, the revision's _meta added.
func (u *HTTPUpstream) sendStateless(c *upCall, params json.RawMessage) error {
	st := u.stateless
	st.mu.Lock()
	meta := st.meta
	st.mu.Unlock()
	p, err := withMeta(params, meta)
	if err != nil {
		return fmt.Errorf("params of %s: %w", c.m.Method, err)
	}
	m, err := rpc.Parse(rpc.Request(c.m.ID, c.m.Method, p))
	if err != nil {
		return fmt.Errorf("params of %s: %w", c.m.Method, err)
	}
	ctx, cancel := context.WithCancel(u.ctx)
	st.mu.Lock()
	if st.calls[string(c.m.ID)] != c {
		// Cancelled since (cancelStateless found no POST of it to close):
		// the server must not get it.
		st.mu.Unlock()
		cancel()
		return errCallOver
	}
	c.cancel = cancel
	st.mu.Unlock()
	return u.postWith(ctx, m, cancel)
}

// discover answers the client's initialize from the server's
// server/discover, sent with the client's info and capabilities: an
// initialize result of the client's own (earlier) revision, with the
// server's capabilities less the notifications nothing can carry without
// a session (list changes, resource subscriptions), its serverInfo and
// instructions. A server whose discover fails or does not list the
// revision gets the initialize an error saying so.
func (u *HTTPUpstream) discover(init *rpc.Message) error {
	var p struct {
		ProtocolVersion string         `json:"protocolVersion"`
		Capabilities    jsontext.Value `json:"capabilities"`
		ClientInfo      jsontext.Value `json:"clientInfo"`
	}
	_ = jsonv2.Unmarshal(init.Params, &p, jsonv2.RejectUnknownMembers(false))
	meta := map[string]json.RawMessage{metaProtocolVersion: json.RawMessage(strconv.Quote(StatelessRevision))}
	if p.ClientInfo.Kind() == '{' {
		meta[metaClientInfo] = json.RawMessage(p.ClientInfo)
	}
	meta[metaClientCapabilities] = json.RawMessage(`{}`)
	if p.Capabilities.Kind() == '{' {
		meta[metaClientCapabilities] = json.RawMessage(p.Capabilities)
	}
	st := u.stateless
	st.mu.Lock()
	st.meta = meta
	st.mu.Unlock()
	u.rt.setVersion(StatelessRevision)
	u.mu.Lock()
	u.initMsg = init // what an Authorizer learns of the client (its capabilities)
	u.mu.Unlock()

	fail := func(why string) error {
		u.deliver(frameResult{frame: rpc.ErrorResponse(init.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
			Message: "mcpgov: the catalog says the upstream server speaks protocol " + StatelessRevision + " (launch.protocol), but " + why})})
		return nil
	}
	params, err := withMeta(nil, meta)
	if err != nil {
		return fail("the client's info could not be sent: " + err.Error())
	}
	m, err := rpc.Parse(rpc.Request(json.RawMessage(`"mcpgov-discover"`), "server/discover", params))
	if err != nil {
		return fail("the client's info could not be sent: " + err.Error())
	}
	answer := make(chan []byte, 1)
	u.mu.Lock()
	u.reinitKey, u.reinit = string(m.ID), answer
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.reinit = nil
		u.mu.Unlock()
	}()
	if err := u.post(m); err != nil {
		return fail("its server/discover failed: " + err.Error())
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var frame []byte
	select {
	case frame = <-answer:
	case <-timer.C:
		return fail("it did not answer server/discover within 30s")
	case <-u.ctx.Done():
		return u.ctx.Err()
	}
	a, err := rpc.Parse(frame)
	if err != nil {
		return fail("its answer to server/discover could not be read: " + err.Error())
	}
	if a.Error != nil {
		return fail(fmt.Sprintf("it answered server/discover with an error: %.300s", a.Error))
	}
	var d struct {
		SupportedVersions []string                  `json:"supportedVersions"`
		Capabilities      map[string]jsontext.Value `json:"capabilities"`
		Instructions      string                    `json:"instructions"`
		Meta              map[string]jsontext.Value `json:"_meta"`
	}
	if err := jsonv2.Unmarshal(a.Result, &d, jsonv2.RejectUnknownMembers(false)); err != nil {
		return fail("its answer to server/discover could not be read: " + err.Error())
	}
	if !slices.Contains(d.SupportedVersions, StatelessRevision) {
		return fail(fmt.Sprintf("its server/discover lists only %s; remove launch.protocol to call it in a session", strings.Join(d.SupportedVersions, ", ")))
	}
	version := p.ProtocolVersion
	if version == "" || version >= StatelessRevision {
		version = "2025-11-25"
	}
	caps := sessionless(d.Capabilities)
	if st.passInput {
		// Its client listens, and the upstream for it.
		caps = listenable(d.Capabilities)
		st.noteListenable(d.Capabilities)
	}
	res := map[string]any{"protocolVersion": version, "capabilities": caps,
		"serverInfo": json.RawMessage(`{"name":"","version":""}`)}
	if info := d.Meta[metaServerInfo]; info.Kind() == '{' {
		res["serverInfo"] = json.RawMessage(info)
	}
	if d.Instructions != "" {
		res["instructions"] = d.Instructions
	}
	out, err := jsonv2.Marshal(res, jsonv2.Deterministic(true))
	if err != nil {
		return fail(err.Error())
	}
	u.deliver(frameResult{frame: rpc.ResultResponse(init.ID, out)})
	return nil
}

// listenable is a server's capabilities as a pooled session's client
// sees them: its list changes and resource subscriptions come through
// the upstream's listen.
func listenable(caps map[string]jsontext.Value) map[string]any {
	out := map[string]any{}
	for name, v := range caps {
		out[name] = json.RawMessage(v)
	}
	return out
}

// sessionless is a server's capabilities less what needs a session:
// listChanged and subscribe (their notifications have no stream to come
// on).
func sessionless(caps map[string]jsontext.Value) map[string]any {
	out := map[string]any{}
	for name, v := range caps {
		var members map[string]jsontext.Value
		if (name == "tools" || name == "prompts" || name == "resources") && jsonv2.Unmarshal(v, &members) == nil {
			delete(members, "listChanged")
			delete(members, "subscribe")
			out[name] = members
			continue
		}
		out[name] = json.RawMessage(v)
	}
	return out
}

// statelessAnswer handles the server's answer to a call; false when it
// is held: its input is asked of the client.
func (u *HTTPUpstream) statelessAnswer(a *rpc.Message) bool {
	st := u.stateless
	key := string(a.ID)
	st.mu.Lock()
	c := st.calls[key]
	if c == nil {
		st.mu.Unlock()
		return true
	}
	var ir struct {
		ResultType    string                    `json:"resultType"`
		InputRequests map[string]jsontext.Value `json:"inputRequests"`
		RequestState  string                    `json:"requestState"`
	}
	if c.m.Method == "tools/list" && a.Result != nil {
		st.noteTools(a.Result)
	}
	fail := func(why string) bool {
		st.mu.Unlock()
		u.answerError(c.m.ID, c, "mcpgov: "+why)
		return false
	}
	if a.Result == nil || jsonv2.Unmarshal(a.Result, &ir, jsonv2.RejectUnknownMembers(false)) != nil || ir.ResultType != "input_required" {
		st.endCall(key, c)
		st.mu.Unlock()
		return true
	}
	if st.passInput {
		// The client speaks the revision: the answer goes to it as it
		// is, checked as the input asked of a session's client is, and
		// against the capabilities the client declared with the call.
		c.rounds++
		if why := checkPassedInput(ir.InputRequests, c.rounds, st.declared(c.m.Params)); why != "" {
			return fail(why)
		}
		st.noteRounds(ir.RequestState, c.rounds)
		st.endCall(key, c)
		st.mu.Unlock()
		return true
	}
	// Asked of the client as a session's server requests, on the call's
	// own stream (Related): checked as the ones passed to a client are
	// (the engine checks them against the session's capabilities), and
	// only then registered, so that a refused round leaves none waiting.
	c.rounds++
	why := checkPassedInput(ir.InputRequests, c.rounds, nil)
	if why == "" && len(ir.InputRequests) == 0 {
		why = "the server answered input_required without input requests (it is busy); retry the call later"
	}
	if why != "" {
		return fail(why)
	}
	var asks []*rpc.Message
	var waits []inputWait
	for _, k := range slices.Sorted(maps.Keys(ir.InputRequests)) {
		var req struct {
			Method string         `json:"method"`
			Params jsontext.Value `json:"params"`
		}
		_ = jsonv2.Unmarshal(ir.InputRequests[k], &req, jsonv2.RejectUnknownMembers(false)) // checked above
		st.seq++
		id := json.RawMessage(strconv.Quote("mcpgov-input-" + strconv.FormatUint(st.seq, 10)))
		ask, err := rpc.Parse(rpc.Request(id, req.Method, json.RawMessage(req.Params)))
		if err != nil {
			return fail(fmt.Sprintf("the server's input request %q: %v", k, err))
		}
		ask.Related = c.m.ID
		asks = append(asks, ask)
		waits = append(waits, inputWait{call: key, key: k, method: req.Method})
	}
	c.asked = c.asked[:0]
	for i, ask := range asks {
		st.inputs[string(ask.ID)] = waits[i]
		c.asked = append(c.asked, string(ask.ID))
	}
	c.state, c.waiting, c.answers = ir.RequestState, len(asks), map[string]json.RawMessage{}
	st.mu.Unlock()
	for _, ask := range asks {
		u.deliverRead(ask)
	}
	return false
}

// inputAnswered takes the client's answer to a server request asked of
// it; once every request of the round is answered, the call goes to the
// server again with the answers.
func (u *HTTPUpstream) inputAnswered(a *rpc.Message) {
	st := u.stateless
	st.mu.Lock()
	w, ok := st.inputs[string(a.ID)]
	if !ok {
		st.mu.Unlock()
		fmt.Fprintf(u.stderr, "mcpgov: answer to unknown request id %.40s dropped: the server speaks %s and sent no requests\n", a.ID, StatelessRevision)
		return
	}
	delete(st.inputs, string(a.ID))
	c := st.calls[w.call]
	if c == nil {
		st.mu.Unlock()
		return // the call is over (cancelled)
	}
	if a.Error != nil {
		st.mu.Unlock()
		u.answerError(c.m.ID, c, fmt.Sprintf("mcpgov: the client answered the server's %s with an error: %.300s", w.method, a.Error))
		return
	}
	c.answers[w.key] = json.RawMessage(a.Result)
	if c.waiting--; c.waiting > 0 {
		st.mu.Unlock()
		return
	}
	answers, state := c.answers, c.state
	c.answers = nil
	st.mu.Unlock()
	responses, err := jsonv2.Marshal(answers, jsonv2.Deterministic(true))
	add := map[string]json.RawMessage{"inputResponses": responses}
	if state != "" {
		add["requestState"] = json.RawMessage(strconv.Quote(state))
	}
	var params json.RawMessage
	if err == nil {
		params, err = setMembers(c.m.Params, add, true)
	}
	if err == nil {
		err = u.sendStateless(c, params)
	}
	if err != nil {
		st.mu.Lock()
		mine := st.endCall(w.call, c)
		st.mu.Unlock()
		msg := "mcpgov: the call could not be sent again with the client's input: " + err.Error()
		if !mine {
			msg = "mcpgov: cancelled before the server answered"
		}
		u.deliver(frameResult{frame: rpc.ErrorResponse(c.m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg})})
	}
}

// endCall forgets call key: its entry and the server requests asked of
// the client for it; st.mu held. Every answer the engine gets for a call
// comes after it (statelessAnswer for the server's, answerError for
// mcpgov's own), so no way a call ends leaves its state behind. c, when
// set, is the call meant: false, and nothing forgotten, when key is no
// longer it (it ended already).
func (st *statelessUp) endCall(key string, c *upCall) bool {
	cur := st.calls[key]
	if cur == nil || (c != nil && cur != c) {
		return false
	}
	delete(st.calls, key)
	for _, id := range cur.asked {
		delete(st.inputs, id)
	}
	return true
}

// statelessUnanswered answers call m of a stateless upstream with an
// error when its POST was answered without its answer: the revision
// answers each request on its own POST, so none is coming and the call
// would wait forever. why says what the server did; nothing happens for
// an upstream with a session (its answers may come on the GET stream) or
// a call no longer in flight.
func (u *HTTPUpstream) statelessUnanswered(m *rpc.Message, why string) {
	st := u.stateless
	if st == nil || !m.IsCall() {
		return
	}
	st.mu.Lock()
	c := st.calls[string(m.ID)]
	st.mu.Unlock()
	if c == nil {
		return
	}
	u.answerError(m.ID, c, fmt.Sprintf("mcpgov: the upstream server %s, without the answer to %s; a server of %s answers each request on its POST", why, c.m.Method, StatelessRevision))
}

// statelessStrayAnswer says what a JSON body held instead of the call's
// answer: the message of id (nil: none could be read, or it had no id).
func statelessStrayAnswer(id json.RawMessage) string {
	if id == nil {
		return "answered its POST with a JSON body that is not a message with an id"
	}
	return fmt.Sprintf("answered its POST with a JSON body for id %.40s, not the call's", id)
}

// answerError answers call id with mcpgov's error message, its state
// forgotten first on a stateless upstream (endCall: c, when set, is the
// call meant). The answer the server never gave, or that cannot go on,
// goes this way.
func (u *HTTPUpstream) answerError(id json.RawMessage, c *upCall, message string) {
	if st := u.stateless; st != nil {
		st.mu.Lock()
		st.endCall(string(id), c)
		st.mu.Unlock()
	}
	u.deliver(frameResult{frame: rpc.ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: message})})
}

// cancelStateless cancels a call: its POST is closed, which is how the
// revision cancels; a call waiting for the client's input is answered
// with an error at once (no POST of it is open).
func (u *HTTPUpstream) cancelStateless(params json.RawMessage) {
	var p struct {
		RequestID jsontext.Value `json:"requestId"`
	}
	if jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false)) != nil || len(p.RequestID) == 0 {
		return
	}
	st := u.stateless
	key := string(p.RequestID)
	st.mu.Lock()
	c := st.calls[key]
	if c == nil {
		st.mu.Unlock()
		return
	}
	// Read under st.mu: sendStateless sets it for each POST of the call
	// (a retry's too), and sends none once the call is gone from calls.
	asking, cancel := c.waiting > 0, c.cancel
	st.endCall(key, c)
	st.mu.Unlock()
	if asking {
		u.deliver(frameResult{frame: rpc.ErrorResponse(c.m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: cancelled while the server waited for the client's input"})})
		return
	}
	if cancel != nil {
		cancel()
	}
}
