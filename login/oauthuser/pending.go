package oauthuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// ErrNoPending is what a PendingStore answers for a state it does not
// hold (never made, used, or expired).
var ErrNoPending = errors.New("no consent in flight")

// PendingStore keeps the consents in flight: the record (PKCE verifier,
// scopes, the link) by its single-use state, and which state is current
// for a user and server, both until ttl. A gateway with one replica keeps
// them in memory (the default); replicas behind a load balancer share
// them (policy/state's Redis), so the browser's redirect may reach any
// replica. The records hold the PKCE verifier: keep the store private.
type PendingStore interface {
	// Put stores record under state, and makes state the current consent
	// of user and server.
	Put(ctx context.Context, state, user, server string, record []byte, ttl time.Duration) error
	// Take removes and returns the record of state, atomically: a state
	// works once, even when two replicas get the same redirect.
	Take(ctx context.Context, state string) ([]byte, error)
	// Current returns the record of the current consent of user and
	// server, ErrNoPending when there is none.
	Current(ctx context.Context, user, server string) ([]byte, error)
}

// pendingRecord is a consent in flight as a PendingStore keeps it.
type pendingRecord struct {
	State         string    `json:"state"`
	User          string    `json:"user"`
	Server        string    `json:"server"`
	Verifier      string    `json:"verifier"`
	Scopes        []string  `json:"scopes,omitempty"`
	URL           string    `json:"url"`
	ElicitationID string    `json:"elicitation_id"`
	Expires       time.Time `json:"expires"`
}

func (p *pendingRecord) consent() *ConsentRequired {
	return &ConsentRequired{User: p.User, Server: p.Server, URL: p.URL, ElicitationID: p.ElicitationID, Expires: p.Expires}
}

// link is the consent as handed out: through the person check's start
// endpoint when there is one (startURL), else the authorization server's
// page itself.
func (p *pendingRecord) link(startURL string) *ConsentRequired {
	cr := p.consent()
	if startURL != "" {
		cr.URL = startURL + "?state=" + url.QueryEscape(p.State)
	}
	return cr
}

func decodePending(b []byte) (*pendingRecord, error) {
	var p pendingRecord
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("a consent record in the store is damaged: %w", err)
	}
	return &p, nil
}

// MemoryPending is the PendingStore in one process's memory, bounded to
// maxPending consents so callers cannot grow it without limit.
type MemoryPending struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	byState map[string]memPending
	byKey   map[Key]string
}

type memPending struct {
	key     Key
	record  []byte
	expires time.Time
}

var _ PendingStore = (*MemoryPending)(nil)

func (s *MemoryPending) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put implements PendingStore.
func (s *MemoryPending) Put(_ context.Context, state, user, server string, record []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for st, p := range s.byState {
		if !now.Before(p.expires) {
			delete(s.byState, st)
			if s.byKey[p.key] == st {
				delete(s.byKey, p.key)
			}
		}
	}
	if len(s.byState) >= maxPending {
		return fmt.Errorf("%d consents are in flight; retry once some are done or expired", maxPending)
	}
	if s.byState == nil {
		s.byState, s.byKey = map[string]memPending{}, map[Key]string{}
	}
	k := Key{User: user, Server: server}
	if old, ok := s.byKey[k]; ok {
		delete(s.byState, old) // superseded: asked for less than needed now
	}
	s.byState[state] = memPending{key: k, record: record, expires: now.Add(ttl)}
	s.byKey[k] = state
	return nil
}

// Take implements PendingStore.
func (s *MemoryPending) Take(_ context.Context, state string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byState[state]
	if !ok {
		return nil, ErrNoPending
	}
	delete(s.byState, state)
	if s.byKey[p.key] == state {
		delete(s.byKey, p.key)
	}
	if !s.now().Before(p.expires) {
		return nil, ErrNoPending
	}
	return p.record, nil
}

// Current implements PendingStore.
func (s *MemoryPending) Current(_ context.Context, user, server string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byKey[Key{User: user, Server: server}]
	if !ok {
		return nil, ErrNoPending
	}
	p, ok := s.byState[st]
	if !ok || !s.now().Before(p.expires) {
		return nil, ErrNoPending
	}
	return p.record, nil
}
