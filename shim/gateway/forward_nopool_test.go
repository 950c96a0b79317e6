package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestRetryForwardedWithoutPooledSession: a retry whose call waits on
// another replica is forwarded there without this replica opening an
// upstream session of the caller's: one that cannot open it (its
// upstream unreachable from here) forwards the retry all the same.
func TestRetryForwardedWithoutPooledSession(t *testing.T) {
	up := streamUpstream(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	a := startTestReplica(t, up, "self", gateway.Options{})
	b := startTestReplica(t, askServer{url: dead.URL, quit: func() {}}, "self", gateway.Options{})
	key, state := askCall(t, a.ts.URL+"/servers/asker/mcp", 1)
	status, ans := rawStateless(t, b.ts.URL+"/servers/asker/mcp", "ann", 2, "tools/call", retryParams(key, state, "Bo"))
	if status != http.StatusOK || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("retry through a replica whose upstream is down: %d %+v %+v, want it answered by the replica holding the call", status, ans.Error, ans.Result)
	}
}
