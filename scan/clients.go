package scan

import (
	"path/filepath"
	"strings"
)

// Client ids, exactly as they appear in reports and --client.
const (
	ClientCursor        = "cursor"
	ClientClaudeDesktop = "claude-desktop"
	ClientClaudeCode    = "claude-code"
	ClientVSCode        = "vscode"
	ClientWindsurf      = "windsurf"
	ClientCline         = "cline"
	ClientZed           = "zed"
	ClientGeminiCLI     = "gemini-cli"
	ClientCodex         = "codex"
	ClientContinue      = "continue"
	ClientOpencode      = "opencode"
	ClientKiro          = "kiro"
	ClientCopilotCLI    = "copilot-cli"
	ClientGoose         = "goose"
	ClientAntigravity   = "antigravity"
	ClientRooCode       = "roo-code"
	ClientKiloCode      = "kilo-code"
	ClientAmp           = "amp"
	ClientLMStudio      = "lm-studio"
	ClientTrae          = "trae"
	ClientMistralVibe   = "mistral-vibe"
	ClientKimi          = "kimi"
	ClientFactory       = "factory"
	ClientQoder         = "qoder"
	ClientAmazonQ       = "amazon-q"
	ClientGrok          = "grok"
	ClientMastra        = "mastra"
	ClientMCPorter      = "mcporter"
	ClientPi            = "pi"
	ClientWitsy         = "witsy"
	ClientEnconvo       = "enconvo"
	ClientFx            = "fx"
	ClientJetBrains     = "jetbrains-copilot"
	ClientJunie         = "junie"
	ClientQwenCode      = "qwen-code"
	ClientVisualStudio  = "visual-studio"
)

// Clients lists every supported client id in report order.
var Clients = []string{
	ClientCursor, ClientClaudeDesktop, ClientClaudeCode, ClientVSCode, ClientWindsurf,
	ClientCline, ClientZed, ClientGeminiCLI, ClientCodex, ClientContinue, ClientOpencode,
	ClientKiro, ClientCopilotCLI, ClientGoose, ClientAntigravity, ClientRooCode,
	ClientKiloCode, ClientAmp, ClientLMStudio, ClientTrae, ClientMistralVibe, ClientKimi,
	ClientFactory, ClientQoder, ClientAmazonQ, ClientGrok, ClientMastra, ClientMCPorter,
	ClientPi, ClientWitsy, ClientEnconvo, ClientFx, ClientJetBrains, ClientJunie,
	ClientQwenCode, ClientVisualStudio,
	ClientGitHubActions, ClientGitLabCI, ClientContainer, ClientCircleCI, ClientAzurePipeline,
	ClientBitbucket,
}

// shape names the layout of a config file: where its servers live and how
// their fields are spelled.
type shape int

const (
	shapeMCPServers           shape = iota // {"mcpServers": {name: entry}}
	shapeClaudeJSON                        // ~/.claude.json: user mcpServers + projects[path].mcpServers
	shapeVSCodeMCP                         // {"servers": {name: entry}, "inputs": […]}
	shapeVSCodeSettings                    // settings.json: {"mcp": {"servers": …}} or {"mcp.servers": …}
	shapeCodeWorkspace                     // *.code-workspace: folders[] + settings.mcp.servers
	shapeDevcontainer                      // customizations.vscode.mcp.servers
	shapeZed                               // {"context_servers": {name: entry}}
	shapeCodex                             // TOML [mcp_servers.name] and [projects."path"]
	shapeContinue                          // YAML mcpServers: [ {name, …} ]
	shapeContinueBlock                     // .continue/mcpServers/*: YAML block or a JSON mcpServers map
	shapeOpencode                          // {"mcp": {name: {type: local|remote, command: [...]}}}
	shapeWorkspaceStorage                  // VS Code-family workspaceStorage/*/workspace.json: remembered folders
	shapeClaudeSettings                    // Claude Code settings.json: disabledMcpjsonServers
	shapePlugin                            // plugin .mcp.json ({"mcpServers": …} or flat) or plugin.json
	shapeClaudePlugins                     // Claude Code installed_plugins.json: the plugins that are installed
	shapeGoose                             // YAML extensions: {name: {cmd, args, envs, type, uri}}
	shapeAmp                               // settings.json: {"amp.mcpServers": …} or {"amp": {"mcpServers": …}}
	shapeVibe                              // TOML [[mcp_servers]] with a name field (Mistral Vibe)
	shapeWorkflow                          // GitHub Actions workflow: claude-code-action mcp_config, --mcp-config
	shapeGitLabCI                          // .gitlab-ci.yml: --mcp-config in scripts, MCP service images
	shapeCompose                           // compose file: services running MCP images or packages
	shapeDockerfile                        // Dockerfile: FROM an MCP image, RUN/CMD an MCP package
	shapeDevcontainerFeatures              // devcontainer.json features that install MCP servers
	shapeCopilotPermissions                // Copilot permissions-config.json: locations are remembered projects
	shapeDesktopPlugins                    // Claude Desktop rpm/manifest.json: the plugins a session installed
	shapeExtensionMCP                      // an editor extension's bundled mcp.json: servers or mcpServers
	shapeOpencodeProject                   // opencode storage/project/*.json: the worktree it was used in
	shapeCIYAML                            // CircleCI, Azure Pipelines, Bitbucket: images and scripts anywhere
	shapeDesktopSession                    // Claude Desktop session log: the connectors it was given
)

