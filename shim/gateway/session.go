package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// session is one MCP session: an engine session, its upstreams, and the
// HTTP streams its messages to the client go out on. It is also the
// engine's client Peer: every message the engine writes to the client is
// routed here — an answer to the POST that asked (by the client's id,
// which the engine echoes byte for byte), a progress notification to the
// POST that carries its token, and the server's other messages to the one
// POST stream in flight when there is exactly one (they are then about
// it), else to the GET stream (kept until one opens); when the upstream's
// transport says which request a server's message is about (it came on
// that request's answer stream), it goes to that request's POST stream.
type session struct {
	h        *Handler
	key      string // the Mcp-Session-Id
	endpoint string
	who      audit.Identity // who opened it; only they may use it
	engine   *enforce.Session
	ups      []shim.Upstream
	info     SessionInfo // what its cores were built for (Reload builds new ones)
	ids      []string    // the server id of each route
	ctx      context.Context
	cancel   context.CancelFunc
	pumps    sync.WaitGroup

	// aggregate: its endpoint is /mcp or a virtual server, whose names
	// are namespaced by route.
	aggregate bool

	mu      sync.Mutex
	waiters map[string]*reply // by the client's raw id
	tokens  map[string]*reply // by raw progress token
	live    map[*reply]bool   // streamed answers in flight
	get     *outbox           // the open GET stream
	backlog []event           // for a GET stream not open yet
	posts   map[string]*reply // streamed POSTs waiting for their answer, by stream
	postSeq uint64            // numbers the streamed POSTs (their stream names)
	done    []string          // streams written to the end, newest last (their events are kept a while)
	gone    int               // routes whose upstream went away
	goneWhy string            // why the last of them went away, as a call in flight was told
	ended   bool
	idle    *time.Timer

	// A pooled session of stateless callers (stateless.go): poolKey names
	// its slot in Handler.pools, initResult is its initialize answer, seq
	// numbers the ids its requests go upstream under.
	poolKey    string
	initResult []byte
	seq        uint64
	listeners  map[*listener]bool // its clients' subscriptions/listen streams
	subs       map[string]int     // resource URIs subscribed upstream: how many listeners want each
	// bindings are the x-mcp-header annotations of the tools listed in it,
	// by the name its clients call them; bindingsComplete: every tool was
	// listed since the list last changed (mcpparam.go).
	bindings         map[string][]paramBinding
	bindingsComplete bool
	bindingsGen      uint64 // counts the list's changes
	// inputCaps are the server requests its client declared it answers
	// (by method), inputs its calls waiting for the client's input
	// (mrtr.go).
	inputCaps map[string]bool
	inputs    map[*inputCall]bool
}

// reply is one POST waiting for its answer.
type reply struct {
	id    string
	token string
	out   *outbox
	// rewrite, when set, makes the answer the client gets from the one
	// the engine wrote (a stateless request's, under the client's id).
	rewrite func(*rpc.Message) []byte
	// stream names a streamed answer's stream in event ids (a client
	// resumes it with Last-Event-ID until its answer is out).
	stream string
	// call is a stateless client's request (mrtr.go).
	call *statelessCall
}

// directUpstream is an upstream that can hand the messages it reads to
// the engine on the goroutine that read them (*shim.HTTPUpstream).
type directUpstream interface {
	DeliverTo(func(*rpc.Message))
}

// pump reads route i's upstream into the engine.
func (s *session) pump(i int, up shim.Upstream) {
	defer s.pumps.Done()
	for {
		frame, err := up.ReadFrame()
		var tooLarge *shim.FrameTooLargeError
		if errors.As(err, &tooLarge) {
			s.engine.UpstreamOversize(i, tooLarge.ID(), err)
			continue
		}
		if err != nil {
			s.upstreamGone(i, err)
			return
		}
		_ = s.engine.FromUpstream(s.ctx, i, frame) // errors only when the client peer fails; ours does not
	}
}

