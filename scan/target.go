package scan

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Layout says where a config file keeps its servers, for adding one.
type Layout string

// Layouts of the files servers are added to.
const (
	LayoutMCPServers    Layout = "mcpServers"      // JSON {"mcpServers": {name: entry}}
	LayoutClaudeLocal   Layout = "claude-local"    // ~/.claude.json projects[project].mcpServers
	LayoutVSCode        Layout = "servers"         // VS Code mcp.json {"servers": …, "inputs": […]}
	LayoutZed           Layout = "context_servers" // Zed settings {"context_servers": …}
	LayoutOpencode      Layout = "mcp"             // opencode {"mcp": {name: {type: local, command: [argv]}}}
	LayoutCodex         Layout = "mcp_servers"     // Codex TOML [mcp_servers.name]
	LayoutContinue      Layout = "continue"        // Continue config.yaml mcpServers: [ {name, …} ]
	LayoutContinueBlock Layout = "continue-block"  // .continue/mcpServers/NAME.yaml, a block file of its own
)

// Target is the config file a client reads a server from in one scope:
// where `mcpgov catalog install` adds an entry.
type Target struct {
	Client  string
	Scope   Scope
	Path    string
	Project string // project root (project and local scopes)
	Layout  Layout
}

// InstallScopes lists the scopes a server can be added in for client, the
// default first. Managed files belong to MDM and are never written.
func InstallScopes(client string) []Scope {
	switch client {
	case ClientClaudeCode:
		return []Scope{ScopeUser, ScopeProject, ScopeLocal}
	case ClientCursor, ClientVSCode, ClientZed, ClientGeminiCLI, ClientCodex, ClientContinue, ClientOpencode, ClientKiro:
		return []Scope{ScopeUser, ScopeProject}
	case ClientClaudeDesktop, ClientWindsurf, ClientCline, ClientCopilotCLI:
		return []Scope{ScopeUser}
	}
	return nil
}

// InstallTarget is the file client reads scope's servers from: of the
// files the client table lists for it, the first that exists, else the
// client's canonical one. project is the project root for the project and
// local scopes; name is the server name (Continue keeps each project
// server in a block file of its own).
func InstallTarget(e Env, client string, scope Scope, project, name string) (Target, error) {
	ok := false
	for _, s := range InstallScopes(client) {
		ok = ok || s == scope
	}
	if !ok {
		return Target{}, fmt.Errorf("%s has no %s scope to install into (it has: %s)", client, scope, joinScopes(InstallScopes(client)))
	}
	t := Target{Client: client, Scope: scope}
	var cands []source
	switch scope {
	case ScopeUser, ScopeLocal:
		for _, s := range userSources(e) {
			if s.client == client && s.scope == ScopeUser && !s.glob && s.walk == nil {
				cands = append(cands, s)
			}
		}
	case ScopeProject:
		if project == "" {
			return Target{}, fmt.Errorf("no project directory for the project scope")
		}
		t.Project = project
		for _, s := range projectSources(e, project) {
			if s.client == client {
				cands = append(cands, s)
			}
		}
	}
	var fit []source
	for _, s := range cands {
		if l := layoutOf(s.shape); l != "" {
			fit = append(fit, s)
		}
	}
	if len(fit) == 0 {
		return Target{}, fmt.Errorf("%s: no %s config file to install into", client, scope)
	}
	pick := fit[0]
	for _, s := range fit {
		if !s.glob && exists(e, s.path) {
			pick = s
			break
		}
	}
	t.Path, t.Layout = pick.path, layoutOf(pick.shape)
	switch {
	case scope == ScopeLocal:
		if project == "" {
			return Target{}, fmt.Errorf("no project directory for the local scope")
		}
		t.Project, t.Layout = project, LayoutClaudeLocal
	case pick.shape == shapeContinueBlock:
		t.Path = e.join(project, ".continue", "mcpServers", blockFileName(name))
	}
	return t, nil
}

// layoutOf maps the shapes servers can be added to; other shapes (legacy
// settings blocks, plugin files, workspace lists) are not written.
func layoutOf(sh shape) Layout {
	switch sh {
	case shapeMCPServers, shapeClaudeJSON:
		return LayoutMCPServers
	case shapeVSCodeMCP:
		return LayoutVSCode
	case shapeZed:
		return LayoutZed
	case shapeOpencode:
		return LayoutOpencode
	case shapeCodex:
		return LayoutCodex
	case shapeContinue:
		return LayoutContinue
	case shapeContinueBlock:
		return LayoutContinueBlock
	}
	return ""
}

// blockFileName is a file name for a Continue block named name.
func blockFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			r = '-'
		}
		b.WriteRune(r)
	}
	return strings.TrimLeft(b.String(), ".") + ".yaml"
}

func exists(e Env, path string) bool {
	if e.OS != runtime.GOOS {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

func joinScopes(scopes []Scope) string {
	s := make([]string, len(scopes))
	for i, x := range scopes {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
