package vet

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/mcpgov/mcpgov/catalog"
	"slices"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// captureTransport wraps the SDK transport to keep the raw tools/list
// results: the SDK's typed Tool drops annotation keys it does not model and
// filters tools it considers invalid, and the fingerprint must be over what
// the server sent, exactly as the shim sees it on the wire.
type captureTransport struct {
	inner mcp.Transport
	mu    sync.Mutex
	conn  *captureConn
}

func (t *captureTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc := &captureConn{Connection: c, pending: map[string]string{}, closed: make(chan struct{})}
	t.mu.Lock()
	t.conn = cc
	t.mu.Unlock()
	return cc, nil
}

func (t *captureTransport) connection() *captureConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn
}

// toolPage returns the raw tools of the tools/list response just received,
// falling back to the typed result if none was captured (a cached page).
func (t *captureTransport) toolPage(res *mcp.ListToolsResult) ([]catalog.ToolDef, error) {
	if c := t.connection(); c != nil {
		if raw, ok := c.takeToolPage(); ok {
			defs, err := catalog.ParseToolDefs(raw)
			if err != nil {
				return nil, fmt.Errorf("tools/list result: %w", err)
			}
			return defs, nil
		}
	}
	defs := make([]catalog.ToolDef, 0, len(res.Tools))
	for _, tool := range res.Tools {
		raw, err := json.Marshal(tool)
		if err != nil {
			return nil, err
		}
		d, err := catalog.ParseToolDef(raw)
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return defs, nil
}

func (t *captureTransport) protocolVersion() string {
	if c := t.connection(); c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.protocol
	}
	return ""
}

// captureConn records raw responses to the calls it is asked to watch and
// whether the peer went away before we closed.
type captureConn struct {
	mcp.Connection

	mu        sync.Mutex
	pending   map[string]string // request id → method
	toolPages []json.RawMessage
	protocol  string
	readErr   error // the first read error before Close: the server went away
	closing   bool

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error // from the transport's Close: for a command, its exit
}

func (c *captureConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
		switch req.Method {
		case "tools/list", "initialize":
			c.mu.Lock()
			c.pending[fmt.Sprint(req.ID.Raw())] = req.Method
			c.mu.Unlock()
		}
	}
	return c.Connection.Write(ctx, msg)
}

func (c *captureConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if err != nil {
		c.mu.Lock()
		if !c.closing && c.readErr == nil {
			c.readErr = err
		}
		c.mu.Unlock()
		return msg, err
	}
	resp, ok := msg.(*jsonrpc.Response)
	if !ok || !resp.ID.IsValid() {
		return msg, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := fmt.Sprint(resp.ID.Raw())
	method, ok := c.pending[key]
	if !ok {
		return msg, nil
	}
	delete(c.pending, key)
	if resp.Error != nil {
		return msg, nil
	}
	switch method {
	case "tools/list":
		var res struct {
			Tools json.RawMessage `json:"tools"`
		}
		if json.Unmarshal(resp.Result, &res) == nil && res.Tools != nil {
			c.toolPages = append(c.toolPages, slices.Clone(res.Tools))
		}
	case "initialize":
		var res struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		if json.Unmarshal(resp.Result, &res) == nil {
			c.protocol = res.ProtocolVersion
		}
	}
	return msg, nil
}

func (c *captureConn) takeToolPage() (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.toolPages) == 0 {
		return nil, false
	}
	p := c.toolPages[0]
	c.toolPages = c.toolPages[1:]
	return p, true
}

func (c *captureConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		c.closeErr = c.Connection.Close()
		close(c.closed)
	})
	return c.closeErr
}

// peerGone reports whether the server closed the connection (for a command:
// exited) before we closed it, and then how the command ended. Closing is
// idempotent and waits for the process to be reaped, so the exit status is
// known when it returns.
func (c *captureConn) peerGone() (gone bool, exit error) {
	c.mu.Lock()
	gone = c.readErr != nil
	c.mu.Unlock()
	if !gone {
		return false, nil
	}
	_ = c.Close()
	return true, c.closeErr
}
