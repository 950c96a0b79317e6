package scan

// VS Code can run the servers other clients configure: with
// chat.mcp.discovery.enabled it imports Claude Desktop's, Windsurf's and
// Cursor's global files and each workspace's .cursor/mcp.json (VS Code
// mcpConfiguration.ts DiscoverySource; agent-scan vscode/base.py). The
// setting is off by default; where a settings file turns a source on, that
// source's servers are the editor's too.

// Discovery sources, as the setting names them.
const (
	discoverClaudeDesktop   = "claude-desktop"
	discoverWindsurf        = "windsurf"
	discoverCursorGlobal    = "cursor-global"
	discoverCursorWorkspace = "cursor-workspace"
)

var allDiscoverySources = []string{discoverClaudeDesktop, discoverWindsurf, discoverCursorGlobal, discoverCursorWorkspace}

// discoveryEnabled reads chat.mcp.discovery.enabled from a settings file:
// true turns every source on (the setting's older boolean form), an object
// turns on the sources set to true.
func discoveryEnabled(root *node) []string {
	v := root.get("chat.mcp.discovery.enabled")
	if v == nil {
		v = root.path("chat", "mcp", "discovery", "enabled")
	}
	switch {
	case v == nil:
		return nil
	case v.kind == kBool || v.kind == kString:
		if v.isTrue() {
			return allDiscoverySources
		}
		return nil
	case v.kind == kObject:
		var on []string
		for _, k := range allDiscoverySources {
			if v.get(k).isTrue() {
				on = append(on, k)
			}
		}
		return on
	}
	return nil
}

// discoverySources are the user files the enabled sources name, read for
// client (the editor whose settings enabled them).
func discoverySources(e Env, client string, on []string) []source {
	var out []source
	for _, k := range on {
		var p string
		switch k {
		case discoverClaudeDesktop:
			p = e.join(e.userData(), "Claude", "claude_desktop_config.json")
		case discoverWindsurf:
			p = e.home(".codeium", "windsurf", "mcp_config.json")
		case discoverCursorGlobal:
			p = e.home(".cursor", "mcp.json")
		default:
			continue // workspaces: see scanner.importCursorWorkspace
		}
		out = append(out, source{client: client, scope: ScopeUser, path: p, shape: shapeMCPServers})
	}
	return out
}

// importCursorWorkspace is dir's .cursor/mcp.json for every editor that
// imports it, in client order.
func (s *scanner) importCursorWorkspace(dir string) []source {
	var out []source
	for _, c := range Clients {
		if s.cursorWorkspace[c] {
			out = append(out, source{client: c, scope: ScopeProject, shape: shapeMCPServers,
				path: s.opts.Env.join(dir, ".cursor", "mcp.json"), project: dir})
		}
	}
	return out
}
