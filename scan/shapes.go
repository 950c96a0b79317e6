package scan

import (
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
)

// dialect selects how an entry's fields are spelled.
type dialect int

const (
	dialectGeneric  dialect = iota // command/args/env/url/headers/type (most clients)
	dialectGemini                  // url and httpUrl are both streamable HTTP unless type says sse
	dialectClaude                  // Claude Code: ignores "disabled"; rejection lives in settings
	dialectCodex                   // TOML: env_vars, http_headers, enabled
	dialectOpencode                // type local|remote, command array, environment
	dialectContinue                // YAML list items with a name field
)

// rawEntry is one server entry found in a file, before normalisation.
type rawEntry struct {
	name     string
	line     int
	node     *node
	scope    Scope
	project  string
	dialect  dialect
	disabled bool // disabled by a list outside the entry (Claude Code)
}

// extraction is what one file yields: server entries, and project roots the
// client remembers.
type extraction struct {
	entries []rawEntry
	roots   []string
	// projectDisabled maps a project root ("*" for all projects) to server
	// names Claude Code's state or settings reject in that project's .mcp.json.
	projectDisabled map[string][]string
}

func mapEntries(m *node, scope Scope, project string, d dialect) []rawEntry {
	if m == nil || m.kind != kObject {
		return nil
	}
	out := make([]rawEntry, 0, len(m.members))
	for _, mem := range m.members {
		if mem.val.kind != kObject {
			continue
		}
		out = append(out, rawEntry{name: mem.key, line: mem.line, node: mem.val, scope: scope, project: project, dialect: d})
	}
	return out
}

// extract pulls server entries out of a parsed file according to its shape.
func extract(src source, root *node) extraction {
	var x extraction
	switch src.shape {
	case shapeMCPServers:
		d := dialectGeneric
		switch src.client {
		case ClientGeminiCLI:
			d = dialectGemini
		case ClientClaudeCode:
			d = dialectClaude
		}
		x.entries = mapEntries(root.get("mcpServers"), src.scope, src.project, d)
	case shapeClaudeJSON:
		x.entries = mapEntries(root.get("mcpServers"), src.scope, "", dialectClaude)
		disabledUser := toSet(root.get("disabledMcpServers").strings())
		for i := range x.entries {
			x.entries[i].disabled = disabledUser[x.entries[i].name]
		}
		if projects := root.get("projects"); projects != nil && projects.kind == kObject {
			x.projectDisabled = map[string][]string{}
			for _, p := range projects.members {
				x.roots = append(x.roots, p.key)
				local := mapEntries(p.val.get("mcpServers"), ScopeLocal, p.key, dialectClaude)
				off := toSet(p.val.get("disabledMcpServers").strings())
				for i := range local {
					local[i].disabled = off[local[i].name]
				}
				x.entries = append(x.entries, local...)
				x.projectDisabled[p.key] = append(p.val.get("disabledMcpjsonServers").strings(), p.val.get("disabledMcpServers").strings()...)
			}
		}
	case shapePlugin:
		servers := root.get("mcpServers")
		if servers == nil {
			servers = root.get("mcp_servers")
		}
		if servers == nil && root.get("name") == nil { // flat {name: entry} map
			servers = root
		}
		d := dialectGeneric
		if src.client == ClientClaudeCode {
			d = dialectClaude
		}
		for _, e := range mapEntries(servers, src.scope, src.project, d) {
			if e.node.get("command") != nil || e.node.get("url") != nil || e.node.get("type") != nil {
				x.entries = append(x.entries, e)
			}
		}
	case shapeClaudeSettings:
		// Rejected project servers: Claude Code never starts them.
		if names := root.get("disabledMcpjsonServers").strings(); len(names) > 0 {
			key := src.project
			if key == "" {
				key = "*"
			}
			x.projectDisabled = map[string][]string{key: names}
		}
	case shapeVSCodeMCP:
		x.entries = mapEntries(root.get("servers"), src.scope, src.project, dialectGeneric)
	case shapeVSCodeSettings:
		servers := root.path("mcp", "servers")
		if servers == nil {
			servers = root.get("mcp.servers")
		}
		x.entries = mapEntries(servers, src.scope, src.project, dialectGeneric)
	case shapeCodeWorkspace:
		x.entries = mapEntries(root.path("settings", "mcp", "servers"), ScopeProject, src.project, dialectGeneric)
		if folders := root.get("folders"); folders != nil {
			dir := filepath.Dir(src.path)
			for _, f := range folders.items {
				p := f.get("path").text()
				if p == "" {
					continue
				}
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				x.roots = append(x.roots, filepath.Clean(p))
			}
		}
	case shapeDevcontainer:
		x.entries = mapEntries(root.path("customizations", "vscode", "mcp", "servers"), src.scope, src.project, dialectGeneric)
	case shapeZed:
		x.entries = mapEntries(root.get("context_servers"), src.scope, src.project, dialectGeneric)
	case shapeCodex:
		x.entries = mapEntries(root.get("mcp_servers"), src.scope, src.project, dialectCodex)
		if projects := root.get("projects"); projects != nil {
			for _, p := range projects.members {
				x.roots = append(x.roots, p.key)
			}
		}
	case shapeContinue, shapeContinueBlock:
		switch list := root.get("mcpServers"); {
		case list != nil && list.kind == kArray:
			for _, it := range list.items {
				if it.kind != kObject {
					continue
				}
				x.entries = append(x.entries, rawEntry{name: it.get("name").text(), line: it.line, node: it, scope: src.scope, project: src.project, dialect: dialectContinue})
			}
		case list != nil && list.kind == kObject: // JSON block in Claude/Cursor format
			x.entries = mapEntries(list, src.scope, src.project, dialectGeneric)
		}
	case shapeOpencode:
		x.entries = mapEntries(root.get("mcp"), src.scope, src.project, dialectOpencode)
	case shapeWorkspaceStorage:
		for _, key := range []string{"folder", "workspace"} {
			if p := fileURIPath(root.get(key).text()); p != "" {
				x.roots = append(x.roots, p)
			}
		}
	}
	return x
}

func toSet(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// fileURIPath turns a file:// URI from workspaceStorage into a local path;
// remote URIs (vscode-remote://…) yield "".
func fileURIPath(uri string) string {
	if !strings.HasPrefix(uri, "file://") {
		return ""
	}
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	p := u.Path
	if runtime.GOOS == "windows" {
		if u.Host != "" { // UNC: file://server/share/x
			return `\\` + u.Host + filepath.FromSlash(p)
		}
		p = strings.TrimPrefix(p, "/")
	}
	return filepath.FromSlash(p)
}
