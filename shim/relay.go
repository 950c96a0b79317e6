package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

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

// failPending answers every call still waiting for the upstream.
func (r *Relay) failPending(ide *FrameWriter, p *pending, cause error) {
	msg := "upstream MCP server exited"
	if cause != nil && !errors.Is(cause, io.EOF) {
		msg += ": " + cause.Error()
	}
	for id, e := range p.takeAll() {
		if e.state != nil {
			r.Core.FailCall(context.Background(), e.state, msg)
		}
		_ = ide.WriteFrame(errorResponse(json.RawMessage(id), &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
	}
}

// clientPump moves frames from the client to the upstream, governing
// tools/call. It returns at the client's EOF or when the client's output
// breaks.
func (r *Relay) clientPump(ctx context.Context, up Upstream, ide *FrameWriter, p *pending) error {
	in := NewFrameReader(r.In, r.MaxFrame)
	for {
		frame, err := in.ReadFrame()
		if errors.Is(err, ErrFrameTooLarge) {
			r.warnf("message from the client dropped: %v", err)
			if werr := ide.WriteFrame(errorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: err.Error()})); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			return err
		}
		m, err := ParseMessage(frame)
		if err != nil {
			if werr := ide.WriteFrame(parseErrorResponse(err)); werr != nil {
				return werr
			}
			continue
		}
		var state *enforce.CallState
		if r.Core != nil && m.IsCall() {
			switch m.Method {
			case "initialize":
				r.Core.SetClient(clientInfo(m.Params))
			case "tools/call":
				if r.Core.Slow() {
					p.add(m.ID, m.Method, nil)
					go r.governAsync(ctx, up, ide, p, m)
					continue
				}
				var pass bool
				if state, pass = r.govern(ctx, up, ide, p, m); !pass {
					continue
				}
			case "tasks/result":
				state = r.Core.BeginTaskResult(m.Params)
			}
		}
		if m.IsCall() {
			p.add(m.ID, m.Method, state)
		}
		if m.Method == "notifications/cancelled" {
			r.forgetCancelled(ctx, p, m.Params)
		}
		if err := up.WriteFrame(m.Raw); err != nil && m.IsCall() {
			r.notAccepted(ide, p, m.ID, err)
			// The upstream pump sees the exit and ends the relay.
		}
	}
}

// notAccepted answers a call the upstream would not take.
func (r *Relay) notAccepted(ide *FrameWriter, p *pending, id json.RawMessage, err error) {
	e, ok := p.take(id)
	if !ok {
		return
	}
	msg := "upstream MCP server is not accepting messages: " + err.Error()
	if e.state != nil {
		r.Core.FailCall(context.Background(), e.state, msg)
	}
	_ = ide.WriteFrame(errorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}))
}

// clientInfo reads initialize's clientInfo.
func clientInfo(params json.RawMessage) audit.Client {
	var p struct {
		ClientInfo audit.Client `json:"clientInfo"`
	}
	_ = json.Unmarshal(params, &p)
	return p.ClientInfo
}

// govern runs the core on a tools/call and answers the client itself when
// the call may not pass; it reports whether to forward the call.
func (r *Relay) govern(ctx context.Context, up Upstream, ide *FrameWriter, p *pending, m *Message) (*enforce.CallState, bool) {
	if r.Core.Unverified(m.Params) {
		r.verifyTools(ctx, up, p)
	}
	st, v := r.Core.BeginCall(ctx, m.Params)
	if !v.Pass {
		_ = ide.WriteFrame(answer(m.ID, v))
	}
	return st, v.Pass
}

// governAsync is govern off the pump, for cores with slow Deciders. The
// call is already pending; when the client cancels it meanwhile, the
// Deciders' context is cancelled and nothing is forwarded or answered.
func (r *Relay) governAsync(ctx context.Context, up Upstream, ide *FrameWriter, p *pending, m *Message) {
	callCtx, stop := context.WithCancel(ctx)
	defer stop()
	p.deciding(m.ID, stop)
	defer p.decided(m.ID)
	if r.Core.Unverified(m.Params) {
		r.verifyTools(callCtx, up, p)
	}
	st, v := r.Core.BeginCall(callCtx, m.Params)
	if !v.Pass {
		if _, ok := p.take(m.ID); ok {
			_ = ide.WriteFrame(answer(m.ID, v))
		}
		return
	}
	if !p.setState(m.ID, st) {
		r.Core.CancelCall(ctx, st) // cancelled by the client while being decided
		return
	}
	if err := up.WriteFrame(m.Raw); err != nil {
		r.notAccepted(ide, p, m.ID, err)
	}
}

// verifyTimeout bounds the relay's own tools/list.
const verifyTimeout = 10 * time.Second

