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
	dialectGoose                   // Goose extensions: cmd, args, envs, uri
	dialectZed                     // Zed: extension servers carry settings, not a command
)

// rawEntry is one server entry found in a file, before normalisation.
type rawEntry struct {
	name     string
	line     int
	node     *node
	scope    Scope
	project  string
	dialect  dialect
	disabled bool   // disabled by a list outside the entry (Claude Code)
	key      string // identity across files (a Claude Desktop connector: org/uuid)
}

// extraction is what one file yields: server entries, and project roots the
// client remembers.
type extraction struct {
	entries []rawEntry
	roots   []string
	// projectDisabled maps a project root ("*" for all projects) to server
	// names Claude Code's state or settings reject in that project's .mcp.json.
	projectDisabled map[string][]string
	// plugins are the Claude Code plugins installed_plugins.json lists.
	plugins []installedPlugin
	// pluginsEnabled is a settings file's enabledPlugins.
	pluginsEnabled map[string]bool
	// more are further config files this one points at (a plugin
	// manifest's "mcpServers": "./path.json", a workflow's mcp_config file).
	more []source
	// discovery are the other clients' files a VS Code settings file
	// imports (chat.mcp.discovery.enabled).
	discovery []string
	// rank orders files that log the same entries (Claude Desktop
	// sessions: lastActivityAt, createdAt).
	rank [2]float64
}

// installedPlugin is one plugin Claude Code installed: its id
// ("name@marketplace") and the directory it was installed into.
type installedPlugin struct {
	id, dir string
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
		case ClientGeminiCLI, ClientQwenCode: // Qwen Code is a Gemini CLI fork
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
		switch {
		case servers != nil && (servers.kind == kString || servers.kind == kArray):
			// A manifest pointing at its servers' file or files, relative to
			// the plugin root (the manifest sits in .claude-plugin/,
			// .codex-plugin/, …); Claude Code and Copilot take a list too.
			for _, rel := range append(servers.strings(), servers.text()) {
				if p := pluginPointer(src.path, rel); p != "" {
					c := src
					c.path, c.walk = p, nil
					x.more = append(x.more, c)
				}
			}
			servers = nil
		case servers != nil && looksLikeServer(servers):
			// A flat file whose one server is named "mcpServers".
			servers = root
		case servers == nil && root.get("name") == nil: // flat {name: entry} map
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
		if ep := root.get("enabledPlugins"); ep != nil && ep.kind == kObject {
			x.pluginsEnabled = map[string]bool{}
			for _, m := range ep.members {
				x.pluginsEnabled[m.key] = !m.val.isFalse()
			}
		}
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
	case shapeExtensionMCP:
		servers := root.get("servers")
		if servers == nil {
			servers = root.get("mcpServers")
		}
		x.entries = mapEntries(servers, src.scope, src.project, dialectGeneric)
	case shapeVSCodeSettings:
		servers := root.path("mcp", "servers")
		if servers == nil {
			servers = root.get("mcp.servers")
		}
		x.entries = mapEntries(servers, src.scope, src.project, dialectGeneric)
		x.discovery = discoveryEnabled(root)
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
		x.entries = mapEntries(root.get("context_servers"), src.scope, src.project, dialectZed)
	case shapeCodex:
		d := dialectCodex
		if src.client != ClientCodex { // Grok Build: generic field names in TOML
			d = dialectGeneric
		}
		x.entries = mapEntries(root.get("mcp_servers"), src.scope, src.project, d)
		if projects := root.get("projects"); projects != nil {
			for _, p := range projects.members {
				x.roots = append(x.roots, p.key)
			}
		}
	case shapeContinue, shapeContinueBlock:
		switch list := root.get("mcpServers"); {
		case list != nil && list.kind == kArray:
			x.entries = namedList(list, src, dialectContinue)
		case list != nil && list.kind == kObject: // JSON block in Claude/Cursor format
			x.entries = mapEntries(list, src.scope, src.project, dialectGeneric)
		}
	case shapeOpencode:
		if m := root.get("mcp"); m != nil {
			x.entries = mapEntries(m, src.scope, src.project, dialectOpencode)
		} else { // the legacy Go opencode's .opencode.json
			x.entries = mapEntries(root.get("mcpServers"), src.scope, src.project, dialectGeneric)
		}
	case shapeGoose:
		for _, e := range mapEntries(root.get("extensions"), src.scope, src.project, dialectGoose) {
			// Built-in and platform extensions run inside Goose itself.
			if firstText(e.node, "cmd", "command", "uri", "url") != "" {
				x.entries = append(x.entries, e)
			}
		}
	case shapeAmp:
		servers := root.get("amp.mcpServers")
		if servers == nil {
			servers = root.path("amp", "mcpServers")
		}
		x.entries = mapEntries(servers, src.scope, src.project, dialectGeneric)
	case shapeVibe:
		x.entries = namedList(root.get("mcp_servers"), src, dialectGeneric)
	case shapeClaudePlugins:
		x.plugins = installedPlugins(root)
	case shapeWorkflow, shapeGitLabCI, shapeCompose, shapeDockerfile, shapeDevcontainerFeatures, shapeCIYAML:
		extractPipeline(src, root, &x)
	case shapeDesktopPlugins:
		// Each listed plugin is a directory beside the manifest, named by
		// its id; an id that is not one plain name is ignored.
		list := root.get("plugins")
		if list == nil || list.kind != kArray {
			break
		}
		for _, it := range list.items {
			id := it.get("id").text()
			if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\\x00") {
				continue
			}
			x.plugins = append(x.plugins, installedPlugin{id: id, dir: filepath.Join(filepath.Dir(src.path), id)})
		}
	case shapeOpencodeProject:
		// "/" is opencode's project for directories outside any repository.
		if w := root.get("worktree").text(); filepath.IsAbs(w) && filepath.Dir(w) != w {
			x.roots = append(x.roots, filepath.Clean(w))
		}
	case shapeDesktopSession:
		extractDesktopSession(src, root, &x)
	case shapeCopilotPermissions:
		// Only the keys: the approvals saved under them are not servers.
		if locs := root.get("locations"); locs != nil && locs.kind == kObject {
			for _, m := range locs.members {
				if filepath.IsAbs(m.key) {
					x.roots = append(x.roots, filepath.Clean(m.key))
				}
			}
		}
	case shapeWorkspaceStorage:
		for _, key := range []string{"folder", "workspace"} {
			if p := fileURIPath(root.get(key).text()); p != "" {
				x.roots = append(x.roots, p)
			}
		}
	}
	return x
}

