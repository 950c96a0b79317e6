package enforce

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// FromUpstream handles one frame route ri's upstream sent. It returns an
// error only when the client can no longer be written to.
func (s *Session) FromUpstream(ctx context.Context, ri int, frame []byte) error {
	return s.FromUpstreamHandoff(ctx, ri, frame, nil)
}

// FromUpstreamHandoff is FromUpstream for a reader that can hand reading
// on (see FromClientHandoff): an answer's post hooks and record run on the
// goroutine that read it.
func (s *Session) FromUpstreamHandoff(ctx context.Context, ri int, frame []byte, handoff func()) error {
	m, err := rpc.Parse(frame)
	if err != nil {
		s.warnf("malformed message from the upstream server dropped: %v", err)
		if id := rpc.LenientID(frame); id != nil {
			s.failAnswer(ri, id, "the upstream's answer was refused: "+err.Error())
		}
		return nil
	}
	return s.fromUpstream(ctx, ri, m, s.worker(handoff))
}

// FromUpstreamMessage is FromUpstream for a message the transport parsed
// already (rpc.Parse): the session does not parse it again, and may
// change it (an answer gets the client's id); the caller must not use it
// after.
func (s *Session) FromUpstreamMessage(ctx context.Context, ri int, m *rpc.Message) error {
	return s.fromUpstream(ctx, ri, m, s.worker(nil))
}

// UpstreamOversize handles an upstream frame the transport could not take
// whole; id is its id when the transport could read it.
func (s *Session) UpstreamOversize(ri int, id json.RawMessage, err error) {
	s.warnf("message from the upstream server dropped: %v", err)
	if id != nil {
		s.failAnswer(ri, id, "the upstream's answer "+err.Error())
	}
}

// failAnswer answers a call whose upstream answer could not be read with
// an error carrying the client's id, and records it.
func (s *Session) failAnswer(ri int, upID json.RawMessage, msg string) {
	c, ok := s.pending.take(ri, upID)
	if !ok || c.own != nil {
		return
	}
	s.failCall(c, msg)
}

// failCall ends a taken call whose answer could not be used.
func (s *Session) failCall(c *call, msg string) {
	if c.cancelled {
		c.recordCancelled(context.Background(), msg)
		return
	}
	if c.state != nil {
		c.core.FailCall(context.Background(), c.state, msg)
	}
	_ = s.client.WriteFrame(rpc.ErrorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + msg}))
}

// fromUpstream routes one parsed message of route ri's upstream.
func (s *Session) fromUpstream(ctx context.Context, ri int, m *rpc.Message, run func(bool, func())) error {
	if m.IsCall() {
		if core := s.core(ri); serverContentMethods[m.Method] && core != nil && core.Post() {
			run(core.MayBlock(), func() { s.filterServerRequest(ctx, ri, core, m) })
			return nil
		}
		return s.toClient(ri, m, m.Raw)
	}
	if !m.IsResponse() || m.ID == nil {
		// The upstream's notifications, and errors it could not tie to a
		// call, pass through.
		return s.writeRelated(ri, m, m.Raw)
	}
	c, ok := s.pending.take(ri, m.ID)
	switch {
	case !ok:
		s.warnf("answer to unknown request id %.40s from the upstream server dropped", m.ID)
		return nil
	case c.own != nil:
		c.own <- m
		return nil
	case c.cancelled:
		detail := "the upstream answered with a result, which was dropped"
		if m.Error != nil {
			detail = "the upstream answered with an error, which was dropped"
		}
		c.recordCancelled(ctx, detail)
		return nil
	}
	if governedMethods[c.method] {
		// A governed answer must read the same to the core and to the
		// client: a tool definition with "name" and "Name" would let the
		// client call one tool while the core checked another.
		if err := rpc.CheckNames(m.Result, "result"); err != nil {
			s.warnf("answer to %s from the upstream server refused: %v", c.method, err)
			s.failCall(c, "the upstream's answer was refused: "+err.Error())
			return nil
		}
	}
	m.SetID(c.clientID)
	if c.state != nil && c.core.Post() {
		run(c.core.MayBlock(), func() { s.finish(ctx, c.core, m, c.state) })
		return nil
	}
	out := m.Raw
	var listChanged bool
	if c.method == "tools/list" && c.core != nil && m.Result != nil {
		o := c.core.FilterTools(ctx, m.Result)
		switch {
		case o.Err != nil:
			out = rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + o.Err.Error()})
		case o.Result != nil:
			out = rewriteResult(m, o.Result)
		}
		listChanged = o.Changed
	}
	if err := s.client.WriteFrame(out); err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	if listChanged {
		n, err := rpc.Notification("notifications/tools/list_changed", nil)
		if err == nil {
			err = s.client.WriteFrame(n)
		}
		if err != nil {
			return fmt.Errorf("write to client: %w", err)
		}
	}
	return nil
}

