package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// pending tracks the calls awaiting an upstream answer under the ids the
// session gave them upstream (DESIGN §3): every call the client sends goes
// upstream with the relay's own id, a small integer, and its answer is
// matched by that integer and sent back with the client's id byte for
// byte. Answers are never matched by the raw bytes an upstream chose to
// write, and the client's ids (`2`, `2.0`, `"\u0032"`, integers past
// 2^64) never reach the upstream. Upstream-originated calls are not
// tracked: their answers come from the client and pass straight through.
type pending struct {
	mu       sync.Mutex
	next     uint64
	calls    map[uint64]*call
	byClient map[string]uint64 // canonical client id -> upstream id, while in flight
	live     int               // calls whose answer the client still awaits
	empty    chan struct{}     // closed and replaced whenever live drops to 0
}

// call is one call in flight.
type call struct {
	up        json.RawMessage // the session's id upstream
	clientID  json.RawMessage // the client's id, echoed byte for byte
	clientKey string
	method    string
	// route is the upstream the call went to; an answer from another
	// upstream does not match it. -1 for a call the session answers
	// itself (an aggregated initialize or tools/list).
	route int
	// core governed the call when it began; the answer goes back to it,
	// even after a reload.
	core *Core
	// state is the core's, for governed calls; it goes back to the core
	// with the answer exactly once.
	state *CallState
	// own is set for the session's own calls (its tools/list): the answer
	// is delivered there and never reaches the client.
	own chan *rpc.Message
	// forwarded is set once the call went upstream; before that it is
	// being decided, and stop ends the deciding.
	forwarded bool
	stop      context.CancelFunc
	// cancelled is set when the client cancelled the call after it went
	// upstream: a late answer is dropped and recorded, never forwarded.
	cancelled bool
}

func newPending() *pending {
	return &pending{calls: map[uint64]*call{}, byClient: map[string]uint64{}, empty: make(chan struct{})}
}

var errDuplicateID = errors.New("a request with the same id is still in flight")

