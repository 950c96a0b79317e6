package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestStatelessRetryByTopLevelMembers (review: a request was taken for an
// input retry when the text "requestState" appeared anywhere in its
// params): a tools/call whose arguments hold "requestState" and
// "inputResponses", as names and as text, is an ordinary call (the tool
// runs and asks for input); a retry whose members are spelled with
// escapes is still a retry (its forged state is refused, not forwarded).
func TestStatelessRetryByTopLevelMembers(t *testing.T) {
	up := newAskUpstream(t)
	ts, _, _, _ := inputGateway(t, up, gateway.Options{})
	ep := ts.URL + "/servers/asker/mcp"

	const call = `"name":"ask","arguments":{"greeting":"my \"requestState\" and \"inputResponses\"","requestState":"x","inputResponses":{}}`
	status, a := rawStateless(t, ep, "ann", 1, "tools/call", call)
	if status != 200 || a.Error != nil || a.Result.ResultType != "input_required" || len(a.Result.InputRequests) != 1 || a.Result.RequestState == "" {
		t.Fatalf("a call whose arguments name requestState: %d %+v %+v, want the tool to run and ask for input", status, a.Error, a.Result)
	}
	var key string
	for k := range a.Result.InputRequests {
		key = k
	}
	q, _ := json.Marshal(a.Result.RequestState)
	status, a = rawStateless(t, ep, "ann", 3, "tools/call",
		call+fmt.Sprintf(`,"inputResponses":{%q:{"action":"accept","content":{"name":"Bo"}}},"requestState":%s`, key, q))
	if status != 200 || a.Error != nil || a.Result.ResultType != "complete" || len(a.Result.Content) != 1 || a.Result.Content[0].Text != "hello Bo (accept)" {
		t.Errorf("its retry: %d %+v %+v, want the tool's answer", status, a.Error, a.Result)
	}

	status, a = rawStateless(t, ep, "ann", 2, "tools/call",
		`"name":"ask","arguments":{"greeting":"hi"},"input\u0052esponses":{"k":{"action":"cancel"}},"request\u0053tate":"mcpgov1.AAAA"`)
	if status != 400 || a.Error == nil || a.Error.Code != -32602 || !strings.Contains(a.Error.Message, "not issued by this gateway") {
		t.Errorf("a retry with escaped member names: %d %+v %+v, want 400 -32602 refusing its requestState", status, a.Error, a.Result)
	}
}
