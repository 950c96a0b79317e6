package gateway_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestTrustedProxies: from a trusted peer, the client address is the
// rightmost X-Forwarded-For hop that is not trusted, and it keys the
// failure limit and the refusal; from any other peer the header is
// ignored.
func TestTrustedProxies(t *testing.T) {
	var mu sync.Mutex
	var refused []string
	now := time.Now()
	gateways := map[bool]string{}
	for _, trust := range []bool{true, false} {
		auth := gateway.AuthOptions{MaxFailures: 1, FailureWindow: time.Minute, Now: func() time.Time { return now },
			Refused: func(_ context.Context, a gateway.AuthRefusal) {
				mu.Lock()
				refused = append(refused, a.Addr)
				mu.Unlock()
			}}
		if trust {
			// The test's requests come from 127.0.0.1: it is the proxy.
			auth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
		}
		gateways[trust] = authGateway(t, twoServers(t), auth).URL + "/servers/alpha/mcp"
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	fail := func(url, xff string) (int, string) {
		t.Helper()
		h := []string{"Authorization", "Bearer bad"}
		if xff != "" {
			h = append(h, "X-Forwarded-For", xff)
		}
		status, body, _ := post(t, url, "", call, h...)
		return status, body
	}
	for _, c := range []struct {
		name   string
		trust  bool
		xff    string
		status int
		addr   string
	}{
		{"first caller behind the proxy", true, "203.0.113.7", 401, "203.0.113.7"},
		{"its second failure", true, "203.0.113.7", 429, "203.0.113.7"},
		{"a second caller: a bucket of its own", true, "198.51.100.9", 401, "198.51.100.9"},
		{"a spoofed hop left of the real one", true, "203.0.113.7, 192.0.2.44", 401, "192.0.2.44"},
		{"trusted hops are skipped", true, "192.0.2.55, 10.1.2.3", 401, "192.0.2.55"},
		{"a hop that is no address stops at the trusted one", true, "junk, 10.9.9.9", 401, "10.9.9.9"},
		{"untrusted peer: the header is ignored", false, "203.0.113.8", 401, "127.0.0.1"},
		{"untrusted peer, another spoofed address: same bucket", false, "198.51.100.10", 429, "127.0.0.1"},
	} {
		status, body := fail(gateways[c.trust], c.xff)
		if status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, status, body, c.status)
			continue
		}
		if status == 429 {
			if !strings.Contains(body, "too many failed authentications from "+c.addr+";") {
				t.Errorf("%s: %q does not name %s", c.name, body, c.addr)
			}
			continue
		}
		mu.Lock()
		last := refused[len(refused)-1]
		mu.Unlock()
		if last != c.addr {
			t.Errorf("%s: refusal recorded from %s, want %s", c.name, last, c.addr)
		}
	}
}
