package shim

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

// clientPump moves frames from the client to the upstream, governing what
// the core governs. It returns at the client's EOF or when the client's
// output breaks.
func (r *Relay) clientPump(ctx context.Context, up Upstream, ide *FrameWriter, p *pending) error {
	in := NewFrameReader(r.In, r.MaxFrame)
	for {
		frame, err := in.ReadFrame()
		var tooLarge *FrameTooLargeError
		if errors.As(err, &tooLarge) {
			r.warnf("message from the client refused: %v", err)
			r.refused(ctx, "", err.Error())
			if werr := ide.WriteFrame(errorResponse(tooLarge.ID(), &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "mcpgov: " + err.Error()})); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			return err
		}
		m, err := ParseMessage(frame)
		if err != nil {
			if errors.Is(err, errAmbiguous) {
				r.warnf("message from the client refused: %v", err)
				r.refused(ctx, "", err.Error())
			}
			if werr := ide.WriteFrame(parseErrorResponse(err, lenientID(frame))); werr != nil {
				return werr
			}
			continue
		}
		if err := r.fromClient(ctx, up, ide, p, m); err != nil {
			return err
		}
	}
}

// fromClient relays one parsed message of the client.
func (r *Relay) fromClient(ctx context.Context, up Upstream, ide *FrameWriter, p *pending, m *Message) error {
	if m.IsResponse() { // an answer to the upstream's own request
		_ = up.WriteFrame(m.Raw)
		return nil
	}
	if governedMethods[m.Method] {
		if err := CheckNames(m.Params, "params"); err != nil {
			r.warnf("%s from the client refused: %v", m.Method, err)
			r.refused(ctx, m.Method, err.Error())
			return ide.WriteFrame(errorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + err.Error()}))
		}
	}
	if m.Method == "notifications/cancelled" {
		r.cancelled(ctx, up, p, m)
		return nil
	}
	if m.IsNotification() {
		if isNotificationMethod(m.Method) {
			_ = up.WriteFrame(m.Raw)
			return nil
		}
		// A request without an id (or with id null) is not a call a
		// client can be answered for, yet lenient servers execute it:
		// it is never forwarded.
		reason := fmt.Sprintf("request %s without an id is never forwarded", m.Method)
		r.warnf("%s", reason)
		r.refused(ctx, m.Method, reason)
		return ide.WriteFrame(errorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + reason}))
	}
	c, err := p.add(m.ID, m.Method)
	if err != nil {
		reason := fmt.Sprintf("%s with id %s refused: %v", m.Method, m.ID, err)
		r.warnf("%s", reason)
		r.refused(ctx, m.Method, reason)
		// Answered with id null: an answer with the duplicate id would be
		// taken for the answer to the call in flight.
		return ide.WriteFrame(errorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + reason}))
	}
	if r.Core != nil {
		switch m.Method {
		case "initialize":
			r.Core.SetClient(clientInfo(m.Params))
		case "tools/call":
			// Governed off the pump: pings, cancellations and other calls
			// must not wait behind a hook or the audit trail.
			r.finishing.add()
			go func() {
				defer r.finishing.done()
				r.govern(ctx, up, ide, p, c, m)
			}()
			return nil
		case "tasks/result":
			c.state = r.Core.BeginTaskResult(m.Params)
		case "resources/read", "prompts/get":
			st, v := r.Core.BeginRequest(ctx, m.Method, m.Params)
			if !v.Pass {
				p.forget(c)
				return ide.WriteFrame(answer(c.clientID, v))
			}
			c.state = st
		}
	}
	c.forwarded = true
	if err := up.WriteFrame(m.WithID(c.up)); err != nil {
		r.notAccepted(ide, p, c, err)
		// The upstream pump sees the exit and ends the relay.
	}
	return nil
}

// isNotificationMethod reports whether a method is a notification's.
func isNotificationMethod(method string) bool {
	return strings.HasPrefix(method, "notifications/")
}

// refused records a message the relay refused to forward.
func (r *Relay) refused(ctx context.Context, method, reason string) {
	if r.Core != nil {
		r.Core.RefuseMessage(ctx, method, reason)
	}
}

