package govern

import "testing"

func TestIsGatewayEndpoint(t *testing.T) {
	const gw = "https://gw.example.com/mcp"
	for _, c := range []struct {
		upstream string
		want     bool
	}{
		{"https://gw.example.com/mcp", true},
		{"https://GW.example.com:443/mcp/", true},
		{"https://gw.example.com/servers/github/mcp", true},
		{"https://gw.example.com/virtual/triage/mcp", true},
		{"https://gw.example.com/servers/a/b/mcp", false},
		{"https://gw.example.com/servers//mcp", false},
		{"https://gw.example.com/servers/../mcp", false},
		{"http://gw.example.com/servers/github/mcp", false},
		{"https://evil.example.com/servers/github/mcp", false},
		{"https://gw.example.com.evil.com/mcp", false},
		{"https://gw.example.com/other", false},
		{"https://gw.example.com/servers/github/mcp?x=1", false},
	} {
		if got := IsGatewayEndpoint(gw, c.upstream); got != c.want {
			t.Errorf("IsGatewayEndpoint(%q, %q) = %v, want %v", gw, c.upstream, got, c.want)
		}
	}
	if !IsGatewayEndpoint("https://h/prefix/mcp", "https://h/prefix/servers/x/mcp") {
		t.Error("a gateway under a path prefix")
	}
	if got := GatewayServerURL("https://gw.example.com/", "a b"); got != "https://gw.example.com/servers/a%20b/mcp" {
		t.Errorf("GatewayServerURL = %q", got)
	}
}
