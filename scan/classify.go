package scan

import (
	"path"
	"path/filepath"
	"strings"
)

// classifyFile recognises an explicitly named file by the project or user
// path it matches.
func classifyFile(env Env, abs string) (source, bool) {
	slash := filepath.ToSlash(abs)
	for _, pf := range allProjectFiles {
		rel := strings.Join(pf.rel, "/")
		if pf.glob {
			// Match the pattern's elements against the path's last ones.
			parts := strings.Split(slash, "/")
			k := len(pf.rel)
			if len(parts) <= k || pf.shape == shapeDockerfile && !isDockerfile(abs) {
				continue
			}
			ok := true
			for j, pat := range pf.rel {
				if m, _ := path.Match(pat, parts[len(parts)-k+j]); !m {
					ok = false
					break
				}
			}
			if ok {
				return source{client: pf.client, scope: ScopeProject, path: abs, shape: pf.shape, project: filepath.FromSlash(strings.Join(parts[:len(parts)-k], "/"))}, true
			}
			continue
		}
		if strings.HasSuffix(slash, "/"+rel) {
			root := filepath.FromSlash(strings.TrimSuffix(slash, "/"+rel))
			return source{client: pf.client, scope: ScopeProject, path: abs, shape: pf.shape, project: root}, true
		}
	}
	for _, src := range userSources(env) {
		if ok, _ := filepath.Match(src.path, abs); ok || src.path == abs {
			src.path, src.glob = abs, false
			return src, true
		}
	}
	switch filepath.Base(abs) {
	case ".claude.json":
		return source{client: ClientClaudeCode, scope: ScopeUser, path: abs, shape: shapeClaudeJSON}, true
	case "claude_desktop_config.json":
		return source{client: ClientClaudeDesktop, scope: ScopeUser, path: abs, shape: shapeMCPServers}, true
	case "managed-mcp.json":
		return source{client: ClientClaudeCode, scope: ScopeManaged, path: abs, shape: shapeMCPServers}, true
	case "mcp_config.json":
		return source{client: ClientWindsurf, scope: ScopeUser, path: abs, shape: shapeMCPServers}, true
	case "cline_mcp_settings.json":
		return source{client: ClientCline, scope: ScopeUser, path: abs, shape: shapeMCPServers}, true
	case "mcp-config.json":
		return source{client: ClientCopilotCLI, scope: ScopeUser, path: abs, shape: shapeMCPServers}, true
	}
	if strings.HasSuffix(abs, ".code-workspace") {
		return source{client: ClientVSCode, scope: ScopeProject, path: abs, shape: shapeCodeWorkspace, project: filepath.Dir(abs)}, true
	}
	return source{}, false
}
