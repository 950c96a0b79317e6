package scan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The install tools add-mcp and install-mcp (npm, pinned in
// testdata/e2e/package.json; `make e2e-deps` puts them on PATH) write MCP
// configs for every client they support. They run offline: each writes a
// stdio and a remote server, globally and into a project, for every client
// it knows, into an empty HOME; the scan must then find every server they
// wrote with the right client, scope and transport, in the layouts of
// Linux, macOS and Windows.

// written is one server an install tool wrote, as the scan must report it.
type written struct {
	client    string
	scope     Scope
	name      string
	transport Transport
}

// installTarget is one client of an install tool and what mcpgov calls it.
type installTarget struct {
	agent  string // the tool's name for the client
	client string // mcpgov's client id
	local  bool   // the tool can write a project file for it
	remote bool   // the tool writes remote servers for it
	// bridged: the tool writes a remote server as `npx mcp-remote URL`, a
	// stdio entry for the client.
	bridged bool
}

// addMCPTargets are add-mcp 2.4.0's agents (`add-mcp list-agents`).
var addMCPTargets = []installTarget{
	{"antigravity", ClientAntigravity, false, true, false},
	{"cline", ClientCline, false, true, false},
	{"cline-cli", ClientCline, false, true, false},
	{"claude-code", ClientClaudeCode, true, true, false},
	{"claude-desktop", ClientClaudeDesktop, false, false, false},
	{"codex", ClientCodex, true, true, false},
	{"cursor", ClientCursor, true, true, false},
	{"fx", ClientFx, false, true, false},
	{"gemini-cli", ClientGeminiCLI, true, true, false},
	{"goose", ClientGoose, false, true, false},
	{"github-copilot-cli", ClientCopilotCLI, true, true, false},
	{"grok-build", ClientGrok, true, true, false},
	{"kilo-code", ClientKiloCode, true, true, false},
	{"kimi-code", ClientKimi, true, true, false},
	{"kiro-cli", ClientKiro, true, true, false},
	{"mastracode", ClientMastra, true, true, false},
	{"mcporter", ClientMCPorter, true, true, false},
	{"opencode", ClientOpencode, true, true, false},
	{"pi", ClientPi, true, true, false},
	{"vscode", ClientVSCode, true, true, false},
	{"windsurf", ClientWindsurf, false, true, false},
	{"zed", ClientZed, true, true, false},
}

// installMCPTargets are install-mcp 1.10.2's clients with a config file
// (warp only prints a snippet to paste).
var installMCPTargets = []installTarget{
	{"claude", ClientClaudeDesktop, false, true, true},
	{"cline", ClientCline, false, true, true},
	{"roo-cline", ClientRooCode, false, true, true},
	{"windsurf", ClientWindsurf, false, true, true},
	{"witsy", ClientWitsy, false, true, true},
	{"enconvo", ClientEnconvo, false, true, true},
	{"cursor", ClientCursor, true, true, true},
	{"gemini-cli", ClientGeminiCLI, true, true, true},
	{"vscode", ClientVSCode, true, true, true},
	{"claude-code", ClientClaudeCode, true, true, true},
	{"goose", ClientGoose, false, true, true},
	{"zed", ClientZed, false, true, true},
	{"codex", ClientCodex, false, true, true},
	{"opencode", ClientOpencode, true, true, false}, // install-mcp turns the bridge into a remote entry
}

const (
	installPackage = "@acme/demo-mcp@1.2.3"
	installURL     = "https://mcp.example.com/mcp"
)

// lookInstaller finds an install tool on PATH; missing, the test skips,
// except under MCPGOV_E2E (make test), where it fails.
func lookInstaller(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatalf("%s is not installed but MCPGOV_E2E is set; run make e2e-deps", name)
		}
		t.Skipf("%s is not installed; make test installs it into .cache/npm", name)
	}
	return p
}

