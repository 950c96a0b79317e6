package scan

// The clients below are the ones the install tools (add-mcp, install-mcp)
// and the peers' client tables (ToolHive pkg/client, snyk agent-scan) know
// beyond the first thirteen. Every path is one a peer writes or reads; the
// README's client table names which.

// moreUserSources lists the user and managed files of those clients; ud is
// the per-user application data root (Env.userData).
func moreUserSources(e Env, ud string) []source {
	var s []source
	add := func(client string, path string, sh shape) {
		s = append(s, source{client: client, scope: ScopeUser, path: path, shape: sh})
	}
	addGlob := func(client string, path string, sh shape) {
		s = append(s, source{client: client, scope: ScopeUser, path: path, shape: sh, glob: true})
	}

	// Goose: extensions in config.yaml. add-mcp: XDG on Linux, ~/.config on
	// macOS, %APPDATA%\Block\goose\config on Windows; ToolHive: ~\AppData\
	// Block\goose on Windows; install-mcp: ~/.config/goose everywhere.
	if e.OS == "windows" {
		add(ClientGoose, e.join(ud, "Block", "goose", "config", "config.yaml"), shapeGoose)
		add(ClientGoose, e.home("AppData", "Block", "goose", "config.yaml"), shapeGoose)
	} else {
		add(ClientGoose, e.join(e.xdgConfig(), "goose", "config.yaml"), shapeGoose)
	}
	if p := e.home(".config", "goose", "config.yaml"); e.OS == "windows" || p != e.join(e.xdgConfig(), "goose", "config.yaml") {
		add(ClientGoose, p, shapeGoose)
	}

	// Antigravity: the IDE's file (ToolHive, agent-scan), the one its CLI and
	// IDE share (add-mcp, agent-scan), the separate IDE build's
	// antigravity-ide (a public installer's client table), and the editor
	// settings of both app names (agent-scan).
	add(ClientAntigravity, e.home(".gemini", "antigravity", "mcp_config.json"), shapeMCPServers)
	add(ClientAntigravity, e.home(".gemini", "config", "mcp_config.json"), shapeMCPServers)
	add(ClientAntigravity, e.home(".gemini", "antigravity-ide", "mcp_config.json"), shapeMCPServers)
	for _, app := range []string{"Antigravity", "Antigravity IDE"} {
		add(ClientAntigravity, e.join(ud, app, "User", "settings.json"), shapeVSCodeSettings)
		// The editor's own User/mcp.json, as in every VS Code fork
		// (public client path tables), in either spelling.
		add(ClientAntigravity, e.join(ud, app, "User", "mcp.json"), shapeExtensionMCP)
	}

	// Kilo Code CLI: $XDG_CONFIG_HOME/kilo (add-mcp; the extension's
	// storage is in extensionStorage).
	kilo := e.join(e.home(".config"), "kilo")
	if v := e.getenv("XDG_CONFIG_HOME"); v != "" {
		kilo = e.join(v, "kilo")
	}
	add(ClientKiloCode, e.join(kilo, "kilo.json"), shapeOpencode)
	add(ClientKiloCode, e.join(kilo, "kilo.jsonc"), shapeOpencode)

	// Amp: its CLI settings (ToolHive: ~/.config/amp, %APPDATA%\amp) and the
	// amp.mcpServers block of the editors its extension runs in.
	if e.OS == "windows" {
		add(ClientAmp, e.join(ud, "amp", "settings.json"), shapeAmp)
	} else {
		add(ClientAmp, e.home(".config", "amp", "settings.json"), shapeAmp)
	}
	for _, app := range []string{"Code", "Code - Insiders", "Cursor", "Windsurf"} {
		add(ClientAmp, e.join(ud, app, "User", "settings.json"), shapeAmp)
	}

	// LM Studio (ToolHive), Trae (ToolHive), Mistral Vibe (ToolHive),
	// Factory Droid (ToolHive).
	add(ClientLMStudio, e.home(".lmstudio", "mcp.json"), shapeMCPServers)
	add(ClientTrae, e.join(ud, "Trae", "User", "mcp.json"), shapeMCPServers)
	add(ClientMistralVibe, e.home(".vibe", "config.toml"), shapeVibe)
	add(ClientFactory, e.home(".factory", "mcp.json"), shapeMCPServers)

	// Kimi: Kimi CLI ~/.kimi (ToolHive), Kimi Code $KIMI_CODE_HOME or
	// ~/.kimi-code (add-mcp).
	add(ClientKimi, e.home(".kimi", "mcp.json"), shapeMCPServers)
	kimi := e.home(".kimi-code")
	if d := e.getenv("KIMI_CODE_HOME"); d != "" {
		kimi = d
	}
	add(ClientKimi, e.join(kimi, "mcp.json"), shapeMCPServers)

	// Qoder: agent sessions read ~/.qoder/mcp.json, the editor its
	// User/mcp.json, the CLI ~/.qoder.json.
	add(ClientQoder, e.home(".qoder", "mcp.json"), shapeMCPServers)
	add(ClientQoder, e.join(ud, "Qoder", "User", "mcp.json"), shapeVSCodeMCP)
	add(ClientQoder, e.home(".qoder.json"), shapeMCPServers)

	// Amazon Q Developer CLI (agent-scan): no Windows build.
	if e.OS != "windows" {
		add(ClientAmazonQ, e.home(".aws", "amazonq", "mcp.json"), shapeMCPServers)
		addGlob(ClientAmazonQ, e.home(".aws", "amazonq", "agents", "*.json"), shapeMCPServers)
	}

	// Grok Build: $GROK_HOME or ~/.grok (add-mcp).
	grok := e.home(".grok")
	if d := e.getenv("GROK_HOME"); d != "" {
		grok = d
	}
	add(ClientGrok, e.join(grok, "config.toml"), shapeCodex)

	// Mastra Code, MCPorter (add-mcp).
	add(ClientMastra, e.home(".mastracode", "mcp.json"), shapeMCPServers)
	add(ClientMCPorter, e.home(".mcporter", "mcporter.json"), shapeMCPServers)
	add(ClientMCPorter, e.home(".mcporter", "mcporter.jsonc"), shapeMCPServers)

	// Pi: $PI_CODING_AGENT_DIR or ~/.pi/agent (add-mcp).
	pi := e.home(".pi", "agent")
	if d := e.getenv("PI_CODING_AGENT_DIR"); d != "" {
		pi = d
	}
	add(ClientPi, e.join(pi, "mcp.json"), shapeMCPServers)

	// Witsy (per-user app data) and Enconvo (~/.config on every OS):
	// install-mcp.
	add(ClientWitsy, e.join(ud, "Witsy", "settings.json"), shapeMCPServers)
	add(ClientEnconvo, e.home(".config", "enconvo", "mcp_config.json"), shapeMCPServers)

	// fx reads only its trusted global profile (add-mcp).
	add(ClientFx, e.home(".fx", "mcp.json"), shapeOpencode)

	// VS Code's Copilot harness reads the portable file Copilot CLI keeps
	// (vscode-docs agents/reference/mcp-configuration.md).
	copilotHome := e.home(".copilot")
	if d := e.getenv("COPILOT_HOME"); d != "" {
		copilotHome = d
	}
	add(ClientVSCode, e.join(copilotHome, "mcp-config.json"), shapeMCPServers)

	// GitHub Copilot in JetBrains IDEs: github-copilot/intellij/mcp.json
	// with VS Code's "servers" (ToolHive jetbrains-copilot: ~/.config on
	// Linux and macOS, %LOCALAPPDATA% on Windows; public installers' client
	// tables add Application Support on macOS).
	switch e.OS {
	case "windows":
		local := e.getenv("LOCALAPPDATA")
		if local == "" {
			local = e.home("AppData", "Local")
		}
		add(ClientJetBrains, e.join(local, "github-copilot", "intellij", "mcp.json"), shapeVSCodeMCP)
	case "darwin":
		add(ClientJetBrains, e.join(ud, "github-copilot", "intellij", "mcp.json"), shapeVSCodeMCP)
		fallthrough
	default:
		add(ClientJetBrains, e.join(e.xdgConfig(), "github-copilot", "intellij", "mcp.json"), shapeVSCodeMCP)
	}

	// Junie, JetBrains' agent: ~/.junie/mcp/mcp.json (a JetBrains plugin's
	// agent table).
	add(ClientJunie, e.home(".junie", "mcp", "mcp.json"), shapeMCPServers)

	// Qwen Code, a Gemini CLI fork: ~/.qwen/settings.json.
	add(ClientQwenCode, e.home(".qwen", "settings.json"), shapeMCPServers)

	// Visual Studio (Windows only): %USERPROFILE%\.mcp.json with "servers"
	// (learn.microsoft.com visualstudio/ide/mcp-servers).
	if e.OS == "windows" {
		add(ClientVisualStudio, e.home(".mcp.json"), shapeVSCodeMCP)
	}
	return s
}

