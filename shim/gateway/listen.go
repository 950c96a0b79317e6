package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// metaSubscriptionID names, in a notification's _meta, the
// subscriptions/listen request it is sent for.
const metaSubscriptionID = "io.modelcontextprotocol/subscriptionId"

// listener is one subscriptions/listen POST of a stateless client: the
// list_changed notifications of its pooled session that it asked for, and
// the server offers, and the updates of the resources it subscribed to,
// go to its stream.
type listener struct {
	id    json.RawMessage // the listen request's id: the subscription id
	kinds map[string]bool // notification methods it takes
	uris  map[string]bool // resources whose notifications/resources/updated it takes
	out   *outbox
}

// listChanged maps the subscription filter's members to the
// notifications they select, and the capability that offers each.
var listChanged = []struct{ member, method, capability string }{
	{"toolsListChanged", "notifications/tools/list_changed", "tools"},
	{"promptsListChanged", "notifications/prompts/list_changed", "prompts"},
	{"resourcesListChanged", "notifications/resources/list_changed", "resources"},
}

// listen serves subscriptions/listen (SEP-2575): the first event
// acknowledges the subscriptions the gateway honours (the list_changed
// ones the upstream session offers, and the resources the upstream took
// a resources/subscribe for), then the matching notifications follow,
// each with the subscription id in its _meta, until the client closes the
// stream; when the session ends, the listen request is answered.
//
// Resource subscriptions: the pooled session subscribes upstream to a URI
// when its first listener asks for it (the request is governed as the
// client's own would be) and unsubscribes when the last listener that
// wanted it closes its stream.
func (s *session) listen(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
	var p struct {
		Notifications map[string]jsontext.Value `json:"notifications"`
	}
	if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.Notifications == nil {
		statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams, "subscriptions/listen: missing required params.notifications object", nil)
		return
	}
	var uris []string
	if v := p.Notifications["resourceSubscriptions"]; v != nil {
		if err := jsonv2.Unmarshal(v, &uris); err != nil {
			statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams, "subscriptions/listen: notifications.resourceSubscriptions must be an array of resource URIs", nil)
			return
		}
		if len(uris) > maxListenURIs {
			statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams, fmt.Sprintf(
				"subscriptions/listen: notifications.resourceSubscriptions lists %d URIs, more than the %d one listen request may (each is a resources/subscribe upstream); split them over several listen requests", len(uris), maxListenURIs), nil)
			return
		}
	}
	offered := s.offeredListChanged()
	l := &listener{id: m.ID, kinds: map[string]bool{}, uris: map[string]bool{}, out: newOutbox()}
	ack := map[string]any{}
	for _, lc := range listChanged {
		var want bool
		if v := p.Notifications[lc.member]; v != nil && jsonv2.Unmarshal(v, &want) == nil && want && offered[lc.capability] {
			l.kinds[lc.method] = true
			ack[lc.member] = true
		}
	}
	if len(uris) > 0 && s.offersSubscribe() {
		var honoured []string
		for _, uri := range uris {
			if l.uris[uri] {
				continue
			}
			if err := s.subscribe(r.Context(), uri); err != nil {
				s.h.warnf("subscriptions/listen: resource %.200q not subscribed: %v", uri, err)
				continue
			}
			l.uris[uri] = true
			honoured = append(honoured, uri)
		}
		if len(honoured) > 0 {
			ack["resourceSubscriptions"] = honoured
		}
	}
	defer func() {
		for uri := range l.uris {
			s.unsubscribe(uri)
		}
	}()
	params, _ := json.Marshal(map[string]any{"_meta": map[string]any{metaSubscriptionID: m.ID}, "notifications": ack})
	ackMsg, _ := rpc.Notification("notifications/subscriptions/acknowledged", params)
	l.out.push(ackMsg)
	if len(l.kinds) == 0 && len(l.uris) == 0 {
		// Nothing to wait for: answered at once, as a server does.
		l.out.push(s.listenResult(m.ID))
		l.out.close()
		_ = s.stream(w, r, l.out, func() {}, nil, 0)
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		statelessError(w, m.ID, http.StatusServiceUnavailable, jsonrpc.CodeInternalError,
			"the upstream session serving this caller ended as the request arrived; retry it", nil)
		return
	}
	if s.listeners == nil {
		s.listeners = map[*listener]bool{}
	}
	s.listeners[l] = true
	s.mu.Unlock()
	s.touch()
	s.upstreamsListen(true)
	_ = s.stream(w, r, l.out, func() {}, nil, 0)
	s.upstreamsListen(false)
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	s.touch()
}

// upstreamsListen tells the session's upstreams called under the
// stateless revision that a listener came (on) or went: while one
// listens, they listen to their servers for the list changes to relay
// (shim.HTTPUpstream.Listen).
func (s *session) upstreamsListen(on bool) {
	for _, up := range s.ups {
		if hu, ok := up.(*shim.HTTPUpstream); ok && hu.IsStateless() {
			hu.Listen(on)
		}
	}
}

// ownTimeout bounds a request the gateway sends upstream for itself.
const ownTimeout = 10 * time.Second

// maxListenURIs bounds the resources one subscriptions/listen request may
// name, and maxSessionURIs the distinct resources a pooled session keeps
// subscribed upstream for its listeners: each is a governed
// resources/subscribe round trip upstream and an audit record, so one
// request must not fan out into an unbounded number of them. The session
// bound is checked as each subscription starts; listen requests running
// at once subscribe one URI at a time each, so they pass it by at most
// one URI apiece.
const (
	maxListenURIs  = 100
	maxSessionURIs = 1000
)