// namedList reads a list of server tables that carry their own name
// (Continue's YAML mcpServers, Mistral Vibe's [[mcp_servers]]).
func namedList(list *node, src source, d dialect) []rawEntry {
	if list == nil || list.kind != kArray {
		return nil
	}
	var out []rawEntry
	for _, it := range list.items {
		if it.kind != kObject {
			continue
		}
		out = append(out, rawEntry{name: it.get("name").text(), line: it.line, node: it, scope: src.scope, project: src.project, dialect: d})
	}
	return out
}

// looksLikeServer reports whether an object is one server entry rather than
// a map of them: it has a scalar command, url or type.
func looksLikeServer(n *node) bool {
	if n == nil || n.kind != kObject {
		return false
	}
	for _, k := range []string{"command", "url", "type"} {
		if v := n.get(k); v != nil && v.kind == kString {
			return true
		}
	}
	return false
}

// pluginPointer resolves a manifest's relative "mcpServers" path against
// the plugin root; it refuses absolute paths and paths leaving the root.
func pluginPointer(manifest, rel string) string {
	if rel == "" || filepath.IsAbs(rel) || strings.HasPrefix(filepath.ToSlash(rel), "/") {
		return ""
	}
	dir := filepath.Dir(manifest)
	if strings.HasPrefix(filepath.Base(dir), ".") && strings.HasSuffix(filepath.Base(dir), "-plugin") {
		dir = filepath.Dir(dir)
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if r, err := filepath.Rel(dir, p); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return ""
	}
	return p
}

// installedPlugins reads Claude Code's plugins/installed_plugins.json:
// version 2 maps "name@marketplace" to a list of installs, version 1 to one.
func installedPlugins(root *node) []installedPlugin {
	var out []installedPlugin
	plugins := root.get("plugins")
	if plugins == nil || plugins.kind != kObject {
		return nil
	}
	for _, m := range plugins.members {
		installs := m.val.items
		if m.val.kind == kObject {
			installs = []*node{m.val}
		}
		for _, in := range installs {
			if dir := in.get("installPath").text(); dir != "" && filepath.IsAbs(dir) {
				out = append(out, installedPlugin{id: m.key, dir: filepath.Clean(dir)})
			}
		}
	}
	return out
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