// moreProjectFiles are the project files of those clients and the project
// files of earlier clients the peers added.
var moreProjectFiles = []projectFile{
	// GitHub Copilot CLI reads .github/mcp.json and the .mcp.json Claude
	// Code reads (add-mcp).
	{ClientCopilotCLI, []string{".mcp.json"}, shapeMCPServers, false},
	{ClientCopilotCLI, []string{".github", "mcp.json"}, shapeMCPServers, false},
	{ClientWindsurf, []string{".windsurf", "mcp.json"}, shapeMCPServers, false},
	// opencode: .opencode/ (add-mcp) and the legacy .opencode.json
	// (install-mcp).
	{ClientOpencode, []string{".opencode", "opencode.json"}, shapeOpencode, false},
	{ClientOpencode, []string{".opencode", "opencode.jsonc"}, shapeOpencode, false},
	{ClientOpencode, []string{".opencode.json"}, shapeOpencode, false},
	{ClientKiloCode, []string{"kilo.json"}, shapeOpencode, false},
	{ClientKiloCode, []string{"kilo.jsonc"}, shapeOpencode, false},
	{ClientKiloCode, []string{".kilo", "kilo.json"}, shapeOpencode, false},
	{ClientKiloCode, []string{".kilo", "kilo.jsonc"}, shapeOpencode, false},
	{ClientKiloCode, []string{".kilocode", "kilo.json"}, shapeOpencode, false},
	{ClientKiloCode, []string{".kilocode", "kilo.jsonc"}, shapeOpencode, false},
	{ClientRooCode, []string{".roo", "mcp.json"}, shapeMCPServers, false},
	{ClientAmazonQ, []string{".amazonq", "mcp.json"}, shapeMCPServers, false},
	{ClientKimi, []string{".kimi-code", "mcp.json"}, shapeMCPServers, false},
	{ClientGrok, []string{".grok", "config.toml"}, shapeCodex, false},
	{ClientMastra, []string{".mastracode", "mcp.json"}, shapeMCPServers, false},
	{ClientMCPorter, []string{"config", "mcporter.json"}, shapeMCPServers, false},
	{ClientPi, []string{".pi", "mcp.json"}, shapeMCPServers, false},
	// VS Code's Copilot harness reads the portable .mcp.json at the
	// workspace root (vscode-docs).
	{ClientVSCode, []string{".mcp.json"}, shapeMCPServers, false},
	{ClientJunie, []string{".junie", "mcp", "mcp.json"}, shapeMCPServers, false},
	{ClientQwenCode, []string{".qwen", "settings.json"}, shapeMCPServers, false},
	// Visual Studio: the solution's .mcp.json and .vs/mcp.json with
	// "servers" (learn.microsoft.com visualstudio/ide/mcp-servers).
	{ClientVisualStudio, []string{".mcp.json"}, shapeVSCodeMCP, false},
	{ClientVisualStudio, []string{".vs", "mcp.json"}, shapeVSCodeMCP, false},
	// Trae's project file (.trae/mcp.json).
	{ClientTrae, []string{".trae", "mcp.json"}, shapeMCPServers, false},
}
