package govern

import (
	"net/url"
	"strings"
)

// GatewayBase is the base URL of a gateway named by its URL or by its
// /mcp endpoint ("https://gw.example.com/mcp" → "https://gw.example.com").
func GatewayBase(gatewayURL string) string {
	return strings.TrimSuffix(strings.TrimRight(gatewayURL, "/"), "/mcp")
}

// GatewayServerURL is the gateway's proxy endpoint of catalog server id.
func GatewayServerURL(gatewayURL, id string) string {
	return GatewayBase(gatewayURL) + "/servers/" + url.PathEscape(id) + "/mcp"
}

// IsGatewayEndpoint reports whether upstream is one of the MCP endpoints
// of the gateway configured as gatewayURL (the profile's gateway_url):
// its /mcp, a /servers/ID/mcp or a /virtual/ID/mcp, on the same scheme
// and host. The login's token is sent to these and nowhere else.
func IsGatewayEndpoint(gatewayURL, upstream string) bool {
	if SameURL(gatewayURL, upstream) {
		return true
	}
	g, errG := url.Parse(GatewayBase(gatewayURL))
	u, errU := url.Parse(upstream)
	if errG != nil || errU != nil || g.RawQuery != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	if !SameURL(g.Scheme+"://"+g.Host, u.Scheme+"://"+u.Host) {
		return false
	}
	base := strings.TrimSuffix(g.EscapedPath(), "/")
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if p == base+"/mcp" {
		return true
	}
	for _, kind := range []string{"/servers/", "/virtual/"} {
		if id, ok := strings.CutPrefix(p, base+kind); ok {
			id, ok = strings.CutSuffix(id, "/mcp")
			return ok && id != "" && !strings.Contains(id, "/") && id != "." && id != ".."
		}
	}
	return false
}
