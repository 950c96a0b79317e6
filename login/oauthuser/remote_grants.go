package oauthuser

// The gateway's side of a person's grant: the authorizer of one user's
// calls to one server, and the consent completions it notifies
// (remote.go is the shim's side).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// Authorizer is the shim.Authorizer of user's grant for server, for an
// upstream session of the gateway: each request carries the grant's token
// (refreshed ahead of expiry); a token the server stops taking is
// refreshed and the request resent; when only a new consent helps, the
// call is answered with its link (URL-mode elicitation, tool error or
// error text), so the person consents and retries instead of getting a
// bare failure.
func (m *Manager) Authorizer(user, server string) shim.Authorizer {
	return &grantAuthorizer{m: m, user: user, server: server}
}

type grantAuthorizer struct {
	m            *Manager
	user, server string

	mu     sync.Mutex
	notify func([]byte)
	// busy: a notification to this session is being delivered.
	busy atomic.Bool
}

// notifyOnGrant has this session told when cr's consent is granted.
func (g *grantAuthorizer) notifyOnGrant(cr *ConsentRequired) {
	g.mu.Lock()
	notify := g.notify
	g.mu.Unlock()
	if notify != nil {
		g.m.onGrant(cr, notify, &g.busy)
	}
}

var _ shim.Notifier = (*grantAuthorizer)(nil)

// SetNotify implements shim.Notifier: the upstream session's way to send
// its client notifications/elicitation/complete.
func (g *grantAuthorizer) SetNotify(f func([]byte)) {
	g.mu.Lock()
	g.notify = f
	g.mu.Unlock()
}

func (g *grantAuthorizer) Authorization(ctx context.Context) (string, error) {
	tok, err := g.m.Token(ctx, g.user, g.server)
	var cr *ConsentRequired
	if errors.As(err, &cr) {
		return "", nil // the server's 401 gets the consent answered
	}
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

func (g *grantAuthorizer) Challenged(ctx context.Context, c shim.Challenge) shim.ChallengeResult {
	retry, cr, err := g.m.answer(ctx, g.user, g.server, c)
	switch {
	case err != nil:
		if !c.Call.IsCall() {
			return shim.ChallengeResult{}
		}
		return shim.ChallengeResult{Answer: rpc.ErrorResponse(c.Call.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
			Message: fmt.Sprintf("mcpgov: authorize %s: %v", g.server, err)})}
	case retry:
		return shim.ChallengeResult{Retry: true}
	case cr == nil:
		return shim.ChallengeResult{}
	}
	if c.Init != nil && c.Call.IsCall() && initTakesURL(c.Init.Params) {
		// Answered as a URL-mode elicitation: once the person consents,
		// this session's client is told (wherever the grant lands in
		// this process), so it can retry.
		g.notifyOnGrant(cr)
	}
	return shim.ChallengeResult{Answer: consentAnswer(c, cr)}
}

// completions are the sessions waiting to hear that one consent, given to
// them as a URL-mode elicitation, was granted: at most one entry per
// session (a session challenged again for the same consent adds nothing),
// at most maxWaitingSessions per consent.
type completions struct {
	expires time.Time
	// sessions: each session's notify, by its busy mark (set while a
	// notification to it is delivered), which names the session.
	sessions map[*atomic.Bool]func([]byte)
}

// maxWaitingSessions bounds the sessions told of one consent's grant:
// one person's clients, a handful, not one per call.
const maxWaitingSessions = 64

// onGrant has notify called with notifications/elicitation/complete when
// cr's consent is granted through this Manager's RedirectHandler, until
// cr expires. A session is kept once per consent; expired consents are
// dropped when a new one is added, not on every challenged call.
func (m *Manager) onGrant(cr *ConsentRequired, notify func([]byte), busy *atomic.Bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs, ok := m.completions[cr.ElicitationID]
	if !ok {
		now := m.now()
		for id, c := range m.completions {
			if !now.Before(c.expires) {
				delete(m.completions, id)
			}
		}
		if m.completions == nil {
			m.completions = map[string]*completions{}
		}
		if len(m.completions) >= maxPending {
			return // bounded like the consents in flight; the client can still retry
		}
		cs = &completions{expires: cr.Expires, sessions: map[*atomic.Bool]func([]byte){}}
		m.completions[cr.ElicitationID] = cs
	}
	if _, dup := cs.sessions[busy]; dup || len(cs.sessions) >= maxWaitingSessions {
		return
	}
	cs.sessions[busy] = notify
}

// completed sends notifications/elicitation/complete to the sessions that
// were given elicitation id, once its consent is granted (as the shim
// does, only a grant is announced: a client retrying after a refused
// consent would only get another link).
func (m *Manager) completed(id string) {
	m.mu.Lock()
	cs := m.completions[id]
	delete(m.completions, id)
	m.mu.Unlock()
	if cs == nil || len(cs.sessions) == 0 {
		return
	}
	params, _ := json.Marshal(map[string]string{"elicitationId": id})
	frame, err := rpc.Notification("notifications/elicitation/complete", params)
	if err != nil {
		return
	}
	for busy, notify := range cs.sessions {
		// Delivery may wait for the client (until its session closes,
		// when it is dropped): one notification in flight per session,
		// so a session whose client does not read does not gather a
		// goroutine per consent. One not sent then is dropped; the
		// notification only hastens the client's retry.
		if !busy.CompareAndSwap(false, true) {
			continue
		}
		go func() {
			defer busy.Store(false)
			notify(frame)
		}()
	}
}
