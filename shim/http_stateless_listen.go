package shim

// Notifications of a stateless upstream. The revision (2026-07-28) has
// no session stream: a client that wants to hear of list changes and
// resource updates POSTs subscriptions/listen, naming them, and the
// answer's stream carries them until the client closes it. A pooled
// session of the gateway (its client speaks the revision: passInput)
// opens such a listen to its upstream while one of its clients listens
// (Listen) or a resource is subscribed (resources/subscribe, answered
// here: the revision subscribes through the listen), and hands the
// notifications on as a session's server would send them; the gateway
// relays them to its listeners as it does any upstream's.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// upListen is what a stateless upstream's listen is opened for.
type upListen struct {
	listeners int             // the client's listen streams open (Listen)
	kinds     map[string]bool // the list_changed members its server offers
	uris      map[string]bool // the resources subscribed
	want      string          // the notifications the open listen asks for; "" when none is open
	cancel    context.CancelFunc
	seq       uint64 // numbers the listen requests
}

// listChangedMember maps a capability to its subscriptions/listen member.
var listChangedMember = map[string]string{"tools": "toolsListChanged", "prompts": "promptsListChanged", "resources": "resourcesListChanged"}

// listenNotifications are the notifications a listen's stream carries
// that go on to the engine.
var listenNotifications = map[string]bool{"notifications/tools/list_changed": true, "notifications/prompts/list_changed": true,
	"notifications/resources/list_changed": true, "notifications/resources/updated": true}

// Listen says that a client of a stateless upstream's pooled session
// opened (on) or closed a listen stream: while one is open, the upstream
// listens for the list changes its server offers. A no-op for an upstream
// with a session.
func (u *HTTPUpstream) Listen(on bool) {
	st := u.stateless
	if st == nil || !st.passInput {
		return
	}
	st.mu.Lock()
	if on {
		st.listen.listeners++
	} else if st.listen.listeners > 0 {
		st.listen.listeners--
	}
	st.mu.Unlock()
	u.relisten()
}

// subscription answers resources/subscribe and resources/unsubscribe of
// the engine: the resource is added to, or taken from, those the listen
// asks for.
func (u *HTTPUpstream) subscription(m *rpc.Message) {
	var p struct {
		URI string `json:"uri"`
	}
	if jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false)) != nil || p.URI == "" {
		u.deliver(frameResult{frame: rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "mcpgov: " + m.Method + " needs a uri"})})
		return
	}
	st := u.stateless
	st.mu.Lock()
	if st.listen.uris == nil {
		st.listen.uris = map[string]bool{}
	}
	if m.Method == "resources/subscribe" {
		st.listen.uris[p.URI] = true
	} else {
		delete(st.listen.uris, p.URI)
	}
	st.mu.Unlock()
	u.relisten()
	u.deliver(frameResult{frame: rpc.ResultResponse(m.ID, json.RawMessage(`{}`))})
}

// relisten opens the listen that what is wanted now asks for, in place of
// the one open; it keeps the one open when it asks for the same.
func (u *HTTPUpstream) relisten() {
	st := u.stateless
	st.mu.Lock()
	l := &st.listen
	notifications := map[string]any{}
	if l.listeners > 0 {
		for member := range l.kinds {
			notifications[member] = true
		}
	}
	if len(l.uris) > 0 {
		uris := make([]string, 0, len(l.uris))
		for uri := range l.uris {
			uris = append(uris, uri)
		}
		slices.Sort(uris)
		notifications["resourceSubscriptions"] = uris
	}
	want := ""
	if len(notifications) > 0 {
		b, _ := jsonv2.Marshal(notifications, jsonv2.Deterministic(true))
		want = string(b)
	}
	if want == l.want {
		st.mu.Unlock()
		return
	}
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.want = want
	if want == "" {
		st.mu.Unlock()
		return
	}
	l.seq++
	id := json.RawMessage(strconv.Quote("mcpgov-listen-" + strconv.FormatUint(l.seq, 10)))
	ctx, cancel := context.WithCancel(u.ctx)
	l.cancel = cancel
	meta := st.meta
	st.mu.Unlock()
	params, err := withMeta(json.RawMessage(`{"notifications":`+want+`}`), meta)
	if err == nil {
		var m *rpc.Message
		if m, err = rpc.Parse(rpc.Request(id, "subscriptions/listen", params)); err == nil {
			go u.keepListening(ctx, m)
			return
		}
	}
	cancel()
	fmt.Fprintf(u.stderr, "mcpgov: warning: the upstream's subscriptions/listen could not be sent: %v\n", err)
}

