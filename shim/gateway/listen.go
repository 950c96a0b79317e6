package gateway

import (
	"encoding/json"
	"net/http"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// metaSubscriptionID names, in a notification's _meta, the
// subscriptions/listen request it is sent for.
const metaSubscriptionID = "io.modelcontextprotocol/subscriptionId"

// listener is one subscriptions/listen POST of a stateless client: the
// list_changed notifications of its pooled session that it asked for, and
// the server offers, go to its stream.
type listener struct {
	id    json.RawMessage // the listen request's id: the subscription id
	kinds map[string]bool // notification methods it takes
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
// ones the upstream session offers; resource subscriptions are not
// relayed), then the matching notifications follow, each with the
// subscription id in its _meta, until the client closes the stream; when
// the session ends, the listen request is answered.
func (s *session) listen(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
	var p struct {
		Notifications map[string]jsontext.Value `json:"notifications"`
	}
	if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.Notifications == nil {
		statelessError(w, m.ID, http.StatusBadRequest, jsonrpc.CodeInvalidParams, "subscriptions/listen: missing required params.notifications object", nil)
		return
	}
	offered := s.offeredListChanged()
	l := &listener{id: m.ID, kinds: map[string]bool{}, out: newOutbox()}
	ack := map[string]any{}
	for _, lc := range listChanged {
		var want bool
		if v := p.Notifications[lc.member]; v != nil && jsonv2.Unmarshal(v, &want) == nil && want && offered[lc.capability] {
			l.kinds[lc.method] = true
			ack[lc.member] = true
		}
	}
	params, _ := json.Marshal(map[string]any{"_meta": map[string]any{metaSubscriptionID: m.ID}, "notifications": ack})
	ackMsg, _ := rpc.Notification("notifications/subscriptions/acknowledged", params)
	l.out.push(ackMsg)
	if len(l.kinds) == 0 {
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
	_ = s.stream(w, r, l.out, func() {}, nil, 0)
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	s.touch()
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

// toListeners sends a list_changed notification of a pooled session to
// the listeners that asked for it; s.mu is held.
func (s *session) toListeners(m *rpc.Message) {
	for l := range s.listeners {
		if !l.kinds[m.Method] {
			continue
		}
		params, _ := json.Marshal(map[string]any{"_meta": map[string]any{metaSubscriptionID: l.id}})
		if n, err := rpc.Notification(m.Method, params); err == nil {
			l.out.push(n)
		}
	}
}
