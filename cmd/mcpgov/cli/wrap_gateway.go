package cli

import (
	"net/url"
	"slices"
	"strings"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// wrapGatewayOptions sets up a --gateway wrap: every entry the catalog
// knows is pointed at the gateway's endpoint for its catalog id
// (GATEWAY/servers/ID/mcp) through `mcpgov shim --url`, which sends the
// login's token there; the shim passes --server ID, so the local verdict
// and records name the same entry. Entries the catalog does not know are
// wrapped through the local shim as without --gateway.
func wrapGatewayOptions(opts *WrapOptions, gov *wrapGovernance, wo *wrap.Options) error {
	u, err := url.Parse(opts.Gateway)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return flagErrorf("invalid --gateway %q: want the gateway's http(s) URL, like https://gateway.example.com", opts.Gateway)
	}
	if gov.bundle == nil {
		return withHint(flagErrorf("--gateway needs the governance bundle: the catalog says which servers the gateway serves"),
			"configure the bundle the gateway serves (see `mcpgov help config`), or pass --bundle")
	}
	id := func(s scan.Server) string {
		if m, ok := gov.bundle.Catalog.Match(s.Launch()); ok {
			return m.Server.ID
		}
		return ""
	}
	wo.Gateway = func(s scan.Server) string {
		if i := id(s); i != "" {
			return govern.GatewayServerURL(opts.Gateway, i)
		}
		return ""
	}
	// Claude Code runs a headersHelper for each connection: its entries
	// become Streamable HTTP entries with the login's token from it.
	wo.HeadersHelper = shellWord(wo.MCPGovPath) + " auth token --header-json"
	wo.ShimFlags = func(s scan.Server) []string {
		flags := gov.shimFlags(s)
		i := id(s)
		if i == "" || slices.Contains(flags, "--server") {
			return flags
		}
		// The gateway runs the catalog's own launch of the entry, so the
		// local launch's version does not matter: name the entry.
		return append(flags, "--server", i)
	}
	if ls, err := resolveLogin(opts.Factory, "", "", "", nil); err == nil &&
		(ls.GatewayURL == "" || !govern.IsGatewayEndpoint(ls.GatewayURL, govern.GatewayBase(opts.Gateway)+"/mcp")) {
		opts.IO.Warnf("the login profile %q has no gateway_url for %s: the shim sends the login's token only to its gateway_url", ls.Profile, opts.Gateway)
		opts.IO.Hintf("set gateway_url = %q under [profiles.%s] (see `mcpgov help config`)", govern.GatewayBase(opts.Gateway)+"/mcp", ls.Profile)
	}
	return nil
}

// shellWord quotes p for a shell when it holds anything but plain path
// characters (a client runs a headersHelper through one).
func shellWord(p string) string {
	if strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
