package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mcpgov/mcpgov/policy/enforce"
)

// pending tracks the client's calls awaiting an upstream answer, by raw
// ID. Upstream-originated calls are not tracked: their answers come from
// the client and pass straight through.
type pending struct {
	mu       sync.Mutex
	calls    map[string]entry         // raw ID -> the call
	empty    chan struct{}            // closed and replaced whenever calls becomes empty
	internal map[string]chan *Message // the relay's own calls, by raw ID
	seq      int
	decide   map[string]context.CancelFunc // calls being decided off the pump
}

// entry is one pending call: its method and, for governed calls, the
// core's state, which goes back to the core with the answer.
type entry struct {
	method string
	state  *enforce.CallState
}

func newPending() *pending {
	return &pending{calls: map[string]entry{}, empty: make(chan struct{}), internal: map[string]chan *Message{}, decide: map[string]context.CancelFunc{}}
}

// own registers a call of the relay's own and returns its ID and the
// channel its answer arrives on.
func (p *pending) own() (json.RawMessage, chan *Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	id := json.RawMessage(fmt.Sprintf(`"mcpgov-%d"`, p.seq))
	ch := make(chan *Message, 1)
	p.internal[idKey(id)] = ch
	return id, ch
}

// answerOwn delivers an answer to one of the relay's own calls.
func (p *pending) answerOwn(m *Message) bool {
	p.mu.Lock()
	ch, ok := p.internal[idKey(m.ID)]
	delete(p.internal, idKey(m.ID))
	p.mu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

func (p *pending) forgetOwn(id json.RawMessage) {
	p.mu.Lock()
	delete(p.internal, idKey(id))
	p.mu.Unlock()
}

func (p *pending) add(id json.RawMessage, method string, st *enforce.CallState) {
	p.mu.Lock()
	p.calls[idKey(id)] = entry{method, st}
	p.mu.Unlock()
}

// setState attaches the core's state to a call added before it was
// decided; false when the call is no longer pending (cancelled).
func (p *pending) setState(id json.RawMessage, st *enforce.CallState) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.calls[idKey(id)]
	if ok {
		e.state = st
		p.calls[idKey(id)] = e
	}
	return ok
}

func (p *pending) take(id json.RawMessage) (entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.calls[idKey(id)]
	if ok {
		delete(p.calls, idKey(id))
		if len(p.calls) == 0 {
			close(p.empty)
			p.empty = make(chan struct{})
		}
	}
	return e, ok
}

func (p *pending) deciding(id json.RawMessage, cancel context.CancelFunc) {
	p.mu.Lock()
	p.decide[idKey(id)] = cancel
	p.mu.Unlock()
}

func (p *pending) decided(id json.RawMessage) {
	p.mu.Lock()
	delete(p.decide, idKey(id))
	p.mu.Unlock()
}

// cancel forgets a call the client cancelled and stops deciding it; it
// returns the call when it was pending.
func (p *pending) cancel(id json.RawMessage) (entry, bool) {
	e, ok := p.take(id)
	p.mu.Lock()
	stop := p.decide[idKey(id)]
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	return e, ok
}

// drained returns a channel closed once nothing is pending.
func (p *pending) drained() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.empty
}

// takeAll empties the table and returns what was pending, by raw ID.
func (p *pending) takeAll() map[string]entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := p.calls
	p.calls = map[string]entry{}
	return all
}
