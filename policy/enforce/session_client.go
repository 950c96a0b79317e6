package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
)

// governedMethods are the client requests whose params the core reads or
// whose answers reach the model: their params must read the same to every
// parser (no case-variant members at any depth), and they are never
// forwarded without an id.
var governedMethods = map[string]bool{
	"tools/call": true, "resources/read": true, "prompts/get": true, "completion/complete": true,
	"tasks/result": true, "tasks/get": true, "tasks/cancel": true, "tasks/list": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
	"tools/list": true, "resources/list": true, "resources/templates/list": true, "prompts/list": true,
	"initialize": true, "notifications/cancelled": true,
}

// FromClient handles one frame the client sent. It returns an error only
// when the client can no longer be written to. Work that may take time
// (a tools/call's hooks and record) runs on a goroutine of the session's
// own, so the caller goes on reading.
func (s *Session) FromClient(ctx context.Context, frame []byte) error {
	return s.FromClientHandoff(ctx, frame, nil)
}

// FromClientHandoff is FromClient for a transport whose reader can hand
// reading on: before work that may take time, the session calls handoff,
// which must start the transport's next reader, and then does the work on
// the caller's goroutine, which must not read again. The message is then
// handled by the goroutine that read it, with no wake-up of another on its
// path, while pings and cancellations are read by the next reader. With
// handoff nil it is FromClient.
func (s *Session) FromClientHandoff(ctx context.Context, frame []byte, handoff func()) error {
	m, err := rpc.Parse(frame)
	if err != nil {
		if errors.Is(err, rpc.ErrAmbiguous) {
			s.warnf("message from the client refused: %v", err)
			s.refused(ctx, "", err.Error())
		}
		return s.client.WriteFrame(rpc.ParseErrorResponse(err, rpc.LenientID(frame)))
	}
	return s.fromClient(ctx, m, s.worker(handoff))
}

// FromClientMessage is FromClient for a message the transport parsed
// already (rpc.Parse): the session does not parse it again. The caller
// must not change m.
func (s *Session) FromClientMessage(ctx context.Context, m *rpc.Message) error {
	return s.fromClient(ctx, m, s.worker(nil))
}

// worker returns how to run work that may take time. Work that cannot
// block (block false: local hooks, a write to the audit file) runs at
// once on the caller's goroutine, which holds the message; work that may
// block runs after the reader was handed on (handoff), or without a
// handoff on a goroutine of its own. Either way the session waits for it
// before it drains.
func (s *Session) worker(handoff func()) func(block bool, work func()) {
	return func(block bool, work func()) {
		s.finishing.add()
		defer s.finishing.done()
		if !block {
			work()
			return
		}
		if handoff == nil {
			s.finishing.add()
			go func() {
				defer s.finishing.done()
				work()
			}()
			return
		}
		handoff()
		work()
	}
}

// ClientOversize answers a client frame the transport could not take
// whole (err says why); id is its id when the transport could read it.
func (s *Session) ClientOversize(ctx context.Context, id json.RawMessage, err error) error {
	s.warnf("message from the client refused: %v", err)
	s.refused(ctx, "", err.Error())
	return s.client.WriteFrame(rpc.ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "mcpgov: " + err.Error()}))
}

// fromClient routes one parsed message of the client.
func (s *Session) fromClient(ctx context.Context, m *rpc.Message, run func(bool, func())) error {
	if m.IsResponse() { // an answer to an upstream's own request
		s.answerToUpstream(m)
		return nil
	}
	if governedMethods[m.Method] {
		if err := rpc.CheckNames(m.Params, "params"); err != nil {
			s.warnf("%s from the client refused: %v", m.Method, err)
			s.refused(ctx, m.Method, err.Error())
			return s.client.WriteFrame(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + err.Error()}))
		}
	}
	if m.Method == "notifications/cancelled" {
		s.cancelled(ctx, m)
		return nil
	}
	if m.IsNotification() {
		if strings.HasPrefix(m.Method, "notifications/") {
			for i := range s.routes {
				_ = s.routes[i].upstream.WriteFrame(m.Raw)
			}
			return nil
		}
		// A request without an id (or with id null) is not a call a
		// client can be answered for, yet lenient servers execute it:
		// it is never forwarded.
		reason := fmt.Sprintf("request %s without an id is never forwarded", m.Method)
		s.warnf("%s", reason)
		s.refused(ctx, m.Method, reason)
		return s.client.WriteFrame(rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + reason}))
	}
	if s.aggregate {
		return s.aggregateCall(ctx, m, run)
	}
	return s.forward(ctx, 0, m, m.Params, run)
}

