package shim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// statelessServer answers server/discover as a server of 2026-07-28 and
// every tools/call with answer (the id put in).
func statelessServer(t *testing.T, answer string) string {
	t.Helper()
	return rawJSONRPC(t, func(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
		if r.Header.Get("Mcp-Session-Id") != "" || r.Header.Get("Mcp-Method") != m.Method {
			http.Error(w, "not a stateless request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if m.Method == "server/discover" {
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"raw","version":"1"}}}`)))
			return
		}
		_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(answer)))
	})
}

// rawJSONRPC serves handle, until the test ends, for each JSON-RPC
// message POSTed to it, and returns its URL; a body that is not one is
// answered 400.
func rawJSONRPC(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, m *rpc.Message)) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := rpc.Parse(body)
		if err != nil {
			http.Error(w, "not JSON-RPC", http.StatusBadRequest)
			return
		}
		handle(w, r, m)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestStatelessInputRequestsChecked: an input_required answer is asked of
// a session's client only as the revision's input requests: a method
// outside them, too many at once, or params that are not an object fail
// the call with an error saying so, and nothing is asked.
func TestStatelessInputRequestsChecked(t *testing.T) {
	many := make([]string, maxInputRequests+1)
	for i := range many {
		many[i] = `"k` + string(rune('a'+i)) + `":{"method":"elicitation/create","params":{}}`
	}
	for _, tc := range []struct{ requests, want string }{
		{`{"a":{"method":"tools/call","params":{}}}`, `the server's input request \"a\" asks for \"tools/call\"`},
		{`{"a":{"method":"elicitation/create","params":[1]}}`, `the server's input request \"a\" has params that are not an object`},
		{"{" + strings.Join(many, ",") + "}", "the server asked for 17 inputs in one round; mcpgov asks a client at most 16"},
	} {
		up, err := DialHTTP(statelessServer(t, `{"resultType":"input_required","inputRequests":`+tc.requests+`,"requestState":"s"}`), nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		up.Stateless(false)
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"c","version":"1"}}}`)); err != nil {
			t.Fatal(err)
		}
		init, err := up.ReadFrame()
		if err != nil || !strings.Contains(string(init), `"protocolVersion":"2025-11-25"`) || !strings.Contains(string(init), `"serverInfo":{"name":"raw"`) || strings.Contains(string(init), "listChanged") {
			t.Fatalf("initialize answered %s %v, want the server's discover as a 2025-11-25 session's, without listChanged", init, err)
		}
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}`)); err != nil {
			t.Fatal(err)
		}
		got, err := up.ReadFrame()
		if err != nil || !strings.Contains(string(got), `"id":1`) || !strings.Contains(string(got), tc.want) {
			t.Errorf("call answered %s %v, want an error saying %s", got, err, tc.want)
		}
		_ = up.Shutdown(0)
	}
}

// TestStatelessPassedInputRequestsChecked: when the client speaks the
// revision too, the server's input_required answer goes to it as it is,
// but only with the revision's input requests the client declared with
// its call, at most 16 a round, params objects, and for at most 10
// rounds of one call (its retries carry the state of the last): else
// the call fails saying why.
func TestStatelessPassedInputRequestsChecked(t *testing.T) {
	many := make([]string, maxInputRequests+1)
	for i := range many {
		many[i] = `"k` + string(rune('a'+i)) + `":{"method":"elicitation/create","params":{}}`
	}
	call := func(id int, state string) string {
		extra := ""
		if state != "" {
			extra = `,"inputResponses":{},"requestState":"` + state + `"`
		}
		return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/call","params":{"name":"t","arguments":{}` + extra +
			`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}}`
	}
	open := func(requests string) *HTTPUpstream {
		t.Helper()
		up, err := DialHTTP(statelessServer(t, `{"resultType":"input_required","inputRequests":`+requests+`,"requestState":"s"}`), nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		up.Stateless(true)
		t.Cleanup(func() { _ = up.Shutdown(0) })
		if err := up.WriteFrame([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := up.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		return up
	}
	ask := func(up *HTTPUpstream, id int, state string) string {
		t.Helper()
		if err := up.WriteFrame([]byte(call(id, state))); err != nil {
			t.Fatal(err)
		}
		got, err := up.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	for _, tc := range []struct{ requests, want string }{
		{`{"a":{"method":"roots/list"}}`, `the server's input request \"a\" asks for roots/list, which the client did not declare in its capabilities (roots)`},
		{`{"a":{"method":"sampling/createMessage","params":{}}}`, `which the client did not declare in its capabilities (sampling)`},
		{`{"a":{"method":"tools/call","params":{}}}`, `the server's input request \"a\" asks for \"tools/call\"`},
		{`{"a":{"method":"elicitation/create","params":[1]}}`, `the server's input request \"a\" has params that are not an object`},
		{"{" + strings.Join(many, ",") + "}", "the server asked for 17 inputs in one round; mcpgov asks a client at most 16"},
	} {
		got := ask(open(tc.requests), 1, "")
		if !strings.Contains(got, `"id":1`) || !strings.Contains(got, `"error"`) || !strings.Contains(got, tc.want) {
			t.Errorf("call answered %s, want an error saying %s", got, tc.want)
		}
	}

	up := open(`{"a":{"method":"elicitation/create","params":{"message":"name?"}}}`)
	for round := 1; round <= maxInputRounds; round++ {
		state := "s"
		if round == 1 {
			state = ""
		}
		if got := ask(up, round, state); !strings.Contains(got, `"resultType":"input_required"`) || !strings.Contains(got, `"message":"name?"`) {
			t.Fatalf("round %d answered %s, want the server's input_required as it is", round, got)
		}
	}
	if got := ask(up, 99, "s"); !strings.Contains(got, "the server asked for the client's input more than 10 times in one call") {
		t.Fatalf("round 11 answered %s, want the call failed", got)
	}
	// A new call starts its count over.
	if got := ask(up, 100, ""); !strings.Contains(got, `"resultType":"input_required"`) {
		t.Fatalf("a new call answered %s", got)
	}
}
