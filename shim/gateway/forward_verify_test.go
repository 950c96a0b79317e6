package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestForwardBodyReadAfterSignature: a replica whose body limit is lower
// than the forwarding one's (a rolling change of max_body) refuses a
// signed forward whose body is past its limit, without counting it as a
// failed authentication of the forwarding replica: that replica's
// forwards are not shut off (429) by a client sizing its retries between
// the two limits.
func TestForwardBodyReadAfterSignature(t *testing.T) {
	up := streamUpstream(t, nil)
	auth := gateway.AuthOptions{MaxFailures: 2, FailureWindow: time.Minute}
	// The call fits A's limit; its retry (answers, a sealed state) does not.
	a := startTestReplica(t, up, "self", gateway.Options{Auth: auth, MaxBody: 700})
	b := startTestReplica(t, up, "self", gateway.Options{Auth: auth})
	key, state := askCall(t, a.ts.URL+"/servers/asker/mcp", 1)
	for i := range 4 {
		status, ans := rawStateless(t, b.ts.URL+"/servers/asker/mcp", "ann", 2+i, "tools/call", retryParams(key, state, "Bo"))
		if status != http.StatusForbidden || ans.Error == nil || !strings.Contains(ans.Error.Message, "forwarded request refused: its body could not be read") {
			t.Fatalf("oversized forward %d: %d %+v, want 403 saying the body could not be read", i, status, ans.Error)
		}
	}
}