// toClient passes an upstream's own request to the client; an aggregated
// session gives it an id of its own, as several upstreams share the
// client.
func (s *Session) toClient(ri int, m *rpc.Message, frame []byte) error {
	if s.aggregate {
		id := s.reverse.give(ri, m.ID)
		frame = rpc.Request(id, m.Method, paramsOf(frame, m))
	}
	if err := s.writeRelated(ri, m, frame); err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	return nil
}

// writeRelated writes frame, a server's request or notification m as the
// client gets it, telling a RelatedWriter client which of its calls it
// is about when the transport said so.
func (s *Session) writeRelated(ri int, m *rpc.Message, frame []byte) error {
	if m.Related != nil {
		if rw, ok := s.client.(RelatedWriter); ok {
			id, ok := s.pending.clientOf(ri, m.Related)
			if !ok {
				// Tied to a request that is no call of the client's (over
				// already, or the engine's own): said so, never left for the
				// client to guess, which could pin it on another call.
				id = json.RawMessage{}
			}
			out := m
			if string(frame) != string(m.Raw) {
				// Given an id of the session's own, or changed by a
				// post hook: parsed as the client gets it.
				p, err := rpc.Parse(frame)
				if err != nil {
					return fmt.Errorf("a server's message rewritten for the client does not parse: %w", err)
				}
				out = p
			}
			return rw.WriteRelated(out, id)
		}
	}
	return s.client.WriteFrame(frame)
}

// paramsOf returns the params of the frame being sent: those of frame
// when the post hooks replaced them, else the message's.
func paramsOf(frame []byte, m *rpc.Message) json.RawMessage {
	if string(frame) == string(m.Raw) {
		return m.Params
	}
	if p, err := rpc.Parse(frame); err == nil {
		return p.Params
	}
	return m.Params
}

// serverContentMethods are the server's requests whose params carry
// content for the model or the user: they pass the post hooks first.
var serverContentMethods = map[string]bool{"sampling/createMessage": true, "elicitation/create": true}

// filterServerRequest runs the post hooks on a server's request and
// forwards what they let through; a refused one is answered to the
// server and never reaches the client.
func (s *Session) filterServerRequest(ctx context.Context, ri int, core *Core, m *rpc.Message) {
	up := s.routes[ri].upstream
	if err := rpc.CheckNames(m.Params, "params"); err != nil {
		s.warnf("%s from the upstream server refused: %v", m.Method, err)
		_ = up.WriteFrame(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "mcpgov: " + err.Error()}))
		return
	}
	params, rpcErr := core.FilterServerRequest(context.WithoutCancel(ctx), m.Method, m.Params)
	if rpcErr != nil {
		_ = up.WriteFrame(rpc.ErrorResponse(m.ID, rpcErr))
		return
	}
	out := m.Raw
	if params != nil {
		if b, err := rpc.ReplaceMember(m.Raw, "params", params); err == nil {
			out = b
		}
	}
	if err := s.toClient(ri, m, out); err != nil {
		s.warnf("%v", err)
	}
}

// finish runs the core's post hooks on a governed call's answer and
// writes what they let through; the audit record is durable by then.
func (s *Session) finish(ctx context.Context, core *Core, m *rpc.Message, st *CallState) {
	var rpcErr *jsonrpc.Error
	if m.Error != nil {
		rpcErr = &jsonrpc.Error{}
		if json.Unmarshal(m.Error, rpcErr) != nil {
			rpcErr.Code = jsonrpc.CodeInternalError
		}
	}
	reply := core.FinishCall(context.WithoutCancel(ctx), st, m.Result, rpcErr)
	var err error
	switch {
	case reply.Error != nil:
		err = s.client.WriteFrame(rpc.ErrorResponse(m.ID, reply.Error))
	case reply.Result != nil:
		err = s.client.WriteFrame(rewriteResult(m, reply.Result))
	default:
		err = s.writeClient(m)
	}
	if err != nil {
		s.warnf("write to client: %v", err)
	}
}

// MessageWriter is a Peer that also takes a message as the session
// parsed it (its Raw is what is sent), sparing it a parse of its own.
type MessageWriter interface {
	WriteMessage(m *rpc.Message) error
}

// writeClient sends m, a parsed message, to the client as it is.
func (s *Session) writeClient(m *rpc.Message) error {
	if mw, ok := s.client.(MessageWriter); ok {
		return mw.WriteMessage(m)
	}
	return s.client.WriteFrame(m.Raw)
}

// rewriteResult replaces a response's result, keeping its other members.
func rewriteResult(m *rpc.Message, result json.RawMessage) []byte {
	if out, err := rpc.ReplaceMember(m.Raw, "result", result); err == nil {
		return out
	}
	return rpc.ResultResponse(m.ID, result)
}
