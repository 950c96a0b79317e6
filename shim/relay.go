package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Upstream is the server side of the relay: a stream of frames and a way
// to end it.
type Upstream interface {
	// ReadFrame returns the next frame; io.EOF when the upstream is gone.
	ReadFrame() ([]byte, error)
	// WriteFrame sends one frame; it must be safe to call concurrently
	// with ReadFrame.
	WriteFrame(msg []byte) error
	// Shutdown ends the upstream, politely first (close its input, wait
	// grace), then by force; it returns once it is gone.
	Shutdown(grace time.Duration) error
}

// ErrUpstreamExited is returned by Relay.Run when the upstream went away
// before the client did.
var ErrUpstreamExited = errors.New("upstream MCP server exited")

// Default timings.
const (
	DefaultDrain = 5 * time.Second // wait for answers to pending calls after the client's EOF
	DefaultGrace = 2 * time.Second // between closing the upstream's stdin, SIGTERM and SIGKILL
	signalGrace  = 200 * time.Millisecond
)

// Relay connects one client (IDE) to one upstream.
type Relay struct {
	In     io.Reader // from the client
	Out    io.Writer // to the client: MCP frames only
	Stderr io.Writer // diagnostics
	// Core governs tools/list and tools/call; nil relays everything.
	Core     *enforce.Core
	MaxFrame int           // DefaultMaxFrame when 0
	Drain    time.Duration // DefaultDrain when 0
	Grace    time.Duration // DefaultGrace when 0

	// finishing counts governed answers being finished off the pumps
	// (post hooks, audit records); Run waits for them before returning.
	finishing inflight
}

// inflight counts work in progress and says when there is none. Unlike a
// sync.WaitGroup it may be waited on while work is still being added (the
// pumps add while Run waits for the drain).
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

func (r *Relay) drain() time.Duration {
	if r.Drain > 0 {
		return r.Drain
	}
	return DefaultDrain
}

func (r *Relay) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	return DefaultGrace
}

func (r *Relay) warnf(format string, args ...any) {
	fmt.Fprintf(r.Stderr, "mcpgov: "+format+"\n", args...)
}

// Run relays until the client closes its input (then it shuts the upstream
// down and returns nil), the upstream exits (every pending call is answered
// with an error and Run returns ErrUpstreamExited) or ctx is done (the
// upstream is killed and ctx's error returned).
func (r *Relay) Run(ctx context.Context, up Upstream) error {
	defer func() { <-r.finishing.wait() }()
	ide := NewFrameWriter(r.Out)
	p := newPending()
	upDone := make(chan error, 1)
	ideDone := make(chan error, 1)
	go func() { upDone <- r.upstreamPump(ctx, up, ide, p) }()
	go func() { ideDone <- r.clientPump(ctx, up, ide, p) }()

	select {
	case err := <-upDone:
		r.failPending(ide, p, err)
		_ = up.Shutdown(signalGrace)
		return fmt.Errorf("%w: %v", ErrUpstreamExited, err)
	case <-ctx.Done():
		_ = up.Shutdown(signalGrace)
		<-upDone
		r.abandonPending(p)
		return ctx.Err()
	case <-ideDone:
	}
	// The client is gone: give pending calls a moment, then stop upstream.
	timer := time.NewTimer(r.drain())
	defer timer.Stop()
	select {
	case <-r.drainedAll(p):
	case <-timer.C:
	case <-ctx.Done():
	case err := <-upDone:
		// It exited before being asked to: a failure, as above.
		r.failPending(ide, p, err)
		_ = up.Shutdown(signalGrace)
		return fmt.Errorf("%w: %v", ErrUpstreamExited, err)
	}
	_ = up.Shutdown(r.grace())
	<-upDone
	r.abandonPending(p)
	return nil
}

// drainedAll is closed once nothing is pending and every answer being
// finished has been written.
func (r *Relay) drainedAll(p *pending) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-p.drained()
		<-r.finishing.wait()
		close(done)
	}()
	return done
}

// failPending answers every call still waiting for the upstream and
// records the governed ones: nothing the upstream may have run goes
// unrecorded.
func (r *Relay) failPending(ide *FrameWriter, p *pending, cause error) {
	msg := "upstream MCP server exited"
	if cause != nil && !errors.Is(cause, io.EOF) {
		msg += ": " + cause.Error()
	}
	for _, c := range p.takeAll() {
		if c.cancelled {
			r.recordCancelled(context.Background(), c, "the upstream exited without answering")
			continue
		}
		if c.state != nil {
			r.Core.FailCall(context.Background(), c.state, msg)
		}
		_ = ide.WriteFrame(errorResponse(c.clientID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
	}
}

// abandonPending records the calls still pending when the relay stops
// after the client went away: the client can no longer be answered, but
// what the upstream was asked to run is on record.
func (r *Relay) abandonPending(p *pending) {
	for _, c := range p.takeAll() {
		switch {
		case c.cancelled:
			r.recordCancelled(context.Background(), c, "the upstream had not answered when the session ended")
		case c.state != nil:
			r.Core.FailCall(context.Background(), c.state, "the client closed its input before the upstream answered; the upstream was stopped")
		}
	}
}

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
			if r.Core.Slow() {
				r.finishing.add()
				go func() {
					defer r.finishing.done()
					r.govern(ctx, up, ide, p, c, m)
				}()
			} else {
				r.govern(ctx, up, ide, p, c, m)
			}
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

// Refuse answers every call of the client with e, without any upstream,
// until the client closes its input or ctx is done. A client that starts
// a refused server so learns why from the initialize error. first, when
// set, is called once with the client's name and version from initialize
// (or an empty one if the client never sent it), so that the refusal is
// recorded with the client.
func Refuse(ctx context.Context, in io.Reader, out io.Writer, e *jsonrpc.Error, first func(audit.Client)) error {
	ide := NewFrameWriter(out)
	done := make(chan error, 1)
	var once sync.Once
	seen := func(cl audit.Client) {
		if first != nil {
			once.Do(func() { first(cl) })
		}
	}
	defer seen(audit.Client{})
	go func() {
		fr := NewFrameReader(in, 0)
		for {
			frame, err := fr.ReadFrame()
			var tooLarge *FrameTooLargeError
			if errors.As(err, &tooLarge) {
				if werr := ide.WriteFrame(errorResponse(tooLarge.ID(), e)); werr != nil {
					done <- werr
					return
				}
				continue
			}
			if err != nil {
				done <- err
				return
			}
			m, err := ParseMessage(frame)
			switch {
			case err != nil:
				err = ide.WriteFrame(parseErrorResponse(err, lenientID(frame)))
			case m.IsCall():
				if m.Method == "initialize" {
					seen(clientInfo(m.Params))
				}
				err = ide.WriteFrame(errorResponse(m.ID, e))
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
