package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Stateless serving. With Options.SessionKey set (the same key on every
// replica), a session id is self-describing and signed: it carries what a
// replica that did not open the session needs to serve it — the endpoint,
// a digest of the caller's identity, the session's record id and the
// client's initialize params — and an HMAC-SHA256 over them. A replica
// that gets a request for a session it does not hold checks the
// signature, the endpoint and the caller, then opens the session as its
// opener did (the cores decided again under the bundle in use, the
// upstreams started and initialized with the client's own initialize, as
// the HTTP upstream re-initializes a server that lost its session) and
// serves the request. A replica that died thus loses nothing a client
// needs: its next request is served by another.
//
// Limits: the upstream sessions are per replica (a stdio server's state,
// subscriptions, a resource read in progress live where they started);
// a GET stream does not resume (Last-Event-ID is refused; the client opens
// a new one); DELETE ends the session on the replica that got it, the
// others end their copies when idle; the session's facts for taint rules
// start over on each replica.

// sessionPrefix starts every signed session id (its format's version).
const sessionPrefix = "mcpgov1."

// maxSignedInit bounds the initialize params a session id carries (ids
// travel in a header on every request); a session whose initialize is
// larger gets an id only its replica serves.
const maxSignedInit = 4096

// sessionClaims is what a signed session id says.
type sessionClaims struct {
	SID      string         `json:"sid"`  // the SessionInfo.ID records carry
	Endpoint string         `json:"ep"`   // the path it was opened on
	Who      string         `json:"who"`  // digest of the opener's identity
	Init     jsontext.Value `json:"init"` // the client's initialize params
}

// whoDigest names an identity without showing it (the id is visible to
// anything on the path).
func whoDigest(key []byte, who audit.Identity) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("who\x00" + who.Method + "\x00" + who.Issuer + "\x00" + who.Subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// signSession returns the signed id of a new session, or "" when it
// cannot carry one (no key, or an initialize too large).
func (h *Handler) signSession(info SessionInfo, params []byte) string {
	key := h.opts.SessionKey
	if len(key) == 0 || len(params) > maxSignedInit {
		return ""
	}
	if len(params) == 0 {
		params = []byte("{}")
	}
	payload, err := jsonv2.Marshal(sessionClaims{SID: info.ID, Endpoint: info.Endpoint, Who: whoDigest(key, info.Identity), Init: params})
	if err != nil {
		return ""
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return sessionPrefix + body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body))
}

func mac(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sessionPrefix + body))
	return m.Sum(nil)
}

// verifySession returns the claims of a signed session id, or false when
// it is not one this deployment signed.
func (h *Handler) verifySession(sid string) (sessionClaims, bool) {
	var c sessionClaims
	key := h.opts.SessionKey
	rest, ok := strings.CutPrefix(sid, sessionPrefix)
	if len(key) == 0 || !ok {
		return c, false
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || jsonv2.Unmarshal(payload, &c, jsonv2.RejectUnknownMembers(true)) != nil || c.SID == "" {
		return c, false
	}
	return c, true
}

// resume serves a session another replica opened: it answers 404 for an
// id that is not validly signed or not of ep, 403 for another caller, and
// otherwise opens the session here and returns it.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request, sid string, ep endpoint) *session {
	c, ok := h.verifySession(sid)
	if !ok || c.Endpoint != ep.path {
		httpError(w, http.StatusNotFound, "session not found; initialize a new one")
		return nil
	}
	who := caller(r)
	if !hmac.Equal([]byte(c.Who), []byte(whoDigest(h.opts.SessionKey, who))) {
		httpError(w, http.StatusForbidden, "this session belongs to another caller")
		return nil
	}
	if log := h.opts.Calls; log != nil {
		// A session its client ended stays ended on every replica; a
		// store that cannot say lets the session be resumed (its caller
		// and signature are checked).
		if ended, err := log.SessionEnded(r.Context(), c.SID); err == nil && ended {
			httpError(w, http.StatusNotFound, "session not found; initialize a new one")
			return nil
		}
	}
	// One resumption at a time per replica: concurrent requests of one
	// session must not open it twice.
	h.resumeMu.Lock()
	defer h.resumeMu.Unlock()
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s != nil {
		return s
	}
	initID := `"mcpgov-resume-` + randomHex(8) + `"`
	body := []byte(`{"jsonrpc":"2.0","id":` + initID + `,"method":"initialize","params":` + string(c.Init) + `}`)
	m, err := rpc.Parse(body)
	if err != nil {
		httpError(w, http.StatusNotFound, "session not found; initialize a new one")
		return nil
	}
	s, status, refusal := h.openAs(r, ep, m, &c, sid, "")
	if s == nil {
		// The session cannot be served here any more (the bundle now
		// refuses its server, the upstream does not start): the client
		// gets the refusal, and a new initialize is decided afresh.
		writeJSON(w, status, refusal)
		return nil
	}
	if _, err := s.initialize(r.Context(), m, body); err != nil {
		s.end("resumption failed: " + err.Error())
		rpcError(w, http.StatusBadGateway, nil, jsonrpc.CodeInternalError, "mcpgov: the session could not be resumed on this replica: "+err.Error())
		return nil
	}
	fmt.Fprintf(h.opts.Diag, "mcpgov: session on %s resumed on this replica\n", s.endpoint)
	return s
}

// initialize hands the engine an initialize of the gateway's (the
// client's, under an id of ours, when resuming on another replica; a
// stateless caller's) and notifications/initialized, as a client does;
// it returns the answer.
func (s *session) initialize(ctx context.Context, m *rpc.Message, body []byte) ([]byte, error) {
	rep := &reply{id: string(m.ID), out: newOutbox()}
	s.mu.Lock()
	s.waiters[rep.id] = rep
	s.mu.Unlock()
	_ = s.engine.FromClient(s.ctx, body)
	select {
	case <-rep.out.closed():
	case <-ctx.Done():
		s.forget(rep)
		return nil, ctx.Err()
	}
	items, _ := rep.out.take()
	if len(items) == 0 {
		return nil, fmt.Errorf("the session ended before its servers answered initialize")
	}
	answer := items[len(items)-1].data
	a, err := rpc.Parse(answer)
	if err != nil {
		return nil, err
	}
	if a.Error != nil {
		return answer, fmt.Errorf("initialize refused: %s", a.Error)
	}
	s.fromClient([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	return answer, nil
}

// EndRecord ends this replica's copy of the session with record id sid
// (SessionInfo.ID), when it holds one: its client ended it through
// another replica.
func (h *Handler) EndRecord(sid string) {
	h.mu.Lock()
	var found []*session
	for _, s := range h.sessions {
		if s.info.ID == sid {
			found = append(found, s)
		}
	}
	h.mu.Unlock()
	for _, s := range found {
		s.end(reasonClientEndedElsewhere)
	}
}
