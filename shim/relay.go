package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

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
