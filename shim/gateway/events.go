package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resumable streams (Streamable HTTP 2025-11-25, "Resumability and
// Redelivery"): every event the gateway writes on a session's stream
// carries an id that names the stream and the event's position in it,
// STREAM_POSITION: "get_7" is the 7th event of the session's GET stream,
// "p3_2" the 2nd of the session's 3rd streamed POST answer. The events
// are kept in the session's event log; a client whose stream broke sends
// GET with Last-Event-ID and gets the events of that stream after it, then
// what follows (for a POST stream: up to its answer). The stateless
// revision has no resumption, and its pooled sessions keep no log.

// EventLog keeps the events of sessions' streams. The memory one keeps
// them in the replica; one shared by replicas (Redis) can replace it, so
// that a stream resumes on another replica.
type EventLog interface {
	// Append adds data as the next event of stream of session and
	// returns its position (1, 2, …).
	Append(ctx context.Context, session, stream string, data []byte) (uint64, error)
	// After returns the events of stream of session after position pos
	// (0: all), in order; an error wrapping ErrEventNotInLog when the log
	// cannot say what followed pos (evicted, or never written).
	After(ctx context.Context, session, stream string, pos uint64) ([][]byte, error)
	// Drop drops the events of a stream its client read to the end.
	Drop(ctx context.Context, session, stream string)
	// Forget drops the events of a session that ended.
	Forget(ctx context.Context, session string)
}

// SharedEventLog is an EventLog several replicas share (Redis): a
// session's streams outlive any one replica's copy of the session. A
// replica names the POST streams it opens with its ReplicaTag (p3-1a2b3c)
// so that two replicas' copies of a session never write one stream; a
// copy that ends (idle, shut down) leaves the log to the copies on other
// replicas, and only the client's DELETE forgets it (else it expires); a
// POST stream resumed on a replica that is not running its call follows
// the log until the call's answer is in it.
type SharedEventLog interface {
	EventLog
	ReplicaTag() string
	// Live notes that the replica writing stream of session is alive,
	// for lease; Running reports whether such a note is current.
	Live(ctx context.Context, session, stream string, lease time.Duration) error
	Running(ctx context.Context, session, stream string) (bool, error)
}

// streamLease is how long a POST stream's call counts as running on its
// replica after the replica last said so (every streamLease/3): a stream
// followed on another replica ends once it has been quiet for this long
// and its replica no longer says so (the replica died), instead of
// waiting for the idle timeout.
const streamLease = 6 * time.Second

// keepLive says, until rep's answer is in, that this replica runs it.
func (s *session) keepLive(l SharedEventLog, rep *reply) {
	t := time.NewTicker(streamLease / 3)
	defer t.Stop()
	for {
		_ = l.Live(s.ctx, s.key, rep.stream, streamLease) // a store down is reported by appends
		select {
		case <-rep.out.closed():
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrEventNotInLog: a Last-Event-ID the log cannot resume after.
var ErrEventNotInLog = errors.New("event not in the session's event log")

// Default bounds of the memory event log, per session: the newest events
// are kept, up to both bounds. A POST stream's events are dropped once
// eight later streams were written to their end (keepDone), so the log
// holds the GET stream's recent events, those of answers in flight or
// broken off, and of the last few answers.
const (
	DefaultEventLogEvents = 1000
	DefaultEventLogBytes  = 4 << 20
)

// MemoryEventLog is an EventLog in memory, bounded per session.
type MemoryEventLog struct {
	maxEvents, maxBytes int

	mu       sync.Mutex
	sessions map[string]*sessionEvents
}

type sessionEvents struct {
	events []loggedEvent // oldest first
	bytes  int
	last   map[string]uint64 // each stream's newest position
}

type loggedEvent struct {
	stream string
	pos    uint64
	data   []byte
}

// NewMemoryEventLog returns a log that keeps, per session, at most
// maxEvents events and maxBytes bytes of them (the defaults when <= 0).
func NewMemoryEventLog(maxEvents, maxBytes int) *MemoryEventLog {
	if maxEvents <= 0 {
		maxEvents = DefaultEventLogEvents
	}
	if maxBytes <= 0 {
		maxBytes = DefaultEventLogBytes
	}
	return &MemoryEventLog{maxEvents: maxEvents, maxBytes: maxBytes, sessions: map[string]*sessionEvents{}}
}

// Append implements EventLog.
func (l *MemoryEventLog) Append(_ context.Context, session, stream string, data []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	se := l.sessions[session]
	if se == nil {
		se = &sessionEvents{last: map[string]uint64{}}
		l.sessions[session] = se
	}
	se.last[stream]++
	pos := se.last[stream]
	se.events = append(se.events, loggedEvent{stream: stream, pos: pos, data: data})
	se.bytes += len(data)
	drop := 0
	for len(se.events)-drop > 1 && (len(se.events)-drop > l.maxEvents || se.bytes > l.maxBytes) {
		se.bytes -= len(se.events[drop].data)
		drop++
	}
	if drop > 0 {
		se.events = append(se.events[:0:0], se.events[drop:]...)
	}
	return pos, nil
}

// After implements EventLog.
func (l *MemoryEventLog) After(_ context.Context, session, stream string, pos uint64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	se := l.sessions[session]
	if se == nil && pos == 0 {
		return nil, nil
	}
	if se == nil {
		return nil, fmt.Errorf("%w: the session has no events", ErrEventNotInLog)
	}
	last, ok := se.last[stream]
	switch {
	case !ok && pos == 0:
		return nil, nil // nothing was written to it yet
	case !ok:
		return nil, fmt.Errorf("%w: the session has no stream %q", ErrEventNotInLog, stream)
	case pos > last:
		return nil, fmt.Errorf("%w: stream %q has %d events, not %d", ErrEventNotInLog, stream, last, pos)
	case pos == last:
		return nil, nil
	}
	var out [][]byte
	for _, ev := range se.events {
		if ev.stream != stream || ev.pos <= pos {
			continue
		}
		if out == nil && ev.pos != pos+1 {
			break // pos+1 was evicted
		}
		out = append(out, ev.data)
	}
	if out == nil {
		return nil, fmt.Errorf("%w: the events of stream %q after %d were dropped (the log keeps the newest %d events and %d bytes of a session)",
			ErrEventNotInLog, stream, pos, l.maxEvents, l.maxBytes)
	}
	return out, nil
}

// Drop implements EventLog.
func (l *MemoryEventLog) Drop(_ context.Context, session, stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	se := l.sessions[session]
	if se == nil {
		return
	}
	kept := se.events[:0]
	for _, ev := range se.events {
		if ev.stream == stream {
			se.bytes -= len(ev.data)
			continue
		}
		kept = append(kept, ev)
	}
	clear(se.events[len(kept):])
	se.events = kept
	delete(se.last, stream)
}

// Forget implements EventLog.
func (l *MemoryEventLog) Forget(_ context.Context, session string) {
	l.mu.Lock()
	delete(l.sessions, session)
	l.mu.Unlock()
}

// getStream names a session's GET stream in event ids.
const getStream = "get"

// eventID is the id of the event at pos of stream.
func eventID(stream string, pos uint64) string {
	return stream + "_" + strconv.FormatUint(pos, 10)
}

// parseEventID reads a Last-Event-ID the gateway wrote.
func parseEventID(id string) (stream string, pos uint64, err error) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 {
		return "", 0, fmt.Errorf("malformed Last-Event-ID %q: the gateway's event ids are STREAM_POSITION (get_7, p3_2)", id)
	}
	pos, err = strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("malformed Last-Event-ID %q: the gateway's event ids are STREAM_POSITION (get_7, p3_2)", id)
	}
	return id[:i], pos, nil
}

// logger returns the function that logs the events of stream, or nil
// when the session keeps no log.
func (s *session) logger(stream string) func([]byte) uint64 {
	log := s.h.opts.EventLog
	if log == nil || s.poolKey != "" {
		return nil
	}
	return func(data []byte) uint64 {
		pos, err := log.Append(s.ctx, s.key, stream, data)
		if err != nil {
			if !s.h.logFailing.Swap(true) {
				s.h.warnf("event log: %v (events are sent without ids until it answers; their streams cannot resume past them)", err)
			}
			return 0
		}
		if s.h.logFailing.Swap(false) {
			s.h.warnf("event log: appending again; streams resume")
		}
		return pos
	}
}

// resumeStream serves GET with Last-Event-ID: the events of the stream it
// names after it, then, for a stream still open, what follows.
func (s *session) resumeStream(w http.ResponseWriter, r *http.Request, lastID string) {
	log := s.h.opts.EventLog
	if log == nil {
		httpError(w, http.StatusBadRequest, "this gateway keeps no event log; streams cannot be resumed (Last-Event-ID)")
		return
	}
	stream, pos, err := parseEventID(lastID)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if stream == getStream {
		s.serveGetAfter(w, r, lastID, pos)
		return
	}
	s.mu.Lock()
	rep := s.posts[stream]
	s.mu.Unlock()
	if rep != nil {
		// The client knows its stream broke; the gateway may not have
		// noticed yet: the reader it still has stops first, so that what
		// the log holds is all it took.
		if !rep.out.takeover(r.Context()) {
			return
		}
	}
	replay, err := log.After(r.Context(), s.key, stream, pos)
	if err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("cannot resume after Last-Event-ID %q: %v", lastID, err))
		return
	}
	s.touch()
	if _, shared := log.(SharedEventLog); shared && rep == nil {
		// Another replica runs the call (or ran it): its events reach
		// this one through the log.
		s.follow(w, r, stream, replay, pos)
		return
	}
	if rep == nil {
		if len(replay) == 0 {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("cannot resume after Last-Event-ID %q: stream %s of this session has no events after it (it ended, or never was)", lastID, stream))
			return
		}
		// The stream has ended: its answer is in the log.
		out := newOutbox()
		out.stream = stream
		out.close()
		_ = s.stream(w, r, out, func() {}, replay, pos)
		return
	}
	if s.stream(w, r, rep.out, func() { s.detach(rep) }, replay, pos) {
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // the answer goes out before the log is told
		}
		s.streamDone(stream)
	}
}