// source is one config file (or glob of files) a client reads.
type source struct {
	client  string
	scope   Scope
	path    string // may contain a glob in its last elements
	glob    bool
	walk    []string // when set, path is a directory searched (bounded) for files with these names
	shape   shape
	project string // project root, for project-scope files
	app     string // VS Code-family application whose workspaces a workspaceStorage belongs to
	depth   int    // walk depth limit; 0 means walkMaxDepth
	plugin  string // Claude Code plugin ("name@marketplace") the file belongs to
}

// vscodeFamily are the applications sharing VS Code's user-data layout, with
// the client whose workspaces they remember.
var vscodeFamily = []struct{ dir, client string }{
	{"Code", ClientVSCode},
	{"Code - Insiders", ClientVSCode},
	{"VSCodium", ClientVSCode},
	{"Cursor", ClientCursor},
	{"Windsurf", ClientWindsurf},
	{"Kiro", ClientKiro},
	{"Antigravity", ClientAntigravity},
	{"Antigravity IDE", ClientAntigravity},
	{"Trae", ClientTrae},
	{"Qoder", ClientQoder},
}

// extensionStorage are the VS Code extensions that keep MCP servers in their
// global storage, in every VS Code-family editor (Cline, Roo Code, Kilo
// Code), with the file each keeps them in.
var extensionStorage = []struct{ client, id, file string }{
	{ClientCline, "saoudrizwan.claude-dev", "cline_mcp_settings.json"},
	{ClientRooCode, "rooveterinaryinc.roo-cline", "mcp_settings.json"},
	{ClientKiloCode, "kilocode.kilo-code", "mcp_settings.json"},
}

