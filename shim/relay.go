package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

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

// Relay is the stdio transport of the governance engine: it frames the
// client's and the upstream's messages, hands them to an enforce.Session
// (which decides what each message gets) and owns the upstream's
// lifecycle. It connects one client (IDE) to one upstream.
type Relay struct {
	In     io.Reader // from the client
	Out    io.Writer // to the client: MCP frames only
	Stderr io.Writer // diagnostics
	// Core governs the upstream; nil relays everything.
	Core     *enforce.Core
	MaxFrame int           // DefaultMaxFrame when 0
	Drain    time.Duration // DefaultDrain when 0
	Grace    time.Duration // DefaultGrace when 0

	mu      sync.Mutex
	session *enforce.Session
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

// Reload makes core govern the relay's new calls (a new bundle revision):
// calls in flight finish under the core that let them through.
func (r *Relay) Reload(core *enforce.Core) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Core = core
	if r.session == nil {
		return nil
	}
	return r.session.Reload(0, core)
}

// CurrentCore returns the core governing the relay's new calls.
func (r *Relay) CurrentCore() *enforce.Core {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Core
}

// Run relays until the client closes its input (then it shuts the upstream
// down and returns nil), the upstream exits (every pending call is answered
// with an error and Run returns ErrUpstreamExited) or ctx is done (the
// upstream is killed and ctx's error returned).
func (r *Relay) Run(ctx context.Context, up Upstream) error {
	r.mu.Lock()
	s := enforce.NewSession(enforce.SessionOptions{Client: NewFrameWriter(r.Out), Diag: r.Stderr,
		Routes: []enforce.Route{{Core: r.Core, Upstream: up}}})
	r.session = s
	r.mu.Unlock()
	defer s.Wait()
	upDone := make(chan error, 1)
	ideDone := make(chan error, 1)
	go r.upstreamPump(ctx, s, up, upDone)
	go r.clientPump(ctx, s, NewFrameReader(r.In, r.MaxFrame), ideDone)

	select {
	case err := <-upDone:
		err = exitCause(up, err)
		s.UpstreamGone(0, err)
		_ = up.Shutdown(signalGrace)
		return fmt.Errorf("%w: %v", ErrUpstreamExited, err)
	case <-ctx.Done():
		_ = up.Shutdown(signalGrace)
		<-upDone
		s.Abandon()
		return ctx.Err()
	case <-ideDone:
	}
	// The client is gone: give pending calls a moment, then stop upstream.
	timer := time.NewTimer(r.drain())
	defer timer.Stop()
	select {
	case <-s.Drained():
	case <-timer.C:
	case <-ctx.Done():
	case err := <-upDone:
		// It exited before being asked to: a failure, as above.
		err = exitCause(up, err)
		s.UpstreamGone(0, err)
		_ = up.Shutdown(signalGrace)
		return fmt.Errorf("%w: %v", ErrUpstreamExited, err)
	}
	_ = up.Shutdown(r.grace())
	<-upDone
	s.Abandon()
	return nil
}

// clientPump reads the client's frames into the session until the
// client's EOF or a broken output, which it reports on done. When the
// session hands a message's work to the goroutine that read it, a new
// clientPump takes over reading and this one ends after the work: the
// message is handled without waking another goroutine on its path.
func (r *Relay) clientPump(ctx context.Context, s *enforce.Session, in *FrameReader, done chan<- error) {
	for {
		frame, err := in.ReadFrame()
		var tooLarge *FrameTooLargeError
		if errors.As(err, &tooLarge) {
			if werr := s.ClientOversize(ctx, tooLarge.ID(), err); werr != nil {
				report(done, werr)
				return
			}
			continue
		}
		if err != nil {
			report(done, err)
			return
		}
		handedOn := false
		err = s.FromClientHandoff(ctx, frame, func() {
			handedOn = true
			go r.clientPump(ctx, s, in, done)
		})
		if err != nil {
			report(done, err)
			return
		}
		if handedOn {
			return
		}
	}
}

// upstreamPump reads the upstream's frames into the session until its
// output ends, which it reports on done; it hands reading on as
// clientPump does.
func (r *Relay) upstreamPump(ctx context.Context, s *enforce.Session, up Upstream, done chan<- error) {
	for {
		frame, err := up.ReadFrame()
		var tooLarge *FrameTooLargeError
		if errors.As(err, &tooLarge) {
			s.UpstreamOversize(0, tooLarge.ID(), err)
			continue
		}
		if err != nil {
			report(done, err)
			return
		}
		handedOn := false
		err = s.FromUpstreamHandoff(ctx, 0, frame, func() {
			handedOn = true
			go r.upstreamPump(ctx, s, up, done)
		})
		if err != nil {
			report(done, err)
			return
		}
		if handedOn {
			return
		}
	}
}

// report sends a pump's end on done (capacity one) unless an end was
// reported already: after a hand-on, the work's goroutine and the next
// reader may both find the peer gone.
func report(done chan<- error, err error) {
	select {
	case done <- err:
	default:
	}
}

// exitCause says how a launched server ended when its output did.
func exitCause(up Upstream, err error) error {
	if p, ok := up.(*Process); ok {
		return p.ExitCause(err)
	}
	return err
}