// detach keeps a streamed POST whose client went away: its answer and
// progress still go to its outbox and the log, for the client to resume
// the stream; the server's other messages go to the GET stream.
func (s *session) detach(rep *reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, rep)
}

// followPoll is how often a followed stream asks the shared log for the
// events another replica appended.
const followPoll = 50 * time.Millisecond

// follow serves a POST stream that another replica's copy of the session
// writes to the shared log: the events after pos, then those appended
// later, until the stream's answer (a JSON-RPC response) has been sent.
// It ends without the answer when the client goes away, the session ends,
// the stream has been quiet for streamLease and the replica running the
// call no longer says it runs it (it died: what it had not appended is
// lost), no event arrives for the idle timeout, or the log fails; the
// client may resume again from the last id it got.
func (s *session) follow(w http.ResponseWriter, r *http.Request, stream string, replay [][]byte, pos uint64) {
	log := s.h.opts.EventLog
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache, no-transform")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	quiet, lastKeep, lastLive := time.Now(), time.Now(), time.Now()
	for {
		for _, data := range replay {
			pos++
			if _, err := fmt.Fprintf(w, "id: %s\nevent: message\ndata: %s\n\n", eventID(stream, pos), data); err != nil {
				return
			}
			if isAnswer(data) {
				if flusher != nil {
					flusher.Flush()
				}
				s.streamDone(stream)
				return
			}
		}
		if len(replay) > 0 {
			quiet = time.Now()
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			if now.Sub(quiet) > s.h.opts.IdleTimeout {
				return
			}
			if now.Sub(quiet) > streamLease && now.Sub(lastLive) > streamLease/3 {
				lastLive = now
				if running, err := log.(SharedEventLog).Running(r.Context(), s.key, stream); err == nil && !running {
					s.h.warnf("event log: stream %s: the replica running its call no longer says so (it died?); its answer will not come", stream)
					return
				}
			}
			if now.Sub(lastKeep) > s.h.opts.KeepAlive {
				if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
					return
				}
				lastKeep = now
			}
		}
		s.touch()
		var err error
		if replay, err = log.After(r.Context(), s.key, stream, pos); err != nil {
			s.h.warnf("event log: following stream %s: %v", stream, err)
			return
		}
	}
}

// isAnswer reports whether an event the gateway logged is a JSON-RPC
// response: the last event of a POST stream.
func isAnswer(data []byte) bool {
	var m struct {
		Method *string          `json:"method"`
		ID     json.RawMessage  `json:"id"`
		Result json.RawMessage  `json:"result"`
		Error  *json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	return m.Method == nil && len(m.ID) > 0 && (m.Result != nil || m.Error != nil)
}
