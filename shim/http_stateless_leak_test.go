package shim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// inputServer answers server/discover as a server of 2026-07-28; a call
// with inputResponses gets a result, any other call answer (an
// input_required, say). streamEnds makes a call without inputResponses be
// answered with an event stream that ends before its answer. retries
// counts the calls with inputResponses it got.
func inputServer(t *testing.T, answer string, streamEnds bool, retries *atomic.Int64) string {
	t.Helper()
	return rawJSONRPC(t, func(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
		if m.Method == "server/discover" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}}}`)))
			return
		}
		if strings.Contains(string(m.Params), `"inputResponses"`) {
			if retries != nil {
				retries.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"content":[]}`)))
			return
		}
		if streamEnds {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(answer)))
	})
}

// openStateless dials url statelessly and initializes it with a client
// that declares elicitation.
func openStateless(t *testing.T, url string, passInput bool) *HTTPUpstream {
	t.Helper()
	up, err := DialHTTP(url, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	up.Stateless(passInput)
	t.Cleanup(func() { _ = up.Shutdown(0) })
	if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"c","version":"1"}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := up.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	return up
}

// readFor reads frames until one that matches.
func readFor(t *testing.T, up *HTTPUpstream, match func(*rpc.Message) bool) *rpc.Message {
	t.Helper()
	for {
		f, err := up.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := rpc.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		if match(m) {
			return m
		}
	}
}

// callState is the per-call state a stateless upstream keeps.
func callState(up *HTTPUpstream) (calls, inputs int) {
	st := up.stateless
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.calls), len(st.inputs)
}

// TestStatelessCancelDuringRetry: a client that answers the server's
// input request while it cancels the call, both at once, gets one answer
// for the call, and no state of it is left. Run with -race: the cancel
// func of the retry was set and read without a lock, and a cancel that
// came between the answer and the retry's POST left the retry
// uncancelled (the server ran a call its client had cancelled).
func TestStatelessCancelDuringRetry(t *testing.T) {
	var retries atomic.Int64
	up := openStateless(t, inputServer(t, `{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"name?"}}},"requestState":"s"}`, false, &retries), false)
	cancelledFirst := 0
	for round := 1; round <= 200; round++ {
		id := strconv.Itoa(round)
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
			t.Fatal(err)
		}
		ask := readFor(t, up, func(m *rpc.Message) bool { return m.IsCall() && m.Method == "elicitation/create" })
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = up.WriteFrame(rpc.ResultResponse(ask.ID, json.RawMessage(`{"action":"accept","content":{"name":"x"}}`)))
		}()
		go func() {
			defer wg.Done()
			_ = up.WriteFrame([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + id + `}}`))
		}()
		wg.Wait()
		got := readFor(t, up, func(m *rpc.Message) bool { return m.IsResponse() && string(m.ID) == id })
		if got.Error != nil && strings.Contains(string(got.Error), "cancelled") {
			cancelledFirst++
		} else if got.Error == nil && retries.Load() == 0 {
			t.Fatalf("round %d: the call was answered %s, yet no retry reached the server", round, got.Raw)
		}
		if calls, inputs := callState(up); calls != 0 || inputs != 0 {
			t.Fatalf("round %d: %d calls and %d input requests left after the call's answer", round, calls, inputs)
		}
	}
	t.Logf("%d of 200 rounds answered as cancelled, %d retries reached the server", cancelledFirst, retries.Load())
}

// TestStatelessStreamEndedForgetsCall: a call whose event stream ends
// before its answer is answered with an error, and its state goes with it
// (the upstream's session is long-lived: a server that does this for
// every call grew it without bound).
func TestStatelessStreamEndedForgetsCall(t *testing.T) {
	up := openStateless(t, inputServer(t, "", true, nil), false)
	for i := 1; i <= 5; i++ {
		id := strconv.Itoa(i)
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
			t.Fatal(err)
		}
		got := readFor(t, up, func(m *rpc.Message) bool { return m.IsResponse() && string(m.ID) == id })
		if got.Error == nil || !strings.Contains(string(got.Error), "stream ended before it answered") {
			t.Fatalf("call %s answered %s, want the stream's end said", id, got.Raw)
		}
	}
	if calls, inputs := callState(up); calls != 0 || inputs != 0 {
		t.Fatalf("%d calls and %d input requests left after 5 calls answered", calls, inputs)
	}
}

// TestStatelessBadInputRequestForgetsInputs: an input_required answer
// with one valid input request and one that is not refuses the call and
// asks nothing, and leaves no input request waiting for an answer.
func TestStatelessBadInputRequestForgetsInputs(t *testing.T) {
	up := openStateless(t, inputServer(t, `{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{}},"b":{"method":"tools/call","params":{}}},"requestState":"s"}`, false, nil), false)
	for i := 1; i <= 3; i++ {
		id := strconv.Itoa(i)
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
			t.Fatal(err)
		}
		got := readFor(t, up, func(m *rpc.Message) bool { return m.IsResponse() || m.IsCall() })
		if !got.IsResponse() || string(got.ID) != id || got.Error == nil || !strings.Contains(string(got.Error), `the server's input request \"b\" asks for \"tools/call\"`) {
			t.Fatalf("call %s: got %s, want it refused, nothing asked", id, got.Raw)
		}
	}
	if calls, inputs := callState(up); calls != 0 || inputs != 0 {
		t.Fatalf("%d calls and %d input requests left after 3 calls refused", calls, inputs)
	}
}