// userSources lists the user and machine-wide (managed) config files of every
// client for e.OS, in a fixed order.
func userSources(e Env) []source {
	var s []source
	add := func(client string, scope Scope, path string, sh shape) {
		s = append(s, source{client: client, scope: scope, path: path, shape: sh})
	}
	addGlob := func(client string, scope Scope, path string, sh shape) {
		s = append(s, source{client: client, scope: scope, path: path, shape: sh, glob: true})
	}
	ud := e.userData()

	// Cursor: same dot-folder on every OS.
	add(ClientCursor, ScopeUser, e.home(".cursor", "mcp.json"), shapeMCPServers)
	s = append(s, source{client: ClientCursor, scope: ScopeUser, path: e.home(".cursor", "plugins"), shape: shapePlugin, walk: []string{"mcp.json", ".mcp.json", "plugin.json"}})

	// Claude Desktop: macOS and Windows officially; Linux builds use XDG.
	add(ClientClaudeDesktop, ScopeUser, e.join(ud, "Claude", "claude_desktop_config.json"), shapeMCPServers)
	// Plugins its agent sessions installed, as each session's
	// rpm/manifest.json lists them (agent-scan claude_desktop.py; macOS).
	if e.OS == "darwin" {
		addGlob(ClientClaudeDesktop, ScopeUser, e.join(ud, "Claude", "local-agent-mode-sessions", "*", "*", "rpm", "manifest.json"), shapeDesktopPlugins)
	}
	if e.OS == "darwin" || e.OS == "windows" {
		s = append(s, desktopSessionSources(e, e.join(ud, "Claude"))...)
	}

	// Claude Code: ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json) holds
	// user and local scopes; managed-mcp.json is machine-wide.
	claudeJSON := e.home(".claude.json")
	if d := e.getenv("CLAUDE_CONFIG_DIR"); d != "" {
		claudeJSON = e.join(d, ".claude.json")
	}
	add(ClientClaudeCode, ScopeUser, claudeJSON, shapeClaudeJSON)
	claudeDir := e.home(".claude")
	if d := e.getenv("CLAUDE_CONFIG_DIR"); d != "" {
		claudeDir = d
	}
	add(ClientClaudeCode, ScopeUser, e.join(claudeDir, "settings.json"), shapeClaudeSettings)
	// Installed plugins bring their own MCP servers; the registry names
	// them. The marketplace catalogs beside it (plugins/marketplaces) list
	// plugins nobody installed and are never read.
	add(ClientClaudeCode, ScopeUser, e.join(claudeDir, "plugins", "installed_plugins.json"), shapeClaudePlugins)
	if d := e.getenv("CLAUDE_CODE_PLUGIN_CACHE_DIR"); d != "" {
		add(ClientClaudeCode, ScopeUser, e.join(d, "installed_plugins.json"), shapeClaudePlugins)
	}
	// Read-only seed directories baked into images for containers and CI,
	// laid out like ~/.claude/plugins, several joined by the OS's list
	// separator (Claude Code plugin docs; agent-scan).
	sep := ":"
	if e.OS == "windows" {
		sep = ";"
	}
	for _, d := range strings.Split(e.getenv("CLAUDE_CODE_PLUGIN_SEED_DIR"), sep) {
		if d = strings.TrimSpace(d); d != "" && d != e.getenv("CLAUDE_CODE_PLUGIN_CACHE_DIR") {
			add(ClientClaudeCode, ScopeUser, e.join(d, "installed_plugins.json"), shapeClaudePlugins)
		}
	}
	switch e.OS {
	case "darwin":
		add(ClientClaudeCode, ScopeManaged, e.system("/Library/Application Support/ClaudeCode/managed-mcp.json"), shapeMCPServers)
	case "windows":
		add(ClientClaudeCode, ScopeManaged, e.join(e.programFiles(), "ClaudeCode", "managed-mcp.json"), shapeMCPServers)
	default:
		add(ClientClaudeCode, ScopeManaged, e.system("/etc/claude-code/managed-mcp.json"), shapeMCPServers)
	}

	// VS Code (+ Insiders, VSCodium): user mcp.json, legacy settings.json
	// block, named profiles, remote server data, portable mode.
	for _, app := range []string{"Code", "Code - Insiders", "VSCodium"} {
		user := e.join(ud, app, "User")
		add(ClientVSCode, ScopeUser, e.join(user, "mcp.json"), shapeVSCodeMCP)
		add(ClientVSCode, ScopeUser, e.join(user, "settings.json"), shapeVSCodeSettings)
		addGlob(ClientVSCode, ScopeUser, e.join(user, "profiles", "*", "mcp.json"), shapeVSCodeMCP)
		addGlob(ClientVSCode, ScopeUser, e.join(user, "profiles", "*", "settings.json"), shapeVSCodeSettings)
	}
	add(ClientVSCode, ScopeUser, e.home(".vscode-server", "data", "User", "mcp.json"), shapeVSCodeMCP)
	add(ClientVSCode, ScopeUser, e.home(".vscode", "mcp.json"), shapeVSCodeMCP)
	// Extensions that bundle an mcp.json, in any of the family's spellings
	// (agent-scan: ~/.vscode[-insiders]/extensions; VSCodium's
	// ~/.vscode-oss and Cursor's ~/.cursor/extensions in public editor
	// tooling).
	addGlob(ClientVSCode, ScopeUser, e.home(".vscode", "extensions", "*", "mcp.json"), shapeExtensionMCP)
	addGlob(ClientVSCode, ScopeUser, e.home(".vscode-insiders", "extensions", "*", "mcp.json"), shapeExtensionMCP)
	addGlob(ClientVSCode, ScopeUser, e.home(".vscode-oss", "extensions", "*", "mcp.json"), shapeExtensionMCP)
	addGlob(ClientCursor, ScopeUser, e.home(".cursor", "extensions", "*", "mcp.json"), shapeExtensionMCP)
	if p := e.getenv("VSCODE_PORTABLE"); p != "" {
		add(ClientVSCode, ScopeUser, e.join(p, "user-data", "User", "mcp.json"), shapeVSCodeMCP)
		add(ClientVSCode, ScopeUser, e.join(p, "user-data", "User", "settings.json"), shapeVSCodeSettings)
	}

	// Windsurf: Cascade and the JetBrains plugin.
	add(ClientWindsurf, ScopeUser, e.home(".codeium", "windsurf", "mcp_config.json"), shapeMCPServers)
	add(ClientWindsurf, ScopeUser, e.home(".codeium", "mcp_config.json"), shapeMCPServers)
	// Windsurf Next, the pre-release build, keeps its own file beside it.
	add(ClientWindsurf, ScopeUser, e.home(".codeium", "windsurf-next", "mcp_config.json"), shapeMCPServers)

	// Cline, Roo Code, Kilo Code: extension global storage in every VS
	// Code-family editor; the Cline CLI ($CLINE_DIR).
	for _, ext := range extensionStorage {
		for _, app := range vscodeFamily {
			add(ext.client, ScopeUser, e.join(ud, app.dir, "User", "globalStorage", ext.id, "settings", ext.file), shapeMCPServers)
		}
	}
	clineDir := e.home(".cline")
	if d := e.getenv("CLINE_DIR"); d != "" {
		clineDir = d
	}
	add(ClientCline, ScopeUser, e.join(clineDir, "data", "settings", "cline_mcp_settings.json"), shapeMCPServers)

	// Zed: XDG on Linux and macOS, %APPDATA%\Zed on Windows.
	if e.OS == "windows" {
		add(ClientZed, ScopeUser, e.join(ud, "Zed", "settings.json"), shapeZed)
	} else {
		add(ClientZed, ScopeUser, e.join(e.xdgConfig(), "zed", "settings.json"), shapeZed)
	}
	if e.OS == "darwin" {
		add(ClientZed, ScopeUser, e.join(ud, "Zed", "settings.json"), shapeZed)
	}

	// Gemini CLI: user settings and system settings/defaults.
	add(ClientGeminiCLI, ScopeUser, e.home(".gemini", "settings.json"), shapeMCPServers)
	addGlob(ClientGeminiCLI, ScopeUser, e.home(".gemini", "extensions", "*", "gemini-extension.json"), shapeMCPServers)
	if p := e.getenv("GEMINI_CLI_SYSTEM_SETTINGS_PATH"); p != "" {
		add(ClientGeminiCLI, ScopeManaged, p, shapeMCPServers)
	} else {
		var dir string
		switch e.OS {
		case "darwin":
			dir = e.system("/Library/Application Support/GeminiCli")
		case "windows":
			dir = e.join(e.programData(), "gemini-cli")
		default:
			dir = e.system("/etc/gemini-cli")
		}
		add(ClientGeminiCLI, ScopeManaged, e.join(dir, "settings.json"), shapeMCPServers)
		add(ClientGeminiCLI, ScopeManaged, e.join(dir, "system-defaults.json"), shapeMCPServers)
	}

	// Codex: $CODEX_HOME/config.toml plus profile overlays, and /etc/codex.
	codexHome := e.home(".codex")
	if d := e.getenv("CODEX_HOME"); d != "" {
		codexHome = d
	}
	add(ClientCodex, ScopeUser, e.join(codexHome, "config.toml"), shapeCodex)
	s = append(s, source{client: ClientCodex, scope: ScopeUser, path: e.join(codexHome, "plugins"), shape: shapePlugin, walk: []string{".mcp.json", "plugin.json"}})
	addGlob(ClientCodex, ScopeUser, e.join(codexHome, "*.config.toml"), shapeCodex)
	if e.OS == "windows" {
		add(ClientCodex, ScopeManaged, e.join(e.programData(), "OpenAI", "Codex", "config.toml"), shapeCodex)
	} else {
		add(ClientCodex, ScopeManaged, e.system("/etc/codex/config.toml"), shapeCodex)
	}

	// Continue: ~/.continue/config.yaml and global block files.
	continueDir := e.home(".continue")
	if d := e.getenv("CONTINUE_GLOBAL_DIR"); d != "" {
		continueDir = d
	}
	add(ClientContinue, ScopeUser, e.join(continueDir, "config.yaml"), shapeContinue)
	addGlob(ClientContinue, ScopeUser, e.join(continueDir, "mcpServers", "*"), shapeContinueBlock)

	// opencode: XDG config on every OS, env overrides, managed directories.
	ocDir := e.join(e.xdgConfig(), "opencode")
	for _, name := range []string{"opencode.json", "opencode.jsonc", "config.json"} {
		add(ClientOpencode, ScopeUser, e.join(ocDir, name), shapeOpencode)
	}
	add(ClientOpencode, ScopeUser, e.home(".opencode", "opencode.json"), shapeOpencode)
	add(ClientOpencode, ScopeUser, e.home(".opencode", "opencode.jsonc"), shapeOpencode)
	add(ClientOpencode, ScopeUser, e.home(".opencode.json"), shapeOpencode)
	if p := e.getenv("OPENCODE_CONFIG"); p != "" {
		add(ClientOpencode, ScopeUser, p, shapeOpencode)
	}
	if d := e.getenv("OPENCODE_CONFIG_DIR"); d != "" {
		add(ClientOpencode, ScopeUser, e.join(d, "opencode.json"), shapeOpencode)
		add(ClientOpencode, ScopeUser, e.join(d, "opencode.jsonc"), shapeOpencode)
	}
	var ocManaged string
	switch e.OS {
	case "darwin":
		ocManaged = e.system("/Library/Application Support/opencode")
	case "windows":
		ocManaged = e.join(e.programData(), "opencode")
	default:
		ocManaged = e.system("/etc/opencode")
	}
	add(ClientOpencode, ScopeManaged, e.join(ocManaged, "opencode.json"), shapeOpencode)
	add(ClientOpencode, ScopeManaged, e.join(ocManaged, "opencode.jsonc"), shapeOpencode)
	// Projects opencode was used in: before its SQLite database, one JSON
	// file per project under $XDG_DATA_HOME/opencode/storage/project, with
	// the project's worktree (agent-scan opencode.py reads the database;
	// session tools read these files). Both data roots, as for config.
	dataRoots := []string{e.home(".local", "share")}
	if d := e.getenv("XDG_DATA_HOME"); d != "" && e.OS != "windows" && filepath.Clean(d) != dataRoots[0] {
		dataRoots = append([]string{d}, dataRoots...)
	}
	for _, d := range dataRoots {
		addGlob(ClientOpencode, ScopeUser, e.join(d, "opencode", "storage", "project", "*.json"), shapeOpencodeProject)
	}

	// Kiro: user settings and agent files with inline mcpServers.
	add(ClientKiro, ScopeUser, e.home(".kiro", "settings", "mcp.json"), shapeMCPServers)
	addGlob(ClientKiro, ScopeUser, e.home(".kiro", "agents", "*.json"), shapeMCPServers)

	// GitHub Copilot CLI: $COPILOT_HOME/mcp-config.json.
	copilotHome := e.home(".copilot")
	if d := e.getenv("COPILOT_HOME"); d != "" {
		copilotHome = d
	}
	add(ClientCopilotCLI, ScopeUser, e.join(copilotHome, "mcp-config.json"), shapeMCPServers)
	// Installed plugins (installed-plugins/<marketplace>/<plugin>/) bring
	// .mcp.json files or a plugin.json naming them; permissions-config.json
	// keys the projects Copilot was used in (agent-scan github_copilot.py,
	// after the Copilot CLI config-dir reference).
	s = append(s, source{client: ClientCopilotCLI, scope: ScopeUser, path: e.join(copilotHome, "installed-plugins"), shape: shapePlugin, walk: []string{".mcp.json", "plugin.json"}})
	add(ClientCopilotCLI, ScopeUser, e.join(copilotHome, "permissions-config.json"), shapeCopilotPermissions)
	if d := e.getenv("XDG_CONFIG_HOME"); d != "" && e.getenv("COPILOT_HOME") == "" {
		add(ClientCopilotCLI, ScopeUser, e.join(d, "mcp-config.json"), shapeMCPServers)
	}

	s = append(s, moreUserSources(e, ud)...)

	// Workspaces the VS Code-family editors remember.
	for _, app := range vscodeFamily {
		s = append(s, source{
			client: app.client, scope: ScopeUser, shape: shapeWorkspaceStorage, glob: true,
			path: e.join(ud, app.dir, "User", "workspaceStorage", "*", "workspace.json"), app: app.dir,
		})
	}
	return withDefaultConfigRoot(e, s)
}