// subscribe subscribes the pooled session to uri upstream, unless a
// listener did already.
func (s *session) subscribe(ctx context.Context, uri string) error {
	s.mu.Lock()
	if s.subs[uri] > 0 {
		s.subs[uri]++
		s.mu.Unlock()
		return nil
	}
	if len(s.subs) >= maxSessionURIs {
		s.mu.Unlock()
		return fmt.Errorf("the session's listeners hold %d resource subscriptions, the most it keeps", maxSessionURIs)
	}
	s.mu.Unlock()
	params, _ := json.Marshal(map[string]string{"uri": uri})
	ctx, cancel := context.WithTimeout(ctx, ownTimeout)
	defer cancel()
	if _, err := s.ownRequest(ctx, "resources/subscribe", params); err != nil {
		return err
	}
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[string]int{}
	}
	s.subs[uri]++
	s.mu.Unlock()
	return nil
}

// unsubscribe drops one listener's interest in uri; the last one's
// unsubscribes the pooled session upstream.
func (s *session) unsubscribe(uri string) {
	s.mu.Lock()
	if s.subs[uri] == 0 {
		s.mu.Unlock()
		return
	}
	s.subs[uri]--
	last := s.subs[uri] == 0
	if last {
		delete(s.subs, uri)
	}
	ended := s.ended
	s.mu.Unlock()
	if !last || ended {
		return
	}
	params, _ := json.Marshal(map[string]string{"uri": uri})
	ctx, cancel := context.WithTimeout(s.ctx, ownTimeout)
	defer cancel()
	if _, err := s.ownRequest(ctx, "resources/unsubscribe", params); err != nil {
		s.h.warnf("resources/unsubscribe of %.200q: %v", uri, err)
	}
}

// ownRequest sends a request of the gateway's own through the pooled
// session's engine (governed as the client's would be) and returns its
// result.
func (s *session) ownRequest(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil, fmt.Errorf("the upstream session ended")
	}
	s.seq++
	gid := `"mcpgov-own-` + strconv.FormatUint(s.seq, 10) + `"`
	rep := &reply{id: gid, out: newOutbox()}
	s.waiters[rep.id] = rep
	s.mu.Unlock()
	go s.fromClient(rpc.Request(json.RawMessage(gid), method, params))
	select {
	case <-rep.out.closed():
	case <-ctx.Done():
		s.forget(rep)
		return nil, fmt.Errorf("no answer to %s: %w", method, ctx.Err())
	}
	items, _ := rep.out.take()
	if len(items) == 0 {
		return nil, fmt.Errorf("no answer to %s: the session ended", method)
	}
	a, err := rpc.Parse(items[len(items)-1].data)
	if err != nil {
		return nil, err
	}
	if a.Error != nil {
		return nil, fmt.Errorf("the upstream answered %s with an error: %.200s", method, a.Error)
	}
	return a.Result, nil
}

// offersSubscribe reads whether the upstream session offers resource
// subscriptions (capabilities.resources.subscribe).
func (s *session) offersSubscribe() bool {
	s.mu.Lock()
	answer := s.initResult
	s.mu.Unlock()
	var init struct {
		Result struct {
			Capabilities struct {
				Resources struct {
					Subscribe bool `json:"subscribe"`
				} `json:"resources"`
			} `json:"capabilities"`
		} `json:"result"`
	}
	_ = jsonv2.Unmarshal(answer, &init, jsonv2.RejectUnknownMembers(false))
	return init.Result.Capabilities.Resources.Subscribe
}

// listenResult ends a subscription gracefully.
func (s *session) listenResult(id json.RawMessage) []byte {
	res, _ := json.Marshal(map[string]any{"resultType": "complete", "_meta": map[string]any{metaSubscriptionID: id}})
	return rpc.ResultResponse(id, res)
}

// offeredListChanged reads which lists the upstream session says change
// (capabilities.X.listChanged of its initialize answer).
func (s *session) offeredListChanged() map[string]bool {
	s.mu.Lock()
	answer := s.initResult
	s.mu.Unlock()
	var init struct {
		Result struct {
			Capabilities map[string]struct {
				ListChanged bool `json:"listChanged"`
			} `json:"capabilities"`
		} `json:"result"`
	}
	_ = jsonv2.Unmarshal(answer, &init, jsonv2.RejectUnknownMembers(false))
	offered := map[string]bool{}
	for name, c := range init.Result.Capabilities {
		offered[name] = c.ListChanged
	}
	return offered
}

// toListeners sends a list_changed or resources/updated notification of
// a pooled session to the listeners that asked for it; s.mu is held.
func (s *session) toListeners(m *rpc.Message) {
	var uri string
	if m.Method == "notifications/resources/updated" {
		var p struct {
			URI string `json:"uri"`
		}
		if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.URI == "" {
			return
		}
		uri = p.URI
	}
	for l := range s.listeners {
		meta := map[string]any{metaSubscriptionID: l.id}
		var params []byte
		if uri != "" {
			if !l.uris[uri] {
				continue
			}
			params, _ = json.Marshal(map[string]any{"uri": uri, "_meta": meta})
		} else {
			if !l.kinds[m.Method] {
				continue
			}
			params, _ = json.Marshal(map[string]any{"_meta": meta})
		}
		if n, err := rpc.Notification(m.Method, params); err == nil {
			l.out.push(n)
		}
	}
}
