package gateway

import (
	"context"
	"fmt"
)

// Stale is implemented by a Governance that keeps serving its last good
// bundle after the source changed into one it cannot use: Stale says
// why, and /readyz shows it (still ready: the last good bundle serves).
type Stale interface {
	Stale() error
}

// Reload gives every open session the cores of the Governance's current
// bundle: each route's new calls are governed by the new core (calls in
// flight finish under the one that let them through), and the client is
// told to list its tools again (notifications/tools/list_changed). New
// sessions get the new bundle anyway. A session of which a server is now
// refused outright (blocked, no longer approved, gone from the catalog)
// is ended, with the refusal recorded: its client's next request gets 404
// and its new initialize is decided under the new bundle.
//
// The routes of an open session stay the ones it opened with: a server
// added to the catalog, or a virtual server's changed tool list, is
// served from the client's next session.
func (h *Handler) Reload() {
	h.mu.Lock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.reload()
	}
}

// reload swaps in new cores for every route of the session.
func (s *session) reload() {
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended || s.engine == nil {
		return
	}
	gov := s.h.opts.Governance
	for i, id := range s.ids {
		core, err := gov.Core(id, s.info)
		if err != nil {
			s.end(fmt.Sprintf("server %s cannot be governed by the new bundle: %v", id, err))
			return
		}
		if r := core.WouldRefuse(); r != nil {
			core.Admit(context.Background()) // the refusal, recorded
			s.end(fmt.Sprintf("the new bundle refuses server %s: %s", id, r.Reason))
			return
		}
		if err := s.engine.Reload(i, core); err != nil {
			s.h.warnf("session on %s: reload of server %s: %v", s.endpoint, id, err)
		}
	}
}

// revisionOf is the bundle revision a Governance serves, when it says.
func revisionOf(g Governance) string {
	if r, ok := g.(interface{ Revision() string }); ok {
		return r.Revision()
	}
	return ""
}
