package shim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// SDKTransport lets a go-sdk client talk to a server through an Upstream:
// mcpgov's own clients of a server (vetting before approval) start and
// stop it exactly as the relay does — the same framing, the same process
// group, the same shutdown steps — rather than with code of their own.
type SDKTransport struct {
	Upstream Upstream
	// Grace is what Close gives the upstream at each shutdown step
	// (closed stdin, SIGTERM, SIGKILL for a process).
	Grace time.Duration
}

var _ mcp.Transport = (*SDKTransport)(nil)

// Connect implements mcp.Transport. It is called once.
func (t *SDKTransport) Connect(context.Context) (mcp.Connection, error) {
	c := &sdkConn{up: t.Upstream, grace: t.Grace, msgs: make(chan sdkRead), closed: make(chan struct{})}
	go c.pump()
	return c, nil
}

// sdkRead is one message read from the upstream, or why reading ended.
type sdkRead struct {
	msg jsonrpc.Message
	err error
}

type sdkConn struct {
	up    Upstream
	grace time.Duration
	msgs  chan sdkRead

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// pump reads the upstream's frames until it ends or the connection is
// closed; a frame that is not JSON-RPC ends the connection, as the SDK's
// own transports do.
func (c *sdkConn) pump() {
	for {
		var r sdkRead
		frame, err := c.up.ReadFrame()
		if err == nil {
			r.msg, err = jsonrpc.DecodeMessage(frame)
		}
		r.err = err
		select {
		case c.msgs <- r:
		case <-c.closed:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements mcp.Connection.
func (c *sdkConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case r := <-c.msgs:
		return r.msg, r.err
	case <-c.closed:
		return nil, errors.New("connection closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Write implements mcp.Connection.
func (c *sdkConn) Write(_ context.Context, msg jsonrpc.Message) error {
	b, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return err
	}
	return c.up.WriteFrame(b)
}

// Close implements mcp.Connection: it shuts the upstream down and, for a
// process, returns how it ended.
func (c *sdkConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = c.up.Shutdown(c.grace)
		if p, ok := c.up.(*Process); ok {
			c.closeErr = p.ExitErr()
		}
	})
	return c.closeErr
}

// SessionID implements mcp.Connection: a stdio connection has none.
func (c *sdkConn) SessionID() string { return "" }
