package shim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// statelessServer answers server/discover as a server of 2026-07-28 and
// every tools/call with answer (the id put in).
func statelessServer(t *testing.T, answer string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := rpc.Parse(body)
		if err != nil || r.Header.Get("Mcp-Session-Id") != "" || r.Header.Get("Mcp-Method") != m.Method {
			http.Error(w, "not a stateless request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if m.Method == "server/discover" {
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"raw","version":"1"}}}`)))
			return
		}
		_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(answer)))
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
