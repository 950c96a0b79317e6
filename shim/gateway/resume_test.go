package gateway_test

import (
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestResumeOnAnotherReplica: two handlers given the same session key
// (two replicas) serve one session: the id the first signed is served by
// the second, whose cores carry the session's one record id. An id with
// a byte changed, one of another endpoint, one signed with another key,
// or one used by another caller is not served.
func TestResumeOnAnotherReplica(t *testing.T) {
	gov := twoServers(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	a, _ := newGateway(t, gov, gateway.Options{SessionKey: key})
	b, hb := newGateway(t, gov, gateway.Options{SessionKey: key})
	c3, _ := newGateway(t, gov, gateway.Options{SessionKey: key})
	other, _ := newGateway(t, gov, gateway.Options{SessionKey: []byte("another key, another deployment!")})

	status, body, hdr := post(t, a.URL+"/servers/alpha/mcp", "", initBody, "X-Test-User", "ada")
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || !strings.HasPrefix(sid, "mcpgov1.") {
		t.Fatalf("initialize on replica a: %d %s (session %q)", status, body, sid)
	}
	if strings.Contains(sid, "ada") {
		t.Fatalf("the session id shows the caller: %s", sid)
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	status, body, _ = post(t, b.URL+"/servers/alpha/mcp", sid, call, "X-Test-User", "ada")
	if status != 200 || !strings.Contains(body, `"id":7`) || !strings.Contains(body, "alpha:echo") {
		t.Fatalf("call on replica b: %d %s", status, body)
	}
	if hb.Sessions() != 1 {
		t.Fatalf("replica b holds %d sessions, want the resumed one", hb.Sessions())
	}
	// The denied tool stays denied on the replica that resumed.
	deny := `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"secret","arguments":{}}}`
	if _, body, _ = post(t, b.URL+"/servers/alpha/mcp", sid, deny, "X-Test-User", "ada"); strings.Contains(body, "alpha:secret") {
		t.Fatalf("the denied tool ran on replica b: %s", body)
	}
	gov.mu.Lock()
	first, last := gov.cores[0].Session, gov.cores[len(gov.cores)-1].Session
	gov.mu.Unlock()
	if first == "" || first != last {
		t.Fatalf("record ids: %q on the opener, %q on the replica that resumed", first, last)
	}

	tampered := sid[:len(sid)-3] + "AAA"
	if sid[len(sid)-3:] == "AAA" {
		tampered = sid[:len(sid)-3] + "BBB"
	}
	for _, c := range []struct {
		name, url, sid, user string
		status               int
	}{
		{"tampered", b.URL + "/servers/alpha/mcp", tampered, "ada", 404},
		{"another endpoint", b.URL + "/servers/beta/mcp", sid, "ada", 404},
		{"another deployment's key", other.URL + "/servers/alpha/mcp", sid, "ada", 404},
		{"another caller", b.URL + "/servers/alpha/mcp", sid, "bob", 403},
		{"another caller, resuming", c3.URL + "/servers/alpha/mcp", sid, "bob", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := post(t, c.url, c.sid, call, "X-Test-User", c.user)
			if status != c.status {
				t.Fatalf("got %d %s, want %d", status, body, c.status)
			}
		})
	}
}
