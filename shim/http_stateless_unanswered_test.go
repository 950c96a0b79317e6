package shim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// unansweringServer answers server/discover as a server of 2026-07-28
// and a call's POST with bad (its ResponseWriter and the call); with ask,
// a call without inputResponses gets an input_required asking for
// elicitation instead (its retry gets bad).
func unansweringServer(t *testing.T, ask bool, bad func(http.ResponseWriter, *rpc.Message)) string {
	t.Helper()
	return rawJSONRPC(t, func(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
		retry := strings.Contains(string(m.Params), `"inputResponses"`)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case m.Method == "server/discover":
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}}}`)))
		case ask && !retry:
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"name?"}}},"requestState":"s"}`)))
		default:
			bad(w, m)
		}
	})
}

// frames reads up's frames on a goroutine of its own, so that a test can
// wait for one with await (a call never answered fails the test at its
// deadline, saying so, instead of hanging in ReadFrame).
func frames(t *testing.T, up *HTTPUpstream) <-chan *rpc.Message {
	t.Helper()
	c := make(chan *rpc.Message, 16)
	go func() {
		defer close(c)
		for {
			f, err := up.ReadFrame()
			if err != nil {
				return
			}
			if m, err := rpc.Parse(f); err == nil {
				c <- m
			}
		}
	}()
	return c
}

// answerFor waits for the answer to call id, skipping other messages.
func answerFor(t *testing.T, c <-chan *rpc.Message, id string) *rpc.Message {
	t.Helper()
	for {
		m := await.Recv(t, c, "the answer to call "+id)
		if m == nil {
			t.Fatalf("the upstream ended before call %s was answered", id)
		}
		if m.IsResponse() && string(m.ID) == id {
			return m
		}
	}
}

// TestStatelessUnansweredPOST: a stateless server that answers a call's
// POST without the call's answer (202 Accepted, or a JSON body that is
// not its answer) gets the call answered with an error saying what it
// did, and the call's state is forgotten. Before, the call stayed in the
// upstream's state and its client waited forever.
func TestStatelessUnansweredPOST(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(http.ResponseWriter, *rpc.Message)
		want string
	}{
		{"202", func(w http.ResponseWriter, _ *rpc.Message) { w.WriteHeader(http.StatusAccepted) },
			"the upstream server answered its POST with 202 Accepted and no body, without the answer to tools/call"},
		{"other id", func(w http.ResponseWriter, _ *rpc.Message) {
			_, _ = w.Write(rpc.ResultResponse(json.RawMessage(`"elsewhere"`), json.RawMessage(`{"content":[]}`)))
		}, `the upstream server answered its POST with a JSON body for id \"elsewhere\", not the call's, without the answer to tools/call`},
		{"notification", func(w http.ResponseWriter, _ *rpc.Message) {
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`))
		}, "the upstream server answered its POST with a JSON body that is not a message with an id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := openStateless(t, unansweringServer(t, false, tc.bad), false)
			got := frames(t, up)
			for _, id := range []string{"1", "2"} {
				if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
					t.Fatal(err)
				}
				a := answerFor(t, got, id)
				if a.Error == nil || !strings.Contains(string(a.Error), tc.want) {
					t.Fatalf("call %s answered %s, want an error saying %s", id, a.Raw, tc.want)
				}
			}
			if calls, inputs := callState(up); calls != 0 || inputs != 0 {
				t.Fatalf("%d calls and %d input requests left after the calls were answered", calls, inputs)
			}
		})
	}
}

// TestStatelessUnansweredRetry: the same holds for the POST that retries
// a call with the client's input (it goes out from the client's answer,
// not from the engine's write).
func TestStatelessUnansweredRetry(t *testing.T) {
	up := openStateless(t, unansweringServer(t, true, func(w http.ResponseWriter, _ *rpc.Message) { w.WriteHeader(http.StatusAccepted) }), false)
	got := frames(t, up)
	if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
		t.Fatal(err)
	}
	var ask *rpc.Message
	for ask == nil {
		m := await.Recv(t, got, "the server's elicitation/create")
		if m == nil {
			t.Fatal("the upstream ended before it asked for input")
		}
		if m.IsCall() && m.Method == "elicitation/create" {
			ask = m
		}
	}
	if err := up.WriteFrame(rpc.ResultResponse(ask.ID, json.RawMessage(`{"action":"accept","content":{"name":"x"}}`))); err != nil {
		t.Fatal(err)
	}
	a := answerFor(t, got, "1")
	if a.Error == nil || !strings.Contains(string(a.Error), "answered its POST with 202 Accepted and no body") {
		t.Fatalf("the retried call answered %s, want the 202 said", a.Raw)
	}
	if calls, inputs := callState(up); calls != 0 || inputs != 0 {
		t.Fatalf("%d calls and %d input requests left after the call was answered", calls, inputs)
	}
}
