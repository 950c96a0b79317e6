package enforce

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCallParamsInputResponses: a stateless retry's inputResponses are
// read for the pre hook (an object, exactly named), and its forwarded
// params keep them.
func TestCallParamsInputResponses(t *testing.T) {
	p, err := parseCallParams(json.RawMessage(`{"name":"t","arguments":{},"inputResponses":{"k":{"action":"accept"}},"requestState":"s"}`))
	if err != nil || string(p.InputResponses) != `{"k":{"action":"accept"}}` || !strings.Contains(string(p.Forward), `"inputResponses":{"k":{"action":"accept"}}`) {
		t.Fatalf("parsed %+v %v, want the inputResponses read and forwarded", p, err)
	}
	for params, want := range map[string]string{
		`{"name":"t","arguments":{},"inputResponses":[1]}`:                         "inputResponses must be an object",
		`{"name":"t","arguments":{},"inputResponses":{},"InputResponses":{"x":1}}`: `member "InputResponses" differs only in case from "inputResponses"`,
		`{"name":"t","arguments":{},"RequestState":"s"}`:                           `member "RequestState" differs only in case from "requestState"`,
	} {
		if _, err := parseCallParams(json.RawMessage(params)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", params, err, want)
		}
	}
}
