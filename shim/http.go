package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPUpstream is a Streamable HTTP upstream over go-sdk's client
// transport, used raw (research/go-sdk.md §4.2, §6): the SDK's own
// standalone SSE stream is disabled because its failure tears the whole
// connection down (go-sdk#1175), so this type opens the GET stream itself,
// before the client sees the initialize result; MCP-Protocol-Version is
// added by a RoundTripper, since the raw transport only knows it for
// 2026-07-28; and a session the server has forgotten (404) is
// re-initialized with the client's own initialize request.
//
// Messages cross go-sdk's jsonrpc types on this leg, so integer IDs above
// 2^53 are not preserved here.
type HTTPUpstream struct {
	endpoint string
	client   *http.Client
	rt       *versionTransport
	stderr   io.Writer

	ctx    context.Context
	cancel context.CancelFunc
	frames chan frameResult

	mu       sync.Mutex
	conn     mcp.Connection
	gen      int              // incremented per (re)connection
	initKey  string           // raw ID of the client's initialize call
	initMsg  *jsonrpc.Request // the client's initialize, replayed on 404
	reinitID jsonrpc.ID       // our own initialize during re-initialization
	reinit   chan []byte      // its answer
	closed   bool
}

type frameResult struct {
	frame []byte
	err   error
}

// versionTransport adds MCP-Protocol-Version, fixed headers and the
// outbound credentials.
type versionTransport struct {
	base    http.RoundTripper
	headers http.Header
	apply   func(*http.Request) error // outbound credentials, per request; may be nil
	mu      sync.Mutex
	version string
}

func (t *versionTransport) setVersion(v string) {
	t.mu.Lock()
	t.version = v
	t.mu.Unlock()
}

// RoundTrip implements http.RoundTripper.
func (t *versionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	v := t.version
	t.mu.Unlock()
	req = req.Clone(req.Context())
	for k, vs := range t.headers {
		req.Header[k] = vs
	}
	if v != "" && req.Header.Get("MCP-Protocol-Version") == "" {
		req.Header.Set("MCP-Protocol-Version", v)
	}
	if t.apply != nil {
		// Per request, so a refreshed token is the one sent.
		if err := t.apply(req); err != nil {
			return nil, fmt.Errorf("outbound credentials: %w", err)
		}
	}
	return t.base.RoundTrip(req)
}

// upstreamTransport is shared by every HTTP upstream of the process. A
// gateway proxies many sessions' calls to one server at once: with
// net/http's default of two idle connections per host, about half of them
// opened a new TCP connection (thousands of sockets in TIME_WAIT under
// load, and ~20% more CPU per call).
var upstreamTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 128
	return t
}()

// DialHTTP prepares a Streamable HTTP upstream at endpoint; headers are
// sent with every request. Nothing is sent until the first message.
func DialHTTP(endpoint string, headers http.Header, stderr io.Writer) (*HTTPUpstream, error) {
	return DialHTTPWith(endpoint, headers, Credentials{}, stderr)
}

// DialHTTPWith is DialHTTP with outbound credentials applied to every
// request.
func DialHTTPWith(endpoint string, headers http.Header, cred Credentials, stderr io.Writer) (*HTTPUpstream, error) {
	rt := &versionTransport{base: upstreamTransport, headers: headers, apply: cred.Apply}
	ctx, cancel := context.WithCancel(context.Background())
	u := &HTTPUpstream{
		endpoint: endpoint, client: &http.Client{Transport: rt}, rt: rt, stderr: stderr,
		ctx: ctx, cancel: cancel, frames: make(chan frameResult, 16),
	}
	if err := u.connect(); err != nil {
		cancel()
		return nil, err
	}
	return u, nil
}

// connect opens a new connection and starts its reader.
func (u *HTTPUpstream) connect() error {
	t := &mcp.StreamableClientTransport{Endpoint: u.endpoint, HTTPClient: u.client, DisableStandaloneSSE: true}
	conn, err := t.Connect(u.ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", u.endpoint, err)
	}
	u.mu.Lock()
	u.conn = conn
	u.gen++
	gen := u.gen
	u.mu.Unlock()
	go u.read(conn, gen)
	return nil
}

func (u *HTTPUpstream) current(gen int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return gen == u.gen && !u.closed
}

func (u *HTTPUpstream) deliver(f frameResult) {
	select {
	case u.frames <- f:
	case <-u.ctx.Done():
	}
}

// read moves one connection's messages to frames.
func (u *HTTPUpstream) read(conn mcp.Connection, gen int) {
	for {
		msg, err := conn.Read(u.ctx)
		if err != nil {
			// A forgotten session is re-initialized on the next write; a
			// replaced connection's reader just stops.
			if errors.Is(err, mcp.ErrSessionMissing) || !u.current(gen) {
				return
			}
			if errors.Is(err, context.Canceled) {
				err = io.EOF
			}
			u.deliver(frameResult{err: err})
			return
		}
		frame, err := jsonrpc.EncodeMessage(msg)
		if err != nil {
			fmt.Fprintf(u.stderr, "mcpgov: message from the upstream server skipped: %v\n", err)
			continue
		}
		if resp, ok := msg.(*jsonrpc.Response); ok {
			u.mu.Lock()
			isReinit := u.reinit != nil && resp.ID == u.reinitID
			reinit := u.reinit
			isInit := u.initKey != "" && idKeyOf(resp.ID) == u.initKey
			u.mu.Unlock()
			if isReinit {
				reinit <- frame
				continue
			}
			if isInit && resp.Error == nil {
				u.initialized(conn, resp.Result)
			}
		}
		u.deliver(frameResult{frame: frame})
	}
}