// upstreamGone answers the calls waiting for route i; the session ends
// when no upstream is left (a client then gets 404 and initializes anew).
func (s *session) upstreamGone(i int, err error) {
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if p, ok := s.ups[i].(*shim.Process); ok && !ended {
		// Say how the process ended (its stderr, which may hold
		// anything, stays in the log). Before the route counts as gone:
		// a request that finds every route gone is told this.
		err = p.ExitCause(err)
	}
	s.mu.Lock()
	ended = s.ended
	s.gone++
	all := s.gone == len(s.ups)
	s.goneWhy = fmt.Sprintf("upstream MCP server %s is not accepting messages: %v", s.ids[i], err)
	s.mu.Unlock()
	if ended {
		return // we stopped it
	}
	s.engine.UpstreamGone(i, err)
	if all {
		reason := fmt.Sprintf("the upstream server %s exited", s.ids[i])
		if err != nil && !errors.Is(err, io.EOF) {
			reason += ": " + err.Error()
		}
		s.end(reason)
	}
}

// fromClient hands a notification or an answer of the client to the
// engine.
func (s *session) fromClient(body []byte) {
	s.touch()
	_ = s.engine.FromClient(s.ctx, body)
}

// call hands a request of the client to the engine and answers the POST
// with what the engine writes for it.
func (s *session) call(w http.ResponseWriter, r *http.Request, m *rpc.Message, body []byte, stream bool) {
	rep := &reply{id: string(m.ID), out: newOutbox()}
	if !s.register(w, m, rep, stream) {
		return
	}
	if stream {
		// Priming needs a client of 2025-11-25 or later: older ones
		// may not take an event without data.
		rep.out.prime = rep.out.log != nil && r.Header.Get(headerProtocol) >= "2025-11-25"
	}
	s.touch()
	_ = s.engine.FromClientMessage(withRequestLogging(s.ctx, r), m)
	if stream {
		read := s.stream(w, r, rep.out, func() {
			if rep.out.log != nil {
				s.detach(rep) // its client may resume it
			} else {
				s.forget(rep)
			}
		}, nil, 0)
		if read && rep.out.log != nil {
			if _, shared := s.h.opts.EventLog.(SharedEventLog); shared {
				// The answer goes out before the store is told.
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
			s.streamDone(rep.stream)
		}
		return
	}
	select {
	case <-rep.out.closed():
	case <-r.Context().Done():
		s.forget(rep)
		return
	}
	items, _ := rep.out.take()
	if len(items) == 0 {
		httpError(w, http.StatusNotFound, "the session ended before the server answered")
		return
	}
	writeJSON(w, http.StatusOK, items[len(items)-1].data)
}

// register makes rep the POST that waits for m's answer (and, streamed,
// its progress); false when the session ended or the id is in flight,
// which it answered.
func (s *session) register(w http.ResponseWriter, m *rpc.Message, rep *reply, stream bool) bool {
	s.mu.Lock()
	// A session whose every upstream went away is ending: its last
	// answers (why the calls failed) may reach the client before end
	// runs, and a request sent on seeing one must get what a request
	// after the end gets.
	if s.ended || len(s.ups) > 0 && s.gone == len(s.ups) {
		why := s.goneWhy
		s.mu.Unlock()
		if m.Method == "initialize" && why != "" {
			// The session this initialize opens lost its servers before
			// the answer (a process that exits at once): say why, as a
			// call in flight is told; a 404 would only send the client
			// to initialize anew into the same end.
			rpcError(w, http.StatusOK, m.ID, jsonrpc.CodeInternalError, why)
			return false
		}
		if rep.rewrite != nil {
			// A stateless request has no session to initialize anew.
			statelessError(w, m.ID, http.StatusServiceUnavailable, jsonrpc.CodeInternalError,
				"the upstream session serving this caller ended as the request arrived; retry it", nil)
			return false
		}
		httpError(w, http.StatusNotFound, "session not found; initialize a new one")
		return false
	}
	if _, dup := s.waiters[rep.id]; dup {
		s.mu.Unlock()
		// Answered under id null, as the shim does: clients match
		// answers by id, and an error under this id would end the call
		// still in flight.
		reason := fmt.Sprintf("%s with id %s refused: a request with the same id is still in flight", m.Method, m.ID)
		s.engine.Refuse(s.ctx, m.Method, reason)
		rpcError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request: mcpgov: "+reason)
		return false
	}
	s.waiters[rep.id] = rep
	if stream {
		s.live[rep] = true
		s.postSeq++
		rep.stream = "p" + strconv.FormatUint(s.postSeq, 10)
		shared, isShared := s.h.opts.EventLog.(SharedEventLog)
		if isShared {
			rep.stream += "-" + shared.ReplicaTag()
		}
		rep.out.stream, rep.out.log = rep.stream, s.logger(rep.stream)
		if rep.out.log != nil {
			s.posts[rep.stream] = rep
			if isShared {
				go s.keepLive(shared, rep)
			}
		}
		if tok := progressToken(m.Params); tok != "" {
			rep.token = tok
			s.tokens[tok] = rep
		}
	}
	s.mu.Unlock()
	s.touch()
	return true
}

// forget drops a POST whose client went away; its answer, when it
// comes, is dropped (a disconnection is no cancellation).
func (s *session) forget(rep *reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters[rep.id] == rep {
		delete(s.waiters, rep.id)
	}
	delete(s.live, rep)
	if rep.token != "" && s.tokens[rep.token] == rep {
		delete(s.tokens, rep.token)
	}
}

// serveGet serves the stream of the server's own messages; one per
// session at a time.
func (s *session) serveGet(w http.ResponseWriter, r *http.Request) {
	s.serveGetReplay(w, r, nil, 0, false)
}

// serveGetAfter resumes the GET stream after position pos.
func (s *session) serveGetAfter(w http.ResponseWriter, r *http.Request, lastID string, pos uint64) {
	replay, err := s.h.opts.EventLog.After(r.Context(), s.key, getStream, pos)
	if err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("cannot resume after Last-Event-ID %q: %v", lastID, err))
		return
	}
	s.serveGetReplay(w, r, replay, pos, true)
}

