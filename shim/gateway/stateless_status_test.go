package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStatelessInvalidRequestStatus (review: a -32600 went out with HTTP
// 200): under 2026-07-28 a request the gateway refuses as invalid (two
// members that differ only in case, read differently by two parsers) is
// answered -32600 with HTTP 400, as the revision maps protocol errors
// to HTTP statuses.
func TestStatelessInvalidRequestStatus(t *testing.T) {
	url, _, _ := statelessGateway(t)
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}`
	for _, c := range []struct{ name, params string }{
		{"name and Name", `"name":"echo","Name":"secret","arguments":{},` + meta},
		{"arguments and Arguments", `"name":"echo","arguments":{},"Arguments":{"x":1},` + meta},
	} {
		body := `{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{` + c.params + `}}`
		status, text, _ := post(t, url+"/servers/alpha/mcp", "", body, "Accept", "application/json", "X-Test-User", "dan",
			"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "echo")
		var a struct {
			ID    json.RawMessage `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(text), &a); err != nil {
			t.Fatalf("%s: answer %q: %v", c.name, text, err)
		}
		if status != 400 || a.Error == nil || a.Error.Code != -32600 || string(a.ID) != "21" || !strings.Contains(a.Error.Message, "ambiguous") {
			t.Errorf("%s: %d %s, want 400 and -32600 (ambiguous) for id 21", c.name, status, text)
		}
	}
}
