package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// HTTPUpstream is a Streamable HTTP upstream (protocol 2025-03-26 and
// later), written raw: a message goes upstream as the bytes the engine
// decided on and comes back as the bytes the server sent, with no decoding
// into another library's types and back (which cost about a sixth of a
// gateway's CPU per call, and lost integer ids above 2^53). It opens the
// standalone GET stream itself, before the client sees the initialize
// result; sends MCP-Protocol-Version once the server chose one; and
// re-initializes a session the server has forgotten (404) with the
// client's own initialize request.
type HTTPUpstream struct {
	endpoint string
	client   *http.Client
	rt       *versionTransport
	stderr   io.Writer

	ctx    context.Context
	cancel context.CancelFunc
	frames chan frameResult

	mu        sync.Mutex
	session   string       // Mcp-Session-Id the server gave
	sessionHV []string     // session as a header value, shared by its requests
	gen       int          // incremented per (re)initialized session
	initKey   string       // raw ID of the client's initialize call
	initMsg   *rpc.Message // the client's initialize, replayed on 404
	reinitKey string       // raw ID of our own request in flight: initialize during re-initialization, server/discover
	reinit    chan []byte  // its answer
	closed    bool

	// stateless, when set, calls the server without a session (see
	// Stateless).
	stateless *statelessUp

	auth Authorizer // nil: no OAuth of mcpgov's own

	// direct, when set (DeliverTo), takes the messages read from the
	// server's streams on the goroutine that read them.
	direct atomic.Pointer[func(*rpc.Message)]
}

type frameResult struct {
	frame []byte
	err   error
}

// versionTransport adds MCP-Protocol-Version, fixed headers and the
// outbound credentials — only to requests for the endpoint's own origin,
// so nothing configured for one server (a moved secret, an API key, a
// bearer token) reaches another host.
type versionTransport struct {
	base   http.RoundTripper
	origin string // scheme://host[:port] of the endpoint
	// scheme and host are the endpoint URL's, as written: a request for
	// exactly them is for origin, with no need to normalise its URL.
	scheme, host string
	headers      http.Header
	apply        func(*http.Request) error // outbound credentials, per request; may be nil
	// authorizer, when set, gives the bearer token of each request.
	authorizer Authorizer
	mu         sync.Mutex
	version    []string // MCP-Protocol-Version as a header value; nil before one was chosen
}

func (t *versionTransport) setVersion(v string) {
	t.mu.Lock()
	t.version = nil
	if v != "" {
		t.version = []string{v}
	}
	t.mu.Unlock()
}

// Header values every request of a kind carries, shared rather than made
// per request (a header's Set makes its value slice): nothing that sends
// or copies a request changes them (Header.Clone copies the values).
var (
	headerJSON      = []string{"application/json"}
	headerAcceptAll = []string{"application/json, text/event-stream"}
)

// RoundTrip implements http.RoundTripper.
func (t *versionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	v := t.version
	t.mu.Unlock()
	if (req.URL.Scheme != t.scheme || req.URL.Host != t.host) && origin(req.URL) != t.origin {
		// The client refuses redirects to another origin (checkRedirect);
		// this is the second line: never decorate such a request.
		return nil, fmt.Errorf("refusing to send the upstream's headers and credentials to %s: not the configured origin %s", origin(req.URL), t.origin)
	}
	// Decorated in place, not cloned (a clone is about six allocations
	// per call): every request this transport sees was made for it, by
	// HTTPUpstream or by its client following a redirect, and is sent
	// once; no caller reads its headers as it made them.
	for k, vs := range t.headers {
		req.Header[k] = vs
	}
	if v != nil && req.Header.Get("MCP-Protocol-Version") == "" {
		req.Header["Mcp-Protocol-Version"] = v
	}
	if t.apply != nil {
		// Per request, so a refreshed token is the one sent.
		if err := t.apply(req); err != nil {
			return nil, fmt.Errorf("outbound credentials: %w", err)
		}
	}
	if t.authorizer != nil && req.Header.Get("Authorization") == "" {
		v, err := t.authorizer.Authorization(req.Context())
		if err != nil {
			return nil, fmt.Errorf("authorization: %w", err)
		}
		if v != "" {
			req.Header.Set("Authorization", v)
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
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: want http:// or https:// with a host", endpoint)
	}
	rt := &versionTransport{base: upstreamTransport, origin: origin(u), scheme: u.Scheme, host: u.Host, headers: headers, apply: cred.Apply, authorizer: cred.Authorizer}
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: rt, CheckRedirect: checkRedirect(rt.origin)}
	up := &HTTPUpstream{
		endpoint: endpoint, client: client, rt: rt, stderr: stderr,
		ctx: ctx, cancel: cancel, frames: make(chan frameResult, 16), auth: cred.Authorizer,
	}
	if cred.Authorizer != nil {
		// A consent the authorizer linked to is announced to the client
		// (notifications/elicitation/complete) as if the server had sent it.
		up.notifier(cred.Authorizer)
	}
	return up, nil
}