// cancelled relays the client's cancellation of one of its calls under
// the call's upstream id. A call still being decided never goes upstream
// and is recorded as cancelled now; a forwarded one is recorded when its
// late answer (dropped) arrives or the relay ends.
func (r *Relay) cancelled(ctx context.Context, up Upstream, p *pending, m *Message) {
	requestID := cancelledID(m.Params)
	if requestID == nil {
		return
	}
	c, forwarded := p.cancel(requestID)
	if c == nil {
		return // not in flight: nothing to cancel upstream
	}
	if !forwarded {
		if c.state != nil {
			r.finishing.add()
			go func() {
				defer r.finishing.done()
				r.Core.CancelCall(ctx, c.state, "cancelled by the client while being checked; never sent upstream")
			}()
		}
		return
	}
	params, err := replaceMember(m.Params, "requestId", c.up)
	if err != nil {
		return
	}
	n, err := notification("notifications/cancelled", params)
	if err == nil {
		_ = up.WriteFrame(n)
	}
}

// recordCancelled records a forwarded call the client had cancelled.
func (r *Relay) recordCancelled(ctx context.Context, c *call, detail string) {
	if c.state != nil {
		r.Core.CancelCall(ctx, c.state, "cancelled by the client after it was sent upstream; "+detail)
	}
}

// notAccepted answers a call the upstream would not take.
func (r *Relay) notAccepted(ide *FrameWriter, p *pending, c *call, err error) {
	if !p.forget(c) {
		return
	}
	msg := "upstream MCP server is not accepting messages: " + err.Error()
	if c.state != nil {
		r.Core.FailCall(context.Background(), c.state, msg)
	}
	_ = ide.WriteFrame(errorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
}

// clientInfo reads initialize's clientInfo.
func clientInfo(params json.RawMessage) audit.Client {
	var p struct {
		ClientInfo audit.Client `json:"clientInfo"`
	}
	_ = jsonv2.Unmarshal(params, &p)
	return p.ClientInfo
}

// govern runs the core on a tools/call and answers the client itself when
// the call may not pass; a call that passes goes upstream re-encoded from
// what the core decided on. With slow Deciders it runs off the pump; when
// the client cancels the call meanwhile, the Deciders' context is
// cancelled and nothing is forwarded or answered.
func (r *Relay) govern(ctx context.Context, up Upstream, ide *FrameWriter, p *pending, c *call, m *Message) {
	callCtx, stop := context.WithCancel(ctx)
	defer stop()
	p.deciding(c, stop)
	if r.Core.Unverified(m.Params) {
		r.verifyTools(callCtx, up, p)
	}
	st, v := r.Core.BeginCall(callCtx, m.Params)
	if !v.Pass {
		if p.forget(c) {
			_ = ide.WriteFrame(answer(c.clientID, v))
		}
		return
	}
	if !p.forwarding(c, st) {
		r.Core.CancelCall(ctx, st, "cancelled by the client while being checked; never sent upstream")
		return
	}
	if err := up.WriteFrame(request(c.up, "tools/call", st.Call.Params)); err != nil {
		r.notAccepted(ide, p, c, err)
	}
}

// verifyTimeout bounds the relay's own tools/list.
const verifyTimeout = 10 * time.Second

// verifyTools lists the upstream's tools itself (every page) so the core
// sees the current definitions before a call of a pinned tool the client
// never listed. When that fails the tool stays unverified, and the core
// applies the fail mode to the call.
func (r *Relay) verifyTools(ctx context.Context, up Upstream, p *pending) {
	cursor := json.RawMessage(nil)
	for range 100 {
		c := p.own()
		params := json.RawMessage(`{}`)
		if cursor != nil {
			params = json.RawMessage(`{"cursor":` + string(cursor) + `}`)
		}
		if err := up.WriteFrame(request(c.up, "tools/list", params)); err != nil {
			p.forget(c)
			r.Core.VerifyFailed(err)
			return
		}
		timer := time.NewTimer(verifyTimeout)
		var m *Message
		select {
		case m = <-c.own:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		if m == nil || m.Result == nil {
			p.forget(c)
			err := errors.New("no answer in time")
			if m != nil {
				err = fmt.Errorf("it answered with an error: %.200s", m.Error)
			}
			r.warnf("could not list the upstream's tools to verify their pins: %v", err)
			r.Core.VerifyFailed(err)
			return
		}
		if o := r.Core.FilterTools(ctx, m.Result); o.Err != nil {
			r.Core.VerifyFailed(o.Err)
			return
		}
		r.Core.VerifyFailed(nil)
		var page struct {
			NextCursor jsontext.Value `json:"nextCursor"`
		}
		if jsonv2.Unmarshal(m.Result, &page) != nil || len(page.NextCursor) == 0 || string(page.NextCursor) == "null" {
			return
		}
		cursor = json.RawMessage(page.NextCursor)
	}
}
