package catalog

import (
	"strings"
	"testing"
)

// TestLaunchProtocol: launch.protocol names a revision the gateway
// speaks; the stateless one only for a Streamable HTTP url.
func TestLaunchProtocol(t *testing.T) {
	c, err := parseOne(t, "[servers.s]\nstatus = \"approved\"\nlaunch.url = \"https://s.example/mcp\"\nlaunch.protocol = \"2026-07-28\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Server("s").Launch.Protocol; got != ProtocolStateless {
		t.Fatalf("protocol %q", got)
	}
	for _, tc := range []struct{ launch, want string }{
		{"launch.url = \"https://s.example/mcp\"\nlaunch.protocol = \"2026-13-01\"", `server s: protocol "2026-13-01": want one of 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05`},
		{"launch.command = \"srv\"\nlaunch.protocol = \"2026-07-28\"", "server s: protocol 2026-07-28 needs a Streamable HTTP url"},
		{"launch.url = \"https://s.example/sse\"\nlaunch.transport = \"sse\"\nlaunch.protocol = \"2026-07-28\"", "server s: protocol 2026-07-28 needs a Streamable HTTP url"},
	} {
		_, err := parseOne(t, "[servers.s]\nstatus = \"approved\"\n"+tc.launch+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.launch, err, tc.want)
		}
	}
}