// origin is scheme://host[:port], lower-cased, with the scheme's default
// port left out, so that two spellings of one origin compare equal.
func origin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// checkRedirect follows a redirect within the endpoint's origin (a server
// that moves /mcp to /mcp/) and refuses one to any other origin: the
// request would carry the upstream's headers and credentials there.
func checkRedirect(want string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if got := origin(req.URL); got != want {
			return fmt.Errorf("the upstream server redirected to another origin (%s); mcpgov does not follow it, since the request carries this server's credentials: point the catalog or --url at the final address", got)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

func (u *HTTPUpstream) current(gen int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return gen == u.gen && !u.closed
}

// DeliverTo makes the upstream hand each message it reads from one of
// the server's streams (a streamed answer, the GET stream) to fn, on the
// goroutine that read it, parsed, instead of queueing it for ReadFrame: a
// caller that governs many calls at once (the gateway) then finishes each
// answer on its stream's own goroutine, with no hop through one reader
// and no second parse. fn must be safe for concurrent use, and owns the
// message; messages of one stream reach it in order. An answer the
// server sends as the POST's JSON body still goes to ReadFrame, which
// also reports the end of the connection. Call it before the first
// message is sent.
func (u *HTTPUpstream) DeliverTo(fn func(m *rpc.Message)) { u.direct.Store(&fn) }

// deliverRead passes on a message read from a stream of the server.
func (u *HTTPUpstream) deliverRead(m *rpc.Message) {
	if fn := u.direct.Load(); fn != nil {
		if u.ctx.Err() == nil {
			(*fn)(m)
		}
		return
	}
	u.deliver(frameResult{frame: m.Raw})
}

func (u *HTTPUpstream) deliver(f frameResult) {
	select {
	case u.frames <- f:
	case <-u.ctx.Done():
	}
}

// handle passes one message of the server on: the answer to our own
// re-initialization goes to reinitialize, the answer to the client's
// initialize opens the GET stream first, everything else to the engine
// (read says it was read from a stream: see DeliverTo). related is the id
// of the request whose answer stream carried it (nil for the GET stream
// or a JSON body): a request or notification of the server there is
// about that request, and says so in its Related. It returns the
// message's id (nil for none) and whether the message could be parsed.
func (u *HTTPUpstream) handle(frame []byte, gen int, read bool, related json.RawMessage) (json.RawMessage, bool) {
	m, err := rpc.Parse(frame)
	if err != nil {
		fmt.Fprintf(u.stderr, "mcpgov: malformed message from the upstream server skipped: %v\n", err)
		return nil, false
	}
	if related != nil && !m.IsResponse() {
		m.Related = related
	}
	if m.IsResponse() {
		key := string(m.ID)
		u.mu.Lock()
		reinit := u.reinit
		isReinit := reinit != nil && key == u.reinitKey
		isInit := u.initKey != "" && key == u.initKey
		u.mu.Unlock()
		if isReinit {
			reinit <- m.Raw
			return m.ID, true
		}
		if isInit && m.Error == nil {
			u.initialized(m.Result, gen)
		}
		if u.stateless != nil && !u.statelessAnswer(m) {
			return m.ID, true // held: its input is asked of the client
		}
	}
	id := m.ID // the receiver may change m
	if u.current(gen) {
		if read {
			u.deliverRead(m)
		} else {
			u.deliver(frameResult{frame: m.Raw})
		}
	}
	return id, true
}

// initialized learns the protocol version and opens the GET stream, before
// the initialize result is released to the client.
func (u *HTTPUpstream) initialized(result json.RawMessage, gen int) {
	var r struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(result, &r) == nil && r.ProtocolVersion != "" {
		u.rt.setVersion(r.ProtocolVersion)
	}
	u.mu.Lock()
	session := u.session
	u.mu.Unlock()
	u.openStream(session, gen, "")
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
		last, retry, _ := u.readEvents(resp.Body, gen, lastID, "")
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
// event ID, the reconnection delay, and whether the answer to request want
// (its raw id) came. The stream of a request (want set) carries the
// server's messages about it: they are handed on as related to it.
func (u *HTTPUpstream) readEvents(body io.Reader, gen int, lastID, want string) (string, time.Duration, bool) {
	answered := false
	var related json.RawMessage
	if want != "" {
		related = json.RawMessage(want)
	}
	retry := time.Second
	sc := bufio.NewScanner(body)
	// The buffer starts at the scanner's 4 KiB and grows to the frame
	// limit only for a stream that needs it: one is read per streamed
	// answer, and most answers are small.
	sc.Buffer(nil, DefaultMaxFrame)
	var data bytes.Buffer
	event := ""
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if data.Len() > 0 && (event == "" || event == "message") && u.current(gen) {
				frame := bytes.Clone(data.Bytes())
				id, parsed := u.handle(frame, gen, true, related)
				if want != "" && !answered {
					if !parsed {
						// A frame handle skipped counts as the answer
						// when its id reads as the call's.
						id = rpc.LenientID(frame)
					}
					answered = string(id) == want
				}
			}
			data.Reset()
			event = ""
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		case "event":
			event = string(value)
		case "id":
			lastID = string(value)
		case "retry":
			var ms int
			if _, err := fmt.Sscan(string(value), &ms); err == nil && ms >= 0 {
				retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return lastID, retry, answered
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

// errSessionMissing: the server answered 404 to a request in a session:
// it has forgotten the session.
var errSessionMissing = errors.New("the upstream server no longer knows the session")

// WriteFrame implements Upstream: it POSTs the frame as it is and returns
// once the server has taken it (an answer it sends as one JSON body is
// passed on before; one it streams is read on by another goroutine).
func (u *HTTPUpstream) WriteFrame(frame []byte) error {
	m, err := rpc.Parse(frame)
	if err != nil {
		return fmt.Errorf("message for the upstream: %w", err)
	}
	return u.WriteMessage(m)
}

// WriteMessage is WriteFrame for a message parsed already (or made by
// rpc.NewRequest): the engine's governed call is not parsed again. The
// upstream owns m from then on.
func (u *HTTPUpstream) WriteMessage(m *rpc.Message) error {
	if u.stateless != nil {
		return u.writeStateless(m)
	}
	if m.Method == "initialize" && m.IsCall() {
		u.mu.Lock()
		u.initKey, u.initMsg = string(m.ID), m
		u.mu.Unlock()
	}
	err := u.post(m)
	if errors.Is(err, errSessionMissing) {
		fmt.Fprintf(u.stderr, "mcpgov: upstream session expired; initializing a new one\n")
		if err := u.reinitialize(); err != nil {
			return fmt.Errorf("re-initialize upstream session: %w", err)
		}
		err = u.post(m)
	}
	return err
}

// post sends one message. An answer in the response goes to handle.
func (u *HTTPUpstream) post(m *rpc.Message) error {
	return u.postWith(u.ctx, m, nil)
}

// postWith is post under ctx (which ends the request); done, when set,
// is called once the POST is over: its answer read, or its stream ended.
func (u *HTTPUpstream) postWith(ctx context.Context, m *rpc.Message, done func()) error {
	streamed := false
	if done != nil {
		defer func() {
			if !streamed {
				done()
			}
		}()
	}
	u.mu.Lock()
	session, sessionHV, gen, closed := u.session, u.sessionHV, u.gen, u.closed
	u.mu.Unlock()
	if closed {
		return errors.New("the upstream connection is closed")
	}
	what := "message"
	if m.Method != "" {
		what = fmt.Sprintf("%q", m.Method)
	}
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.endpoint, bytes.NewReader(m.Raw))
		if err != nil {
			return fmt.Errorf("sending %s: %w", what, err)
		}
		req.Header["Content-Type"] = headerJSON
		req.Header["Accept"] = headerAcceptAll
		if session != "" {
			req.Header["Mcp-Session-Id"] = sessionHV
		}
		if u.stateless != nil && m.IsCall() {
			u.statelessHeaders(req.Header, m)
		}
		resp, err = u.client.Do(req)
		if err != nil {
			return fmt.Errorf("sending %s: %w", what, err)
		}
		if u.auth == nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) || attempt >= maxAuthRetries {
			break
		}
		sent := ""
		if resp.Request != nil {
			sent = resp.Request.Header.Get("Authorization")
		}
		body, _ := readBody(resp)
		u.mu.Lock()
		init := u.initMsg
		u.mu.Unlock()
		res := u.auth.Challenged(u.ctx, Challenge{Status: resp.StatusCode, Header: resp.Header, Sent: sent, Call: m, Init: init, Attempt: attempt})
		if res.Retry {
			continue
		}
		if res.Answer != nil && m.IsCall() {
			u.handle(res.Answer, gen, false, nil)
			return nil
		}
		// Nothing to do about it: the refusal goes on as the server wrote it.
		resp.Body = io.NopCloser(bytes.NewReader(body))
		break
	}
	if m.Method == "initialize" && m.IsCall() && resp.StatusCode == http.StatusOK {
		u.mu.Lock()
		if u.gen == gen {
			u.session = resp.Header.Get("Mcp-Session-Id")
			u.sessionHV = []string{u.session}
		}
		u.mu.Unlock()
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusNotFound && session != "":
		drain(resp)
		return errSessionMissing
	case resp.StatusCode == http.StatusAccepted:
		drain(resp)
		u.statelessUnanswered(m, "answered its POST with 202 Accepted and no body")
		return nil
	case resp.StatusCode == http.StatusOK && mediaType == "text/event-stream":
		streamed = true
		streamWorkers.run(func() {
			u.readPostStream(resp, m, session, gen)
			if done != nil {
				done()
			}
		})
		return nil
	case resp.StatusCode == http.StatusOK && mediaType == "application/json":
		body, err := readBody(resp)
		if err != nil {
			return fmt.Errorf("sending %s: read the answer: %w", what, err)
		}
		if id, _ := u.handle(body, gen, false, nil); string(id) != string(m.ID) {
			u.statelessUnanswered(m, statelessStrayAnswer(id))
		}
		return nil
	case resp.StatusCode == http.StatusOK:
		drain(resp)
		return fmt.Errorf("sending %s: the server answered with Content-Type %q", what, resp.Header.Get("Content-Type"))
	}
	// A refusal: a JSON-RPC error answering the request is passed on as
	// the server wrote it; anything else says what the server said.
	body, _ := readBody(resp)
	if a, err := rpc.Parse(body); err == nil && a.IsResponse() && m.IsCall() && string(a.ID) == string(m.ID) {
		u.handle(body, gen, false, nil)
		return nil
	}
	return fmt.Errorf("sending %s: HTTP %d: %.200s", what, resp.StatusCode, bytes.TrimSpace(body))
}

// readPostStream reads the stream a POST was answered with. A stream that
// ends before the request's answer is resumed the way the transport
// specifies: after the server's retry delay, a GET with Last-Event-ID
// replays what followed the last event seen, until the answer comes or
// the server has no more.
func (u *HTTPUpstream) readPostStream(resp *http.Response, m *rpc.Message, session string, gen int) {
	want := ""
	if m.IsCall() {
		want = string(m.ID)
	}
	last, retry, answered := u.readEvents(resp.Body, gen, "", want)
	resp.Body.Close()
	// The stateless revision resumes no stream: it has no session.
	for want != "" && !answered && last != "" && u.current(gen) && u.stateless == nil {
		timer := time.NewTimer(retry)
		select {
		case <-timer.C:
		case <-u.ctx.Done():
			timer.Stop()
			return
		}
		req, err := http.NewRequestWithContext(u.ctx, http.MethodGet, u.endpoint, nil)
		if err != nil {
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", last)
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		r, err := u.client.Do(req)
		if err != nil || r.StatusCode != http.StatusOK {
			if err == nil {
				drain(r)
				err = fmt.Errorf("HTTP %d", r.StatusCode)
			}
			fmt.Fprintf(u.stderr, "mcpgov: resuming the upstream's stream for request %.40s: %v\n", want, err)
			break
		}
		next, nextRetry, got := u.readEvents(r.Body, gen, last, want)
		r.Body.Close()
		if next == last && !got {
			break // nothing new: the server cannot resume it
		}
		last, retry, answered = next, nextRetry, got
	}
	if want != "" && !answered && u.current(gen) {
		// The answer is lost: say so rather than leave the call waiting.
		u.answerError(m.ID, nil, "mcpgov: the upstream server's stream ended before it answered")
	}
}

// readBody reads a JSON answer, at most a frame's limit.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxFrame+1))
	if err == nil && len(body) > DefaultMaxFrame {
		return nil, fmt.Errorf("%w of %d bytes", ErrFrameTooLarge, DefaultMaxFrame)
	}
	return body, err
}

// drain reads a little of a body nobody needs, so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// reinitialize replays the client's initialize in a new session; its
// answer is not forwarded (the client has one already).
func (u *HTTPUpstream) reinitialize() error {
	u.mu.Lock()
	init := u.initMsg
	if init == nil {
		u.mu.Unlock()
		return errors.New("the session expired before initialize")
	}
	answer := make(chan []byte, 1)
	u.session, u.sessionHV, u.gen = "", nil, u.gen+1
	u.reinitKey, u.reinit = `"mcpgov-reinitialize"`, answer
	gen := u.gen
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.reinit = nil
		u.mu.Unlock()
	}()
	req := []byte(`{"jsonrpc":"2.0","id":"mcpgov-reinitialize","method":"initialize","params":` + string(init.Params) + `}`)
	m, err := rpc.Parse(req)
	if err != nil {
		return err
	}
	if err := u.post(m); err != nil {
		return err
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case frame := <-answer:
		a, err := rpc.Parse(frame)
		if err != nil || a.Error != nil {
			return fmt.Errorf("initialize refused: %s", frame)
		}
		u.mu.Lock()
		ok := u.gen == gen
		u.mu.Unlock()
		if ok {
			u.initialized(a.Result, gen)
		}
	case <-timer.C:
		return errors.New("no answer to initialize within 30s")
	case <-u.ctx.Done():
		return u.ctx.Err()
	}
	n, _ := rpc.Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	return u.post(n)
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
	session := u.session
	u.mu.Unlock()
	var err error
	if session != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, rerr := http.NewRequestWithContext(ctx, http.MethodDelete, u.endpoint, nil)
		if rerr == nil {
			req.Header.Set("Mcp-Session-Id", session)
			var resp *http.Response
			if resp, err = u.client.Do(req); err == nil {
				drain(resp)
			}
		}
	}
	u.cancel()
	return err
}