// keepListening holds the listen m open until ctx ends, opening it again
// when its stream breaks or it fails (after a delay that grows to a
// minute); a listen the server answered (it has nothing to send, or
// ended the subscription) is not opened again.
func (u *HTTPUpstream) keepListening(ctx context.Context, m *rpc.Message) {
	delay := minListenDelay
	for ctx.Err() == nil {
		answered, err := u.listenOnce(ctx, m)
		if ctx.Err() != nil || answered && err == nil {
			return
		}
		if answered {
			// Refused: asking again would be refused again.
			fmt.Fprintf(u.stderr, "mcpgov: warning: the upstream refused subscriptions/listen: %v; its list changes and resource updates are not relayed\n", err)
			return
		}
		if err == nil {
			err = errors.New("its stream ended")
		}
		fmt.Fprintf(u.stderr, "mcpgov: warning: the upstream's subscriptions/listen: %v; listening again in %s\n", err, delay)
		wait := u.stateless.listenWait
		if wait == nil {
			wait = waitListen
		}
		if !wait(ctx, delay) {
			return
		}
		delay = min(2*delay, maxListenDelay)
	}
}

// The delays before a listen is opened again: the first, doubled on each
// failure in a row up to the last.
const (
	minListenDelay = time.Second
	maxListenDelay = time.Minute
)

// waitListen waits delay, false when ctx ends first.
func waitListen(ctx context.Context, delay time.Duration) bool {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// listenOnce POSTs the listen m and hands the notifications of its
// stream on until it ends; answered says the server answered the listen.
func (u *HTTPUpstream) listenOnce(ctx context.Context, m *rpc.Message) (answered bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.endpoint, bytes.NewReader(m.Raw))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	u.statelessHeaders(req.Header, m)
	resp, err := u.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK {
		body, _ := readBody(resp)
		// A refusal of the request (not of the moment: authentication,
		// overload) is final.
		refused := resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusUnauthorized &&
			resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests
		return refused, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if mediaType != "text/event-stream" {
		drain(resp)
		return true, nil // answered at once: nothing to listen for
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, DefaultMaxFrame)
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if data.Len() > 0 && u.listened(data.Bytes(), m.ID) {
				answered = true
			}
			data.Reset()
			continue
		}
		if value, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(value, []byte(" ")))
		}
	}
	return answered, sc.Err()
}

// listened hands one message of a listen's stream on: a list change or
// a resource update, without the listen's subscription id (the engine's
// client has listens of its own); the acknowledgement and the listen's
// answer stay here. It reports whether the message answers the listen
// (id).
func (u *HTTPUpstream) listened(frame []byte, id json.RawMessage) bool {
	m, err := rpc.Parse(bytes.Clone(frame))
	if err != nil {
		return false
	}
	if m.IsResponse() {
		return string(m.ID) == string(id)
	}
	if !listenNotifications[m.Method] {
		return false
	}
	params := m.Params
	var p map[string]jsontext.Value
	if len(params) > 0 && jsonv2.Unmarshal(params, &p) == nil && p["_meta"] != nil {
		if params, err = rpc.ReplaceMember(params, "_meta", json.RawMessage(`{}`)); err != nil {
			return false
		}
	}
	n, err := rpc.Notification(m.Method, params)
	if err != nil {
		return false
	}
	if nm, err := rpc.Parse(n); err == nil {
		u.deliverRead(nm)
	}
	return false
}

// noteListenable learns, from the server's server/discover capabilities,
// the list changes a listen may ask for.
func (st *statelessUp) noteListenable(caps map[string]jsontext.Value) {
	kinds := map[string]bool{}
	for name, member := range listChangedMember {
		var c struct {
			ListChanged bool `json:"listChanged"`
		}
		if v := caps[name]; v != nil && jsonv2.Unmarshal(v, &c, jsonv2.RejectUnknownMembers(false)) == nil && c.ListChanged {
			kinds[member] = true
		}
	}
	st.mu.Lock()
	st.listen.kinds = kinds
	st.mu.Unlock()
}