// installEnv is a clean environment with only HOME pointing at the
// temporary home: none of the clients' overrides, so the tools write their
// defaults. On a platform other than the running one, pl.preload makes
// Node report pl.node as process.platform, which is all both tools consult
// to pick their macOS and Windows paths.
func installEnv(home string, pl installPlatform) []string {
	env := []string{"HOME=" + home, "USERPROFILE=" + home, "NO_UPDATE_NOTIFIER=1", "NO_COLOR=1", "CI=1"}
	for _, k := range []string{"PATH", "TMPDIR", "SYSTEMROOT"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range pl.vars(home) {
		env = append(env, k+"="+v)
	}
	if pl.preload != "" {
		env = append(env, "NODE_OPTIONS=--require "+pl.preload, "MCPGOV_NODE_PLATFORM="+pl.node)
	}
	return env
}

func runInstaller(dir, home string, pl installPlatform, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = installEnv(home, pl)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return nil
}

func serverName(t installTarget, local bool, remote bool) string {
	n := t.agent
	if local {
		n += "-project"
	} else {
		n += "-user"
	}
	if remote {
		return n + "-remote"
	}
	return n + "-stdio"
}

func wantFor(t installTarget, local, remote bool, name string) written {
	w := written{client: t.client, scope: ScopeUser, name: name, transport: TransportStdio}
	if local {
		w.scope = ScopeProject
	}
	if remote && !t.bridged {
		w.transport = TransportHTTP
	}
	return w
}

// checkWritten scans home (with proj as the working directory) and reports
// every written server the scan missed or reported differently.
func checkWritten(t *testing.T, tool string, pl installPlatform, home, proj string, want []written) {
	t.Helper()
	var fsys FS
	vars := pl.vars(home)
	getenv := func(k string) string { return vars[k] }
	if pl.goos == "windows" && runtime.GOOS != "windows" {
		fsys = slashFS{}
		getenv = func(k string) string { return fromSlash(vars[k]) }
	}
	rep, err := Scan(context.Background(), Options{
		Env:     Env{OS: pl.goos, Home: home, Getenv: getenv},
		FS:      fsys,
		WorkDir: proj,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Errors {
		t.Errorf("%s: scan error %s: %s", tool, e.File, e.Message)
	}
	type key struct {
		client string
		scope  Scope
		name   string
	}
	got := map[key]Server{}
	byName := map[string][]Server{}
	for _, s := range rep.Servers {
		got[key{s.Client, s.Scope, s.Name}] = s
		byName[s.Name] = append(byName[s.Name], s)
	}
	found := 0
	var missing []string
	for _, w := range want {
		s, ok := got[key{w.client, w.scope, w.name}]
		switch {
		case !ok:
			var seen []string
			for _, o := range byName[w.name] {
				seen = append(seen, fmt.Sprintf("%s/%s", o.Client, o.Scope))
			}
			missing = append(missing, fmt.Sprintf("%s %s %s: not found (seen as: %s)", w.client, w.scope, w.name, strings.Join(seen, ", ")))
		case s.Transport != w.transport:
			missing = append(missing, fmt.Sprintf("%s %s %s: transport %s, want %s", w.client, w.scope, w.name, s.Transport, w.transport))
		default:
			found++
		}
	}
	sort.Strings(missing)
	t.Logf("%s (%s): scan found %d of the %d servers it wrote", tool, pl.name, found, len(want))
	for _, m := range missing {
		t.Errorf("%s (%s): %s", tool, pl.name, m)
	}
}

func TestScanFindsWhatAddMCPWrites(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the install tools' Linux and macOS paths are what is checked")
	}
	bin := lookInstaller(t, "add-mcp")
	for _, pl := range installPlatforms(t) {
		t.Run(pl.name, func(t *testing.T) { addMCPWrites(t, bin, pl) })
	}
}

func addMCPWrites(t *testing.T, bin string, pl installPlatform) {
	home := filepath.Join(t.TempDir(), "home")
	proj := filepath.Join(home, "src", "proj")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	var want []written
	// One run per scope and transport, to every agent that takes it; an
	// agent whose client another agent of the run already writes for
	// (cline-cli beside cline) goes in a second run under another name.
	for _, local := range []bool{false, true} {
		for _, remote := range []bool{false, true} {
			rest := addMCPTargets
			for batch := 0; len(rest) > 0; batch++ {
				args := []string{installPackage}
				if remote {
					args = []string{installURL}
				}
				name := serverName(installTarget{agent: fmt.Sprintf("add-mcp%d", batch)}, local, remote)
				clients := map[string]bool{}
				var later []installTarget
				for _, tg := range rest {
					if local && !tg.local || remote && !tg.remote {
						continue
					}
					if clients[tg.client] {
						later = append(later, tg)
						continue
					}
					clients[tg.client] = true
					args = append(args, "-a", tg.agent)
					want = append(want, wantFor(tg, local, remote, name))
				}
				rest = later
				args = append(args, "-n", name, "-y")
				if !local {
					args = append(args, "-g")
				}
				if err := runInstaller(proj, home, pl, bin, args...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	checkLayout(t, pl, home)
	checkOverrides(t, pl, home, "XDG_CONFIG_HOME", "CLINE_DIR", "CODEX_HOME", "GROK_HOME", "KIMI_CODE_HOME", "PI_CODING_AGENT_DIR", "APPDATA")
	checkWritten(t, "add-mcp", pl, home, proj, want)
}

func TestScanFindsWhatInstallMCPWrites(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the install tools' Linux and macOS paths are what is checked")
	}
	bin := lookInstaller(t, "install-mcp")
	for _, pl := range installPlatforms(t) {
		t.Run(pl.name, func(t *testing.T) { installMCPWrites(t, bin, pl) })
	}
}

func installMCPWrites(t *testing.T, bin string, pl installPlatform) {
	home := filepath.Join(t.TempDir(), "home")
	proj := filepath.Join(home, "src", "proj")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		want []written
		wg   sync.WaitGroup
	)
	// install-mcp takes one client per run. Clients write distinct files,
	// so they run side by side; one client's runs go in order.
	work := make(chan installTarget)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tg := range work {
				for _, local := range []bool{false, true} {
					for _, remote := range []bool{false, true} {
						if local && !tg.local {
							continue
						}
						name := serverName(tg, local, remote)
						target := "npx " + installPackage
						if remote {
							target = installURL
						}
						args := []string{target, "--client", tg.agent, "--name", name, "--yes", "--oauth", "no"}
						if local {
							args = append(args, "--local")
						}
						if err := runInstaller(proj, home, pl, bin, args...); err != nil {
							t.Error(err)
							continue
						}
						mu.Lock()
						want = append(want, wantFor(tg, local, remote, name))
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, tg := range installMCPTargets {
		work <- tg
	}
	close(work)
	wg.Wait()
	checkLayout(t, pl, home)
	checkOverrides(t, pl, home, "XDG_CONFIG_HOME", "CODEX_HOME", "APPDATA")
	checkWritten(t, "install-mcp", pl, home, proj, want)
}

// TestAddMCPTargetsAreTheToolsAgents keeps addMCPTargets equal to the agents
// add-mcp itself lists, with their project support, so an agent the tool
// gains is a failing test rather than a silent gap.
func TestAddMCPTargetsAreTheToolsAgents(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the install tools' Linux and macOS paths are what is checked")
	}
	bin := lookInstaller(t, "add-mcp")
	home := t.TempDir()
	cmd := exec.Command(bin, "list-agents")
	cmd.Env = installEnv(home, installPlatform{})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("add-mcp list-agents: %v\n%s", err, out)
	}
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	got := map[string]bool{} // agent → project support
	for _, l := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[len(f)-1] != "✓" && f[len(f)-1] != "-" {
			continue
		}
		got[f[0]] = f[len(f)-2] == "✓"
	}
	t.Logf("add-mcp lists %d agents", len(got))
	want := map[string]bool{}
	for _, tg := range addMCPTargets {
		want[tg.agent] = tg.local
	}
	if len(got) == 0 {
		t.Fatalf("no agents in add-mcp list-agents output:\n%s", out)
	}
	for a, local := range got {
		if w, ok := want[a]; !ok {
			t.Errorf("add-mcp lists agent %s, which addMCPTargets does not test", a)
		} else if w != local {
			t.Errorf("agent %s: add-mcp project support %v, addMCPTargets says %v", a, local, w)
		}
	}
	for a := range want {
		if _, ok := got[a]; !ok {
			t.Errorf("addMCPTargets tests %s, which add-mcp no longer lists", a)
		}
	}
}

// TestInstallMCPTargetsAreTheToolsClients keeps installMCPTargets equal to
// the clients install-mcp accepts (its error for an unknown client lists
// them); warp is the one it only prints a snippet for.
func TestInstallMCPTargetsAreTheToolsClients(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the install tools' Linux and macOS paths are what is checked")
	}
	bin := lookInstaller(t, "install-mcp")
	cmd := exec.Command(bin, "x", "--client", "no-such-client", "--yes")
	cmd.Env = installEnv(t.TempDir(), installPlatform{})
	out, _ := cmd.CombinedOutput()
	_, list, ok := strings.Cut(string(out), "Available clients:")
	if !ok {
		t.Fatalf("install-mcp did not list its clients:\n%s", out)
	}
	got := map[string]bool{}
	for _, c := range strings.Split(strings.TrimSpace(strings.SplitN(list, "\n", 2)[0]), ",") {
		got[strings.TrimSpace(c)] = true
	}
	want := map[string]bool{"warp": true}
	for _, tg := range installMCPTargets {
		want[tg.agent] = true
	}
	for c := range got {
		if !want[c] {
			t.Errorf("install-mcp accepts client %s, which installMCPTargets does not test", c)
		}
	}
	for c := range want {
		if !got[c] {
			t.Errorf("installMCPTargets tests %s, which install-mcp no longer accepts", c)
		}
	}
	t.Logf("install-mcp accepts %d clients", len(got))
}