// add registers a call of the client and gives it its upstream id. A call
// whose id equals (as a JSON value) one in flight is refused: answers
// could not be told apart.
func (p *pending) add(clientID json.RawMessage, method string, route int, core *Core) (*call, error) {
	key := canonicalID(clientID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.byClient[key]; dup {
		return nil, errDuplicateID
	}
	c := p.newCall()
	c.clientID, c.clientKey, c.method, c.route, c.core = clientID, key, method, route, core
	p.byClient[key] = p.next
	p.live++
	return c, nil
}

// own registers a call of the session's own to route's upstream and returns it; its answer
// arrives on c.own.
func (p *pending) own(route int) *call {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.newCall()
	c.route = route
	c.own = make(chan *rpc.Message, 1)
	c.forwarded = true
	return c
}

func (p *pending) newCall() *call {
	p.next++
	c := &call{up: json.RawMessage(strconv.FormatUint(p.next, 10))}
	p.calls[p.next] = c
	return c
}

// upstreamID reads an id the upstream answered with; only the integers
// the relay gave out can match.
func upstreamID(id json.RawMessage) (uint64, bool) {
	n, err := strconv.ParseUint(string(id), 10, 64)
	return n, err == nil
}

// take removes and returns the call route's upstream answer is for.
func (p *pending) take(route int, id json.RawMessage) (*call, bool) {
	n, ok := upstreamID(id)
	if !ok {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.calls[n]
	if ok && c.route != route {
		return nil, false
	}
	if ok {
		p.remove(n, c)
	}
	return c, ok
}

// clientOf returns the client's id of route's call in flight under
// upstream id id, without taking it; false for none (or the session's own
// call, which no client waits for).
func (p *pending) clientOf(route int, id json.RawMessage) (json.RawMessage, bool) {
	n, ok := upstreamID(id)
	if !ok {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.calls[n]
	if !ok || c.route != route || c.own != nil {
		return nil, false
	}
	return c.clientID, true
}

// remove forgets call n; p.mu is held.
func (p *pending) remove(n uint64, c *call) {
	delete(p.calls, n)
	if c.own != nil {
		return
	}
	if !c.cancelled {
		delete(p.byClient, c.clientKey)
		p.live--
		if p.live == 0 {
			close(p.empty)
			p.empty = make(chan struct{})
		}
	}
}

// forget removes a call that will get no upstream answer (refused while
// being decided, or not accepted upstream); false when it was gone.
func (p *pending) forget(c *call) bool {
	n, _ := upstreamID(c.up)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls[n] != c {
		return false
	}
	p.remove(n, c)
	return true
}

// deciding records how to stop deciding a call.
func (p *pending) deciding(c *call, stop context.CancelFunc) {
	p.mu.Lock()
	c.stop = stop
	p.mu.Unlock()
}

// forwarding marks a decided call as going upstream with the core's
// state; false when the client cancelled it meanwhile (it is forgotten).
func (p *pending) forwarding(c *call, st *CallState) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, _ := upstreamID(c.up)
	if p.calls[n] != c {
		return false
	}
	c.state, c.forwarded, c.stop = st, true, nil
	return true
}

// cancel handles the client's cancellation of one of its calls. A call
// still being decided is forgotten (it never goes upstream; forwarded
// false); a forwarded one stays, marked, until its answer arrives or the
// relay ends, so that a late answer is dropped and recorded.
func (p *pending) cancel(clientID json.RawMessage) (c *call, forwarded bool) {
	c, forwarded, _ = p.cancelWhy(clientID, "")
	return c, forwarded
}

// cancelWhy is cancel for a relay that cancels a call on its client's
// behalf, saying why: a forwarded call's state is handed back (st), to be
// recorded now, and its late answer is dropped without another record.
func (p *pending) cancelWhy(clientID json.RawMessage, why string) (c *call, forwarded bool, st *CallState) {
	key := canonicalID(clientID)
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.byClient[key]
	if !ok {
		return nil, false, nil
	}
	c = p.calls[n]
	if why != "" && c.forwarded {
		st, c.state = c.state, nil
	}
	if !c.forwarded {
		p.remove(n, c)
		if c.stop != nil {
			c.stop()
		}
		return c, false, nil
	}
	delete(p.byClient, key)
	c.cancelled = true
	p.live--
	if p.live == 0 {
		close(p.empty)
		p.empty = make(chan struct{})
	}
	return c, true, st
}

// drained returns a channel closed once no call awaits an answer the
// client still wants.
func (p *pending) drained() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.empty
}

// takeRoute removes the calls that went to route (every call when route
// is -1) and returns the client's calls among them.
func (p *pending) takeRoute(route int) []*call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []*call
	for n, c := range p.calls {
		if route >= 0 && c.route != route {
			continue
		}
		p.remove(n, c)
		if c.own == nil {
			all = append(all, c)
		}
	}
	return all
}

// canonicalID is the key under which two ids that are the same JSON value
// meet: a string by its unescaped text, a number by its exact value, so
// that `2`, `2.0` and `2e0` are one id (as JavaScript reads them) while
// integers past 2^64 keep every digit.
func canonicalID(id json.RawMessage) string {
	v := jsontext.Value(id)
	switch v.Kind() {
	case '"':
		return "s" + rpc.Unquote(v)
	case '0':
		if plainInteger(id) {
			return "n" + string(id) // already canonical: the common case
		}
		if r, ok := exactNumber(string(id)); ok {
			return "n" + r.RatString()
		}
	}
	return "r" + string(id)
}

// plainInteger reports whether id is a JSON integer in canonical form:
// no fraction, exponent, leading zero or minus zero.
func plainInteger(id []byte) bool {
	digits := id
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] == '0' && len(digits) > 1 || string(digits) == "0" && len(id) > 1 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// exactNumber parses a JSON number exactly; huge exponents (which would
// take big.Rat unbounded memory) are not parsed.
func exactNumber(s string) (*big.Rat, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			exp, err := strconv.Atoi(s[i+1:])
			if err != nil || exp > 400 || exp < -400 {
				return nil, false
			}
			break
		}
	}
	return new(big.Rat).SetString(s)
}

// recordCancelled records a forwarded call the client had cancelled.
func (c *call) recordCancelled(ctx context.Context, detail string) {
	if c.state == nil {
		return
	}
	c.core.CancelCall(ctx, c.state, "cancelled by the client after it was sent upstream; "+detail)
}