// withDefaultConfigRoot adds, for every file under $XDG_CONFIG_HOME, the
// same file under ~/.config. XDG_CONFIG_HOME belongs to a session, not to
// the machine: a scan run by a timer or an MDM agent does not see the one a
// desktop session exports, an editor started from the dock does not see
// the shell's, and install tools (install-mcp for Zed and opencode, add-mcp
// for opencode) write ~/.config whatever it is set to. Reading both roots
// misses neither.
func withDefaultConfigRoot(e Env, s []source) []source {
	x := e.getenv("XDG_CONFIG_HOME")
	def := e.home(".config")
	if x == "" || e.OS == "windows" || filepath.Clean(x) == def {
		return s
	}
	x = filepath.Clean(x)
	have := make(map[string]bool, len(s))
	for _, src := range s {
		have[src.client+"\x00"+src.path] = true
	}
	out := s
	for _, src := range s {
		rel, ok := strings.CutPrefix(src.path, x+string(filepath.Separator))
		if !ok {
			continue
		}
		c := src
		c.path = filepath.Join(def, rel)
		if !have[c.client+"\x00"+c.path] {
			have[c.client+"\x00"+c.path] = true
			out = append(out, c)
		}
	}
	return out
}

// projectFile is a config file a client reads relative to a project root.
type projectFile struct {
	client string
	rel    []string
	shape  shape
	glob   bool
}