// serveGetReplay serves the GET stream, first replaying its events after
// position after.
func (s *session) serveGetReplay(w http.ResponseWriter, r *http.Request, replay [][]byte, after uint64, resuming bool) {
	g := newOutbox()
	g.stream, g.log = getStream, s.logger(getStream)
	s.mu.Lock()
	if old := s.get; old != nil && resuming {
		// The client knows its stream broke; the gateway may not have
		// noticed yet: the old reader stops, and what it took and did
		// not write goes back to the backlog (the log has it too).
		s.mu.Unlock()
		if !old.takeover(r.Context()) {
			return
		}
		s.mu.Lock()
		if s.get == old {
			s.get = nil
			items, _ := old.take()
			s.backlog = append(items, s.backlog...)
		}
	}
	switch {
	case s.ended:
		s.mu.Unlock()
		httpError(w, http.StatusNotFound, "session not found; initialize a new one")
		return
	case s.get != nil:
		s.mu.Unlock()
		httpError(w, http.StatusConflict, "this session's GET stream is open already")
		return
	}
	s.get = g
	for _, ev := range s.backlog {
		g.pushEvent(ev)
	}
	s.backlog = nil
	s.mu.Unlock()
	s.touch()
	s.stream(w, r, g, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.get == g {
			s.get = nil
			items, _ := g.take()
			s.backlog = append(items, s.backlog...)
		}
	}, replay, after)
	s.touch()
}

// WriteFrame implements enforce.Peer: it routes one message of the engine
// to the client's stream it belongs on.
func (s *session) WriteFrame(msg []byte) error {
	m, err := rpc.Parse(msg)
	if err != nil {
		s.h.warnf("message to the client dropped: %v", err)
		return nil
	}
	return s.WriteMessage(m)
}

var (
	_ enforce.MessageWriter = (*session)(nil)
	_ enforce.RelatedWriter = (*session)(nil)
)

// WriteMessage implements enforce.MessageWriter: WriteFrame for a message
// the engine parsed already.
func (s *session) WriteMessage(m *rpc.Message) error {
	return s.writeMessage(m, nil)
}

// WriteRelated implements enforce.RelatedWriter: a server's request or
// notification that came on the answer stream of the client's request
// related (its id as the client sent it) goes where that request's
// answer goes, when it is streamed there; the server sent it about that
// request (Streamable HTTP ties them so). m comes parsed by the engine.
func (s *session) WriteRelated(m *rpc.Message, related json.RawMessage) error {
	return s.writeMessage(m, related)
}