// answerToUpstream passes the client's answer to an upstream's request
// to the upstream that asked.
func (s *Session) answerToUpstream(m *rpc.Message) {
	if !s.aggregate {
		_ = s.routes[0].upstream.WriteFrame(m.Raw)
		return
	}
	if m.ID == nil {
		return
	}
	to, ok := s.reverse.take(m.ID)
	if !ok {
		s.warnf("answer to unknown request id %.40s from the client dropped", m.ID)
		return
	}
	_ = s.routes[to.route].upstream.WriteFrame(m.WithID(to.id))
}

// forward sends one call of the client to route ri, governed by the
// route's core; params are what goes upstream (an aggregated tools/call
// has the route's prefix removed from its tool name).
func (s *Session) forward(ctx context.Context, ri int, m *rpc.Message, params json.RawMessage, run func(bool, func())) error {
	core := s.core(ri)
	c, err := s.pending.add(m.ID, m.Method, ri, core)
	if err != nil {
		reason := fmt.Sprintf("%s with id %s refused: %v", m.Method, m.ID, err)
		s.warnf("%s", reason)
		s.refused(ctx, m.Method, reason)
		// Answered with id null: an answer with the duplicate id would be
		// taken for the answer to the call in flight.
		return s.client.WriteFrame(rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + reason}))
	}
	if core != nil {
		switch m.Method {
		case "initialize":
			core.SetClient(clientInfo(m.Params))
		case "tools/call":
			// Hooks that may block (a remote detector, an fsync, the
			// session's own tools/list to verify pins) decide while
			// another goroutine reads, so pings, cancellations and other
			// calls never wait behind one; the rest decide at once.
			// The params are read once for the checks here, in govern
			// and in BeginCall.
			rc := readCall(params)
			run(core.MayBlock() || core.unverified(rc.name), func() { s.govern(ctx, ri, c, rc) })
			return nil
		case "tasks/result":
			c.state = core.BeginTaskResult(params)
		case "resources/read", "prompts/get":
			st, v := core.BeginRequest(ctx, m.Method, params)
			if !v.Pass {
				s.pending.forget(c)
				return s.client.WriteFrame(answer(c.clientID, v))
			}
			c.state = st
		}
	}
	c.forwarded = true
	out := m.WithID(c.up)
	if !bytesEqual(params, m.Params) {
		out = rpc.Request(c.up, m.Method, params)
	}
	if err := s.routes[ri].upstream.WriteFrame(out); err != nil {
		s.notAccepted(c, err)
		// The transport sees the upstream's exit and ends the session.
	}
	return nil
}

func bytesEqual(a, b json.RawMessage) bool { return string(a) == string(b) }

// refused records a message the session refused to forward.
// Refuse records a message the transport refused on the session's behalf
// before it reached the session (a body it could not parse, a request
// without an id, an id already in flight), as the session records its own
// refusals: a warning line and a message_refused record.
func (s *Session) Refuse(ctx context.Context, method, reason string) {
	if method != "" {
		s.warnf("%s from the client refused: %s", method, reason)
	} else {
		s.warnf("message from the client refused: %s", reason)
	}
	s.refused(ctx, method, reason)
}

func (s *Session) refused(ctx context.Context, method, reason string) {
	if core := s.core(0); core != nil {
		core.RefuseMessage(ctx, method, reason)
	}
}

// cancelled relays the client's cancellation of one of its calls under
// the call's upstream id. A call still being decided never goes upstream
// and is recorded as cancelled now; a forwarded one is recorded when its
// late answer (dropped) arrives or the session ends.
func (s *Session) cancelled(ctx context.Context, m *rpc.Message) {
	requestID := rpc.CancelledID(m.Params)
	if requestID == nil {
		return
	}
	c, forwarded := s.pending.cancel(requestID)
	if c == nil {
		return // not in flight: nothing to cancel upstream
	}
	if !forwarded {
		if c.state != nil {
			s.finishing.add()
			go func() {
				defer s.finishing.done()
				c.core.CancelCall(ctx, c.state, "cancelled by the client while being checked; never sent upstream")
			}()
		}
		return
	}
	if c.route < 0 {
		return
	}
	params, err := rpc.ReplaceMember(m.Params, "requestId", c.up)
	if err != nil {
		return
	}
	n, err := rpc.Notification("notifications/cancelled", params)
	if err == nil {
		_ = s.routes[c.route].upstream.WriteFrame(n)
	}
}