// projectFiles are the per-project config files, relative to a root.
var projectFiles = []projectFile{
	{ClientClaudeCode, []string{".mcp.json"}, shapeMCPServers, false},
	{ClientClaudeCode, []string{".claude", "settings.json"}, shapeClaudeSettings, false},
	{ClientClaudeCode, []string{".claude", "settings.local.json"}, shapeClaudeSettings, false},
	{ClientCursor, []string{".cursor", "mcp.json"}, shapeMCPServers, false},
	{ClientVSCode, []string{".vscode", "mcp.json"}, shapeVSCodeMCP, false},
	{ClientVSCode, []string{".vscode", "settings.json"}, shapeVSCodeSettings, false},
	{ClientVSCode, []string{".devcontainer", "devcontainer.json"}, shapeDevcontainer, false},
	{ClientZed, []string{".zed", "settings.json"}, shapeZed, false},
	{ClientGeminiCLI, []string{".gemini", "settings.json"}, shapeMCPServers, false},
	// Workspace extensions (Gemini CLI docs/extension.md: <workspace>/.gemini/extensions).
	{ClientGeminiCLI, []string{".gemini", "extensions", "*", "gemini-extension.json"}, shapeMCPServers, true},
	{ClientCodex, []string{".codex", "config.toml"}, shapeCodex, false},
	{ClientContinue, []string{".continue", "mcpServers", "*"}, shapeContinueBlock, true},
	{ClientOpencode, []string{"opencode.json"}, shapeOpencode, false},
	{ClientOpencode, []string{"opencode.jsonc"}, shapeOpencode, false},
	{ClientKiro, []string{".kiro", "settings", "mcp.json"}, shapeMCPServers, false},
}

// allProjectFiles are every client's project files, in report order.
var allProjectFiles = append(append(append([]projectFile{}, projectFiles...), moreProjectFiles...), pipelineProjectFiles...)

// projectSources lists the project-scope files under root.
func projectSources(e Env, root string) []source {
	out := make([]source, 0, len(allProjectFiles))
	for _, pf := range allProjectFiles {
		out = append(out, source{
			client: pf.client, scope: ScopeProject, shape: pf.shape, glob: pf.glob,
			path: e.join(append([]string{root}, pf.rel...)...), project: root,
		})
	}
	return out
}