// writeMessage routes m; related, when set, is the client's request it
// is about.
func (s *session) writeMessage(m *rpc.Message, related json.RawMessage) error {
	msg := m.Raw
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	if m.IsResponse() {
		rep := s.waiters[string(m.ID)]
		if m.ID == nil || rep == nil {
			// Nobody waits for it (the POST went away): responses never
			// go on the GET stream.
			s.h.warnf("answer to request id %.40s dropped: its POST is gone", m.ID)
			return nil
		}
		delete(s.waiters, rep.id)
		delete(s.live, rep)
		if rep.token != "" {
			delete(s.tokens, rep.token)
		}
		if rep.stream != "" && s.posts[rep.stream] == rep {
			delete(s.posts, rep.stream) // ended: a resumption replays the log
		}
		if ic := rep.inputCall(); ic != nil {
			if ic.parked {
				// For the retry to come (a copy: msg is the engine's).
				if final, err := rpc.Parse(bytes.Clone(msg)); err == nil {
					ic.final = final
				}
				return nil
			}
			delete(s.inputs, ic)
			if ic.timer != nil {
				ic.timer.Stop()
			}
			s.h.dropInput(ic)
		}
		if rep.rewrite != nil {
			msg = rep.rewrite(m)
		}
		rep.out.push(msg)
		rep.out.close()
		return nil
	}
	if m.Method == "notifications/progress" {
		if rep := s.tokens[progressTokenOf(m.Params)]; rep != nil {
			rep.out.push(msg)
			return nil
		}
	}
	if s.poolKey != "" && m.IsCall() {
		s.serverRequest(m, related) // multi round-trip requests (mrtr.go)
		return nil
	}
	if s.poolKey != "" && m.Method == "notifications/tools/list_changed" {
		s.bindings, s.bindingsComplete = nil, false
		s.bindingsGen++
	}
	if s.poolKey != "" && (strings.HasSuffix(m.Method, "/list_changed") || m.Method == "notifications/resources/updated") {
		s.toListeners(m) // to its clients' subscriptions/listen streams
		return nil
	}
	if rep := s.waiters[string(related)]; related != nil && rep != nil && s.live[rep] {
		if rep.takesLog(m) {
			rep.out.push(msg)
		}
		return nil
	}
	// Tied by the upstream to a request that is no call of the client's
	// (enforce.RelatedWriter): never pinned on the one call in flight.
	over := related != nil && len(related) == 0
	if len(s.live) == 1 && !over {
		for rep := range s.live {
			if rep.takesLog(m) {
				rep.out.push(msg)
			}
		}
		return nil
	}
	if s.poolKey != "" {
		return nil // the stateless revision has no stream for it
	}
	if s.get != nil && s.get.push(msg) {
		return nil
	}
	if len(s.backlog) >= DefaultBacklog {
		s.h.warnf("session's backlog for its GET stream is full; oldest message dropped")
		s.backlog = s.backlog[1:]
	}
	ev := event{data: msg}
	if log := s.logger(getStream); log != nil {
		if ev.pos = log(msg); ev.pos != 0 {
			ev.id = eventID(getStream, ev.pos)
		}
	}
	s.backlog = append(s.backlog, ev)
	return nil
}

// keepDone is how many streams written to their end keep their events: a
// write to a connection that broke succeeds all the same, and its client
// then resumes a stream the gateway wrote to the end.
const keepDone = 8

// streamDone notes a stream written to its end; the events of the
// oldest such stream beyond keepDone are dropped.
func (s *session) streamDone(stream string) {
	s.mu.Lock()
	s.done = append(s.done, stream)
	var drop string
	if len(s.done) > keepDone {
		drop = s.done[0]
		s.done = append(s.done[:0], s.done[1:]...)
	}
	s.mu.Unlock()
	if drop != "" {
		s.h.opts.EventLog.Drop(s.ctx, s.key, drop)
	}
}

// touch restarts the idle timer.
func (s *session) touch() {
	if s.idle != nil {
		s.idle.Reset(s.h.opts.IdleTimeout)
	}
}

