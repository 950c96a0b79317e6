package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/enforce"
)

// upstreamPump moves frames from the upstream to the client, governing
// the answers to governed calls. It returns when the upstream's output
// ends.
func (r *Relay) upstreamPump(ctx context.Context, up Upstream, ide *FrameWriter, p *pending) error {
	for {
		frame, err := up.ReadFrame()
		var tooLarge *FrameTooLargeError
		if errors.As(err, &tooLarge) {
			r.warnf("message from the upstream server dropped: %v", err)
			if id := tooLarge.ID(); id != nil {
				r.failAnswer(ide, p, id, "the upstream's answer "+err.Error())
			}
			continue
		}
		if err != nil {
			return err
		}
		m, err := ParseMessage(frame)
		if err != nil {
			r.warnf("malformed message from the upstream server dropped: %v", err)
			if id := lenientID(frame); id != nil {
				r.failAnswer(ide, p, id, "the upstream's answer was refused: "+err.Error())
			}
			continue
		}
		if err := r.fromUpstream(ctx, up, ide, p, m); err != nil {
			return err
		}
	}
}

// failAnswer answers a call whose upstream answer could not be read with
// an error carrying the client's id, and records it.
func (r *Relay) failAnswer(ide *FrameWriter, p *pending, upID json.RawMessage, msg string) {
	c, ok := p.take(upID)
	if !ok || c.own != nil {
		return
	}
	r.failCall(ide, c, msg)
}

// failCall ends a taken call whose answer could not be used.
func (r *Relay) failCall(ide *FrameWriter, c *call, msg string) {
	if c.cancelled {
		r.recordCancelled(context.Background(), c, msg)
		return
	}
	if c.state != nil {
		r.Core.FailCall(context.Background(), c.state, msg)
	}
	_ = ide.WriteFrame(errorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + msg}))
}

// fromUpstream relays one parsed message of the upstream.
func (r *Relay) fromUpstream(ctx context.Context, up Upstream, ide *FrameWriter, p *pending, m *Message) error {
	if m.IsCall() && serverContentMethods[m.Method] && r.Core != nil && r.Core.Post() {
		r.finishing.add()
		go r.filterServerRequest(ctx, up, ide, m)
		return nil
	}
	if !m.IsResponse() || m.ID == nil {
		// The upstream's own requests and notifications, and errors it
		// could not tie to a call, pass through.
		return ide.WriteFrame(m.Raw)
	}
	c, ok := p.take(m.ID)
	switch {
	case !ok:
		r.warnf("answer to unknown request id %.40s from the upstream server dropped", m.ID)
		return nil
	case c.own != nil:
		c.own <- m
		return nil
	case c.cancelled:
		detail := "the upstream answered with a result, which was dropped"
		if m.Error != nil {
			detail = "the upstream answered with an error, which was dropped"
		}
		r.recordCancelled(ctx, c, detail)
		return nil
	}
	if governedMethods[c.method] {
		// A governed answer must read the same to the core and to the
		// client: a tool definition with "name" and "Name" would let the
		// client call one tool while the core checked another.
		if err := CheckNames(m.Result, "result"); err != nil {
			r.warnf("answer to %s from the upstream server refused: %v", c.method, err)
			r.failCall(ide, c, "the upstream's answer was refused: "+err.Error())
			return nil
		}
	}
	m.Raw, m.ID = m.WithID(c.clientID), c.clientID
	if c.state != nil && r.Core.Post() {
		r.finishing.add()
		go r.finish(ctx, ide, m, c.state)
		return nil
	}
	out := m.Raw
	var listChanged bool
	if c.method == "tools/list" && r.Core != nil && m.Result != nil {
		o := r.Core.FilterTools(ctx, m.Result)
		switch {
		case o.Err != nil:
			out = errorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + o.Err.Error()})
		case o.Result != nil:
			out = rewriteResult(m, o.Result)
		}
		listChanged = o.Changed
	}
	if err := ide.WriteFrame(out); err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	if listChanged {
		n, err := notification("notifications/tools/list_changed", nil)
		if err == nil {
			err = ide.WriteFrame(n)
		}
		if err != nil {
			return fmt.Errorf("write to client: %w", err)
		}
	}
	return nil
}

// serverContentMethods are the server's requests whose params carry
// content for the model or the user: they pass the post hooks first.
var serverContentMethods = map[string]bool{"sampling/createMessage": true, "elicitation/create": true}

// filterServerRequest runs the post hooks on a server's request and
// forwards what they let through; a refused one is answered to the
// server and never reaches the client.
func (r *Relay) filterServerRequest(ctx context.Context, up Upstream, ide *FrameWriter, m *Message) {
	defer r.finishing.done()
	if err := CheckNames(m.Params, "params"); err != nil {
		r.warnf("%s from the upstream server refused: %v", m.Method, err)
		_ = up.WriteFrame(errorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "mcpgov: " + err.Error()}))
		return
	}
	params, rpcErr := r.Core.FilterServerRequest(context.WithoutCancel(ctx), m.Method, m.Params)
	if rpcErr != nil {
		_ = up.WriteFrame(errorResponse(m.ID, rpcErr))
		return
	}
	out := m.Raw
	if params != nil {
		if b, err := replaceMember(m.Raw, "params", params); err == nil {
			out = b
		}
	}
	if err := ide.WriteFrame(out); err != nil {
		r.warnf("write to client: %v", err)
	}
}

// finish runs the core's post hooks on a governed call's answer and
// writes what they let through; the audit record is durable by then.
func (r *Relay) finish(ctx context.Context, ide *FrameWriter, m *Message, st *enforce.CallState) {
	defer r.finishing.done()
	var rpcErr *jsonrpc.Error
	if m.Error != nil {
		rpcErr = &jsonrpc.Error{}
		if json.Unmarshal(m.Error, rpcErr) != nil {
			rpcErr.Code = jsonrpc.CodeInternalError
		}
	}
	reply := r.Core.FinishCall(context.WithoutCancel(ctx), st, m.Result, rpcErr)
	out := m.Raw
	switch {
	case reply.Error != nil:
		out = errorResponse(m.ID, reply.Error)
	case reply.Result != nil:
		out = rewriteResult(m, reply.Result)
	}
	if err := ide.WriteFrame(out); err != nil {
		r.warnf("write to client: %v", err)
	}
}

// rewriteResult replaces a response's result, keeping its other members.
func rewriteResult(m *Message, result json.RawMessage) []byte {
	if out, err := replaceMember(m.Raw, "result", result); err == nil {
		return out
	}
	return resultResponse(m.ID, result)
}

func answer(id json.RawMessage, v enforce.Verdict) []byte {
	if v.Error != nil {
		return errorResponse(id, v.Error)
	}
	return resultResponse(id, v.Result)
}

// parseErrorResponse answers a frame that is not a usable message, with
// its id when one could be read.
func parseErrorResponse(err error, id json.RawMessage) []byte {
	if errors.Is(err, errAmbiguous) {
		return errorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + err.Error()})
	}
	if errors.Is(err, errNotMessage) {
		return errorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: " + err.Error()})
	}
	return errorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()})
}