func idKeyOf(id jsonrpc.ID) string {
	b, _ := json.Marshal(id.Raw())
	return string(b)
}

// initialized learns the protocol version and opens the GET stream, before
// the initialize result is released to the client.
func (u *HTTPUpstream) initialized(conn mcp.Connection, result json.RawMessage) {
	var r struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(result, &r) == nil && r.ProtocolVersion != "" {
		u.rt.setVersion(r.ProtocolVersion)
	}
	u.mu.Lock()
	gen := u.gen
	u.mu.Unlock()
	u.openStream(conn.SessionID(), gen, "")
}

// openStream opens the standalone GET stream and returns once the server
// has answered; events are read in the background and the stream is
// resumed (Last-Event-ID) when it drops.
func (u *HTTPUpstream) openStream(session string, gen int, lastID string) {
	req, err := http.NewRequestWithContext(u.ctx, http.MethodGet, u.endpoint, nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		if u.ctx.Err() == nil {
			fmt.Fprintf(u.stderr, "mcpgov: upstream GET stream: %v\n", err)
		}
		return
	}
	if resp.StatusCode == http.StatusMethodNotAllowed {
		resp.Body.Close() // the server offers no stream: allowed by the spec
		return
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		fmt.Fprintf(u.stderr, "mcpgov: upstream GET stream: HTTP %d %s\n", resp.StatusCode, resp.Header.Get("Content-Type"))
		return
	}
	go func() {
		last, retry := u.readEvents(resp.Body, gen, lastID)
		resp.Body.Close()
		if !u.current(gen) {
			return
		}
		select {
		case <-time.After(retry):
		case <-u.ctx.Done():
			return
		}
		if u.current(gen) {
			u.openStream(session, gen, last)
		}
	}()
}

// readEvents parses server-sent events into frames; it returns the last
// event ID and the reconnection delay.
func (u *HTTPUpstream) readEvents(body io.Reader, gen int, lastID string) (string, time.Duration) {
	retry := time.Second
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), DefaultMaxFrame)
	var data bytes.Buffer
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() > 0 && (event == "" || event == "message") && u.current(gen) {
				if m, err := rpc.Parse(data.Bytes()); err == nil {
					u.deliver(frameResult{frame: m.Raw})
				} else {
					fmt.Fprintf(u.stderr, "mcpgov: malformed message on the upstream GET stream skipped: %v\n", err)
				}
			}
			data.Reset()
			event = ""
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		case "event":
			event = value
		case "id":
			lastID = value
		case "retry":
			var ms int
			if _, err := fmt.Sscan(value, &ms); err == nil && ms >= 0 {
				retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return lastID, retry
}

// ReadFrame implements Upstream.
func (u *HTTPUpstream) ReadFrame() ([]byte, error) {
	select {
	case f := <-u.frames:
		return f.frame, f.err
	case <-u.ctx.Done():
		return nil, io.EOF
	}
}

// WriteFrame implements Upstream.
func (u *HTTPUpstream) WriteFrame(frame []byte) error {
	msg, err := jsonrpc.DecodeMessage(frame)
	if err != nil {
		return fmt.Errorf("decode message for the upstream: %w", err)
	}
	if req, ok := msg.(*jsonrpc.Request); ok && req.Method == "initialize" && req.IsCall() {
		u.mu.Lock()
		u.initKey, u.initMsg = idKeyOf(req.ID), req
		u.mu.Unlock()
	}
	u.mu.Lock()
	conn := u.conn
	u.mu.Unlock()
	err = conn.Write(u.ctx, msg)
	if errors.Is(err, mcp.ErrSessionMissing) {
		fmt.Fprintf(u.stderr, "mcpgov: upstream session expired; initializing a new one\n")
		if err := u.reinitialize(); err != nil {
			return fmt.Errorf("re-initialize upstream session: %w", err)
		}
		u.mu.Lock()
		conn = u.conn
		u.mu.Unlock()
		err = conn.Write(u.ctx, msg)
	}
	return err
}

// reinitialize replays the client's initialize on a new connection; its
// answer is not forwarded (the client has one already).
func (u *HTTPUpstream) reinitialize() error {
	u.mu.Lock()
	init := u.initMsg
	u.mu.Unlock()
	if init == nil {
		return errors.New("the session expired before initialize")
	}
	old := u.conn
	if err := u.connect(); err != nil {
		return err
	}
	_ = old.Close()
	id, _ := jsonrpc.MakeID("mcpgov-reinitialize")
	answer := make(chan []byte, 1)
	u.mu.Lock()
	u.reinitID, u.reinit = id, answer
	conn := u.conn
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.reinit = nil
		u.mu.Unlock()
	}()
	if err := conn.Write(u.ctx, &jsonrpc.Request{ID: id, Method: "initialize", Params: init.Params}); err != nil {
		return err
	}
	select {
	case frame := <-answer:
		m, err := rpc.Parse(frame)
		if err != nil || m.Error != nil {
			return fmt.Errorf("initialize refused: %s", frame)
		}
		u.initialized(conn, m.Result)
	case <-time.After(30 * time.Second):
		return errors.New("no answer to initialize within 30s")
	case <-u.ctx.Done():
		return u.ctx.Err()
	}
	return conn.Write(u.ctx, &jsonrpc.Request{Method: "notifications/initialized"})
}

// Shutdown implements Upstream: it ends the session (DELETE) and stops
// every stream.
func (u *HTTPUpstream) Shutdown(time.Duration) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	conn := u.conn
	u.mu.Unlock()
	err := conn.Close()
	u.cancel()
	return err
}