// verifyTools lists the upstream's tools itself (every page) so the core
// sees the current definitions before a call of a pinned tool the client
// never listed. Failures leave the tool unverified; CheckCall then decides
// on the allow/deny lists alone.
func (r *Relay) verifyTools(ctx context.Context, up Upstream, p *pending) {
	cursor := json.RawMessage(nil)
	for range 100 {
		id, answer := p.own()
		params := json.RawMessage(`{}`)
		if cursor != nil {
			params = json.RawMessage(`{"cursor":` + string(cursor) + `}`)
		}
		req := []byte(`{"jsonrpc":"2.0","id":` + string(id) + `,"method":"tools/list","params":` + string(params) + `}`)
		if err := up.WriteFrame(req); err != nil {
			p.forgetOwn(id)
			return
		}
		timer := time.NewTimer(verifyTimeout)
		var m *Message
		select {
		case m = <-answer:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		if m == nil || m.Result == nil {
			p.forgetOwn(id)
			r.warnf("could not list the upstream's tools to verify their pins")
			return
		}
		r.Core.FilterTools(ctx, m.Result)
		var page struct {
			NextCursor json.RawMessage `json:"nextCursor"`
		}
		if json.Unmarshal(m.Result, &page) != nil || len(page.NextCursor) == 0 || string(page.NextCursor) == "null" {
			return
		}
		cursor = page.NextCursor
	}
}

// forgetCancelled stops tracking a call the client cancelled; an answer
// that still arrives passes through. A governed call is recorded as
// cancelled (off the pump: the record may wait for the disk).
func (r *Relay) forgetCancelled(ctx context.Context, p *pending, params json.RawMessage) {
	var c struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &c) != nil || len(c.RequestID) == 0 {
		return
	}
	if e, ok := p.cancel(c.RequestID); ok && e.state != nil {
		r.finishing.add()
		go func() {
			defer r.finishing.done()
			r.Core.CancelCall(ctx, e.state)
		}()
	}
}

// upstreamPump moves frames from the upstream to the client, governing
// tools/list results. It returns when the upstream's output ends.
func (r *Relay) upstreamPump(ctx context.Context, up Upstream, ide *FrameWriter, p *pending) error {
	for {
		frame, err := up.ReadFrame()
		if errors.Is(err, ErrFrameTooLarge) {
			r.warnf("message from the upstream server dropped: %v", err)
			continue
		}
		if err != nil {
			return err
		}
		m, err := ParseMessage(frame)
		if err != nil {
			r.warnf("malformed message from the upstream server skipped: %v: %.200s", err, frame)
			continue
		}
		if m.IsResponse() && m.ID != nil && p.answerOwn(m) {
			continue
		}
		out := m.Raw
		var listChanged bool
		if m.IsResponse() && m.ID != nil {
			e, ok := p.take(m.ID)
			if ok && e.state != nil && r.Core.Post() {
				r.finishing.add()
				go r.finish(ctx, ide, m, e.state)
				continue
			}
			if ok && e.method == "tools/list" && r.Core != nil && m.Result != nil {
				o := r.Core.FilterTools(ctx, m.Result)
				switch {
				case o.Err != nil:
					out = errorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: " + o.Err.Error()})
				case o.Result != nil:
					out = rewriteResult(m, o.Result)
				}
				listChanged = o.Changed
			}
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

// rewriteResult replaces a response's result, keeping any members beyond
// jsonrpc, id and result.
func rewriteResult(m *Message, result json.RawMessage) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(m.Raw, &obj) != nil || len(obj) <= 3 {
		return resultResponse(m.ID, result)
	}
	obj["result"] = result
	b, err := json.Marshal(obj)
	if err != nil {
		return resultResponse(m.ID, result)
	}
	return b
}

func answer(id json.RawMessage, v enforce.Verdict) []byte {
	if v.Error != nil {
		return errorResponse(id, v.Error)
	}
	return resultResponse(id, v.Result)
}

func parseErrorResponse(err error) []byte {
	if errors.Is(err, errNotMessage) {
		return errorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: " + err.Error()})
	}
	return errorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()})
}

// Refuse answers every call of the client with e, without any upstream,
// until the client closes its input or ctx is done. A client that starts
// a refused server so learns why from the initialize error.
func Refuse(ctx context.Context, in io.Reader, out io.Writer, e *jsonrpc.Error) error {
	ide := NewFrameWriter(out)
	done := make(chan error, 1)
	go func() {
		fr := NewFrameReader(in, 0)
		for {
			frame, err := fr.ReadFrame()
			if errors.Is(err, ErrFrameTooLarge) {
				continue
			}
			if err != nil {
				done <- err
				return
			}
			m, err := ParseMessage(frame)
			if err != nil {
				err = ide.WriteFrame(parseErrorResponse(err))
			} else if m.IsCall() {
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