// expire ends a session nobody used for IdleTimeout; one with a stream
// open or a call in flight is in use.
func (s *session) expire() {
	s.mu.Lock()
	busy := s.get != nil || len(s.waiters) > 0
	s.mu.Unlock()
	if busy {
		s.touch()
		return
	}
	s.end("the session was idle")
}

// end ends the session once: it is unregistered, its streams and waiting
// POSTs are closed, and its upstreams are shut down in the background;
// what was still pending is recorded.
func (s *session) end(reason string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	waiters, get, listeners, inputs := s.waiters, s.get, s.listeners, s.inputs
	s.listeners, s.inputs = nil, nil
	s.waiters, s.tokens, s.live, s.get, s.backlog, s.posts = nil, nil, nil, nil, nil, nil
	s.mu.Unlock()
	if s.idle != nil {
		s.idle.Stop()
	}
	h := s.h
	h.mu.Lock()
	if h.sessions[s.key] == s {
		delete(h.sessions, s.key)
	}
	if slot := h.pools[s.poolKey]; s.poolKey != "" && slot != nil && slot.s == s {
		delete(h.pools, s.poolKey)
	}
	h.mu.Unlock()
	for _, rep := range waiters {
		// A call the engine never saw (it arrived as the session
		// ended) still gets an answer that says why.
		rep.out.push(rpc.ErrorResponse(json.RawMessage(rep.id), &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
			Message: "mcpgov: the session ended before the server answered: " + reason}))
		rep.out.close()
	}
	if get != nil {
		get.close()
	}
	for l := range listeners {
		l.out.push(s.listenResult(l.id)) // the subscription ends gracefully
		l.out.close()
	}
	s.endInputs(inputs)
	go func() {
		defer h.wg.Done()
		s.shutdownUpstreams()
		s.pumps.Wait()
		s.engine.Abandon()
		s.engine.Wait()
		if log := h.opts.EventLog; log != nil && s.forgetLog(reason) {
			log.Forget(context.WithoutCancel(s.ctx), s.key)
		}
		s.cancel()
		fmt.Fprintf(h.opts.Diag, "mcpgov: session on %s ended: %s\n", s.endpoint, reason)
	}()
}

// shutdownUpstreams stops every started upstream, in parallel.
func (s *session) shutdownUpstreams() {
	var wg sync.WaitGroup
	for _, up := range s.ups {
		wg.Go(func() { _ = up.Shutdown(s.h.opts.Grace) })
	}
	wg.Wait()
}

// progressToken reads a request's params._meta.progressToken as raw JSON.
func progressToken(params []byte) string {
	if !bytes.Contains(params, []byte("progressToken")) && !bytes.Contains(params, []byte(`\u`)) {
		return "" // no member can be named progressToken (most calls)
	}
	var p struct {
		Meta struct {
			Token jsontext.Value `json:"progressToken"`
		} `json:"_meta"`
	}
	if len(params) == 0 || jsonv2.Unmarshal(params, &p) != nil {
		return ""
	}
	return string(p.Meta.Token)
}

// progressTokenOf reads notifications/progress's progressToken.
func progressTokenOf(params []byte) string {
	var p struct {
		Token jsontext.Value `json:"progressToken"`
	}
	if jsonv2.Unmarshal(params, &p) != nil {
		return ""
	}
	return string(p.Token)
}

// sameCaller reports whether a request's identity is the one that
// opened the session: a session id that leaked does not let another
// caller act in it.
func sameCaller(a, b audit.Identity) bool {
	return a.Method == b.Method && a.Issuer == b.Issuer && a.Subject == b.Subject
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func statusOf(err error) int {
	if errors.Is(err, ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusForbidden
}

// The reasons a client ends its session, through this replica or another.
const (
	reasonClientEnded          = "the client ended the session"
	reasonClientEndedElsewhere = "the client ended the session through another replica"
)

// forgetLog reports whether a session's end drops its events: always from
// a log of this replica's own; from a shared one only when the client
// ended the session (other replicas' copies may still serve it; its
// events expire otherwise).
func (s *session) forgetLog(reason string) bool {
	if _, shared := s.h.opts.EventLog.(SharedEventLog); !shared {
		return true
	}
	return reason == reasonClientEnded || reason == reasonClientEndedElsewhere
}