// notAccepted answers a call the upstream would not take.
func (s *Session) notAccepted(c *call, err error) {
	if !s.pending.forget(c) {
		return
	}
	msg := "upstream MCP server is not accepting messages: " + err.Error()
	if c.route >= 0 && c.route < len(s.routes) && s.routes[c.route].name != "" {
		msg = fmt.Sprintf("upstream MCP server %s is not accepting messages: %v", s.routes[c.route].name, err)
	}
	if c.state != nil {
		c.core.FailCall(context.Background(), c.state, msg)
	}
	_ = s.client.WriteFrame(rpc.ErrorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
}

// clientInfo reads initialize's clientInfo.
func clientInfo(params json.RawMessage) audit.Client {
	var p struct {
		ClientInfo audit.Client `json:"clientInfo"`
	}
	_ = jsonv2.Unmarshal(params, &p)
	return p.ClientInfo
}

// ClientInfo reads the client's name and version from initialize's
// params, for transports that answer initialize themselves (a refused
// server).
func ClientInfo(params json.RawMessage) audit.Client { return clientInfo(params) }

// govern runs the core on a tools/call and answers the client itself when
// the call may not pass; a call that passes goes upstream re-encoded from
// what the core decided on. When the client cancels the call meanwhile,
// the hooks' context is cancelled and nothing is forwarded or answered.
func (s *Session) govern(ctx context.Context, ri int, c *call, rc *readParams) {
	core := c.core
	callCtx, stop := context.WithCancel(ctx)
	defer stop()
	s.pending.deciding(c, stop)
	if core.unverified(rc.name) {
		s.verifyTools(callCtx, ri, core)
	}
	st, v := core.beginCall(callCtx, rc)
	if !v.Pass {
		if s.pending.forget(c) {
			_ = s.client.WriteFrame(answer(c.clientID, v))
		}
		return
	}
	if !s.pending.forwarding(c, st) {
		core.CancelCall(ctx, st, "cancelled by the client while being checked; never sent upstream")
		return
	}
	if err := s.writeUpstream(ri, rpc.NewRequest(c.up, "tools/call", st.Call.Params)); err != nil {
		s.notAccepted(c, err)
	}
}

// writeUpstream sends m, a message the session made or parsed, to route
// ri's upstream, as a message to one that takes it (no parse of its own).
func (s *Session) writeUpstream(ri int, m *rpc.Message) error {
	up := s.routes[ri].upstream
	if mw, ok := up.(MessageWriter); ok {
		return mw.WriteMessage(m)
	}
	return up.WriteFrame(m.Raw)
}

// verifyTimeout bounds the session's own tools/list.
const verifyTimeout = 10 * time.Second

// verifyTools lists route ri's tools itself (every page) so the core sees
// the current definitions before a call of a pinned tool the client never
// listed. When that fails the tool stays unverified, and the core applies
// the fail mode to the call.
func (s *Session) verifyTools(ctx context.Context, ri int, core *Core) {
	_, err := s.listTools(ctx, ri, core)
	if err != nil {
		s.warnf("could not list the upstream's tools to verify their pins: %v", err)
	}
}

// listTools lists route ri's tools (every page) through core's filter and
// returns the tools the client may see. A listing that fails is reported
// to the core (VerifyFailed).
func (s *Session) listTools(ctx context.Context, ri int, core *Core) ([]json.RawMessage, error) {
	var tools []json.RawMessage
	cursor := json.RawMessage(nil)
	for range 100 {
		result, err := s.ownCall(ctx, ri, "tools/list", cursorParams(cursor))
		if err != nil {
			if core != nil {
				core.VerifyFailed(err)
			}
			return nil, err
		}
		if core != nil {
			o := core.FilterTools(ctx, result)
			if o.Err != nil {
				core.VerifyFailed(o.Err)
				return nil, o.Err
			}
			core.VerifyFailed(nil)
			if o.Result != nil {
				result = o.Result
			}
		}
		var page struct {
			Tools      []jsontext.Value `json:"tools"`
			NextCursor jsontext.Value   `json:"nextCursor"`
		}
		if err := jsonv2.Unmarshal(result, &page); err != nil {
			return nil, fmt.Errorf("tools/list result: %w", err)
		}
		for _, t := range page.Tools {
			tools = append(tools, json.RawMessage(t))
		}
		if len(page.NextCursor) == 0 || string(page.NextCursor) == "null" {
			return tools, nil
		}
		cursor = json.RawMessage(page.NextCursor)
	}
	return tools, nil
}

func cursorParams(cursor json.RawMessage) json.RawMessage {
	if cursor == nil {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(`{"cursor":` + string(cursor) + `}`)
}

// ownCall sends a request of the session's own to route ri and returns
// its result; it never reaches the client.
func (s *Session) ownCall(ctx context.Context, ri int, method string, params json.RawMessage) (json.RawMessage, error) {
	c := s.pending.own(ri)
	if err := s.routes[ri].upstream.WriteFrame(rpc.Request(c.up, method, params)); err != nil {
		s.pending.forget(c)
		return nil, err
	}
	timer := time.NewTimer(verifyTimeout)
	defer timer.Stop()
	var m *rpc.Message
	select {
	case m = <-c.own:
	case <-timer.C:
	case <-ctx.Done():
	}
	if m == nil {
		s.pending.forget(c)
		return nil, errors.New("no answer in time")
	}
	if m.Result == nil {
		return nil, fmt.Errorf("it answered with an error: %.200s", m.Error)
	}
	return m.Result, nil
}

func answer(id json.RawMessage, v Verdict) []byte {
	if v.Error != nil {
		return rpc.ErrorResponse(id, v.Error)
	}
	return rpc.ResultResponse(id, v.Result)
}

// CancelRequest cancels the client's call id on the client's behalf, as
// its notifications/cancelled would, and records it as cancelled now with
// why: a relay that gives up on a call (a stateless client that closed its
// POST, or never answered the server's input requests). A late answer is
// dropped without another record.
func (s *Session) CancelRequest(ctx context.Context, id json.RawMessage, why string) {
	c, forwarded, st := s.pending.cancelWhy(id, why)
	if c == nil {
		return
	}
	if !forwarded {
		if c.state != nil {
			c.core.CancelCall(ctx, c.state, why+"; never sent upstream")
		}
		return
	}
	if st != nil {
		// Recorded now: a server need not answer a cancelled request.
		c.core.CancelCall(ctx, st, why+"; after it was sent upstream")
	}
	if c.route < 0 {
		return
	}
	reason, _ := json.Marshal(why)
	n, err := rpc.Notification("notifications/cancelled", json.RawMessage(`{"requestId":`+string(c.up)+`,"reason":`+string(reason)+`}`))
	if err == nil {
		_ = s.routes[c.route].upstream.WriteFrame(n)
	}
}

// Recheck governs a request of the client again without sending it: the
// checks a new tools/call, resources/read or prompts/get gets before it
// may go upstream (identity, the catalog's tool rules, the pre hook:
// guardrails, rate limits, Rego). A stateless client's retry of a call
// whose upstream request waits for the client's input (multi round-trip
// requests) is such a request: it must pass as the first did. It returns
// nil when the request may go on, else the answer for the client under
// id; a refusal is recorded as a new call's is.
func (s *Session) Recheck(ctx context.Context, id json.RawMessage, method string, params json.RawMessage) []byte {
	ri := 0
	if s.aggregate {
		if method != "tools/call" {
			return rpc.ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound,
				Message: fmt.Sprintf("mcpgov: %s is not available through an aggregated endpoint; use the server's own endpoint", method)})
		}
		name := toolName(params)
		var tool string
		ri, tool = s.routeOf(name)
		if ri < 0 || s.tools != nil && !s.tools[name] {
			return rpc.ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("Unknown tool: %s", name)})
		}
		quoted, _ := jsontext.AppendQuote(nil, tool)
		p, err := rpc.ReplaceMember(params, "name", quoted)
		if err != nil {
			return rpc.ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: mcpgov: " + err.Error()})
		}
		params = p
	}
	core := s.core(ri)
	if core == nil {
		return nil
	}
	var v Verdict
	switch method {
	case "tools/call":
		_, v = core.BeginCall(ctx, params)
	case "resources/read", "prompts/get":
		_, v = core.BeginRequest(ctx, method, params)
	default:
		return nil
	}
	if v.Pass {
		return nil
	}
	return answer(id, v)
}
