package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// Cross-checks against real clients: the same fake home is read by the
// client itself (claude mcp list, codex mcp list --json) and by mcpgov scan,
// and the two views of the configured servers must agree.

// haveProgram is the script condition [have:PROG]: PROG is on PATH. When
// MCPGOV_E2E is set (make test sets it after installing the real clients) a
// missing PROG is an error, so a script cannot skip silently in CI.
func haveProgram(prog string) (bool, error) {
	if _, err := exec.LookPath(prog); err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			return false, fmt.Errorf("%s is not installed but MCPGOV_E2E is set; run make e2e-deps", prog)
		}
		return false, nil
	}
	return true, nil
}

// scanServer is the part of mcpgov's JSON inventory the cross-checks compare.
type scanServer struct {
	Client    string   `json:"client"`
	Scope     string   `json:"scope"`
	Name      string   `json:"name"`
	Transport string   `json:"transport"`
	Command   string   `json:"command"`
	Args      []string `json:"args"`
	URL       string   `json:"url"`
	Env       []string `json:"env"`
	Disabled  bool     `json:"disabled"`
}

func readScan(ts *testscript.TestScript, file, client string) []scanServer {
	var rep struct {
		Servers []scanServer `json:"servers"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(file)), &rep))
	var out []scanServer
	for _, s := range rep.Servers {
		if s.Client == client {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		ts.Fatalf("%s has no %s servers; the cross-check would compare nothing", file, client)
	}
	return out
}

// crosscheck-claude LIST_OUTPUT SCAN_JSON compares `claude mcp list` with
// mcpgov's claude-code servers: same names, same command line or URL and
// transport. Claude shows one entry per name (local over project over user)
// and omits rejected project servers, which mcpgov reports as disabled.
func cmdCrosscheckClaude(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: crosscheck-claude LIST_OUTPUT SCAN_JSON")
	}
	claude := map[string]string{}
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		name, rest, ok := strings.Cut(line, ": ")
		i := strings.LastIndex(rest, " - ")
		if !ok || i < 0 || strings.Contains(name, " ") {
			continue
		}
		claude[name] = strings.TrimSpace(rest[:i])
	}
	rank := map[string]int{"user": 1, "project": 2, "local": 3}
	best := map[string]scanServer{}
	for _, s := range readScan(ts, args[1], "claude-code") {
		if s.Disabled {
			continue
		}
		if prev, ok := best[s.Name]; !ok || rank[s.Scope] > rank[prev.Scope] {
			best[s.Name] = s
		}
	}
	mcpgov := map[string]string{}
	for name, s := range best {
		switch s.Transport {
		case "stdio":
			mcpgov[name] = strings.TrimSpace(s.Command + " " + strings.Join(s.Args, " "))
		default:
			mcpgov[name] = s.URL + " (" + strings.ToUpper(s.Transport) + ")"
		}
	}
	compareViews(ts, "claude mcp list", claude, mcpgov)
}

// crosscheck-codex LIST_JSON SCAN_JSON compares `codex mcp list --json` with
// mcpgov's codex servers: names, enabled, transport, command, args, URL and
// environment variable names.
func cmdCrosscheckCodex(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: crosscheck-codex LIST_JSON SCAN_JSON")
	}
	var list []struct {
		Name      string `json:"name"`
		Enabled   bool   `json:"enabled"`
		Transport struct {
			Type    string            `json:"type"`
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
			EnvVars []string          `json:"env_vars"`
			URL     string            `json:"url"`
		} `json:"transport"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &list))
	codex := map[string]string{}
	for _, c := range list {
		env := append([]string{}, c.Transport.EnvVars...)
		for k := range c.Transport.Env {
			env = append(env, k)
		}
		typ := map[string]string{"stdio": "stdio", "streamable_http": "http"}[c.Transport.Type]
		codex[c.Name] = describe(c.Enabled, typ, c.Transport.Command, c.Transport.Args, c.Transport.URL, env)
	}
	mcpgov := map[string]string{}
	for _, s := range readScan(ts, args[1], "codex") {
		mcpgov[s.Name] = describe(!s.Disabled, s.Transport, s.Command, s.Args, s.URL, s.Env)
	}
	compareViews(ts, "codex mcp list", codex, mcpgov)
}

func describe(enabled bool, transport, command string, args []string, url string, env []string) string {
	env = append([]string{}, env...)
	sort.Strings(env)
	return fmt.Sprintf("enabled=%t transport=%s command=%q args=%q url=%q env=%q", enabled, transport, command, args, url, env)
}

func compareViews(ts *testscript.TestScript, client string, theirs, ours map[string]string) {
	var diffs []string
	for name, want := range theirs {
		got, ok := ours[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s lists %q (%s); mcpgov scan does not", client, name, want))
		case got != want:
			diffs = append(diffs, fmt.Sprintf("%q: %s says %s; mcpgov scan says %s", name, client, want, got))
		}
	}
	for name, got := range ours {
		if _, ok := theirs[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("mcpgov scan reports %q (%s); %s does not", name, got, client))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		ts.Fatalf("views disagree:\n  %s", strings.Join(diffs, "\n  "))
	}
	ts.Logf("%s and mcpgov scan agree on %d servers", client, len(theirs))
}
