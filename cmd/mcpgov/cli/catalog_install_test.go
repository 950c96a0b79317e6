package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli/tui"
)

const installCatalog = `[catalog]
mode = "enforce"

[servers.tickets]
title = "Tickets"
owner = "collab"
status = "approved"
groups = ["eng"]
data_scope = ["tickets"]
[servers.tickets.launch]
command = "tickets-mcp"
args = ["serve"]
env = ["TICKETS_TOKEN", "REGION"]

[servers.hr]
status = "approved"
groups = ["people-ops"]
data_scope = ["personal-data"]
[servers.hr.launch]
command = "hr-mcp"

[servers.draft]
status = "pending"
[servers.draft.launch]
command = "draft-mcp"
`

// installEnv is a sandbox: a home, a bundle, a project directory, and a
// Factory whose streams are buffers.
type installEnv struct {
	f        *Factory
	home     string
	proj     string
	in       *bytes.Buffer
	out, err *bytes.Buffer
	mcpgov   string // a stand-in for the installed binary: it answers `version`
}

func newInstallEnv(t *testing.T) *installEnv {
	t.Helper()
	dir := t.TempDir()
	e := &installEnv{home: filepath.Join(dir, "home"), proj: filepath.Join(dir, "proj"), mcpgov: filepath.Join(dir, "mcpgov")}
	if err := os.WriteFile(e.mcpgov, []byte("#!/bin/sh\necho \"mcpgov version test\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	gov := filepath.Join(dir, "gov")
	for _, d := range []string{e.home, e.proj, gov} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(gov, "catalog.toml"), []byte(installCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOME": e.home, "XDG_CONFIG_HOME": filepath.Join(e.home, ".config"), "XDG_STATE_HOME": filepath.Join(e.home, ".local", "state"),
		"MCPGOV_BUNDLE": gov, "MCPGOV_MANAGED_CONFIG": filepath.Join(dir, "managed.toml"),
	}
	io, in, out, errOut := TestStreams()
	e.in, e.out, e.err = in, out, errOut
	e.f = &Factory{IO: io, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC) },
		WorkDir: func() (string, error) { return e.proj, nil }, Version: BuildInfo{Version: "test"}}
	return e
}

func (e *installEnv) opts(id, client string, identity func(context.Context) (audit.Identity, error)) *CatalogInstallOptions {
	return &CatalogInstallOptions{IO: e.f.IO, Factory: e.f, ID: id, Client: client, MCPGovPath: e.mcpgov, Identity: identity}
}

func person(groups ...string) func(context.Context) (audit.Identity, error) {
	return func(context.Context) (audit.Identity, error) {
		return audit.Identity{Subject: "u1", Email: "ann@example.com", Groups: groups, Issuer: "https://idp", Method: "oidc"}, nil
	}
}

func noLogin(context.Context) (audit.Identity, error) {
	return audit.Identity{Method: "none"}, errors.New(`not logged in (profile "default"); run ` + "`mcpgov login`")
}

// fakePrompter answers from a map and records what it was asked.
type fakePrompter struct {
	answers map[string]string
	asked   []string
}

func (p *fakePrompter) Ask(label, def string) (string, error) {
	p.asked = append(p.asked, "ask "+label+" ["+def+"]")
	return p.answer(label), nil
}

func (p *fakePrompter) AskSecret(label string) (string, error) {
	p.asked = append(p.asked, "secret "+label)
	return p.answer(label), nil
}

func (p *fakePrompter) answer(label string) string {
	for k, v := range p.answers {
		if strings.HasPrefix(label, k) {
			return v
		}
	}
	return ""
}

// TestInstallPrompts: on a terminal each input is asked; a secret the
// client cannot reference is read without echo and masked in the output;
// one it can reference is not asked at all.
func TestInstallPrompts(t *testing.T) {
	e := newInstallEnv(t)
	e.f.IO.stdinTTY, e.f.IO.stdoutTTY = true, true
	p := &fakePrompter{answers: map[string]string{"TICKETS_TOKEN": "sk-live-abcdefghijklmnopqrstuvwxyz", "REGION": "eu"}}
	o := e.opts("tickets", "claude-desktop", person("eng"))
	o.Prompter = p
	if err := catalogInstallRun(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, e.err)
	}
	if strings.Join(p.asked, "|") != "secret TICKETS_TOKEN|ask REGION []" {
		t.Errorf("asked %q", p.asked)
	}
	all := e.out.String() + e.err.String()
	if strings.Contains(all, "abcdefghijklmnop") || !strings.Contains(e.out.String(), "TICKETS_TOKEN = (masked) (prompt)") {
		t.Errorf("output leaks or lacks the masked secret:\n%s", all)
	}
	if !strings.Contains(e.err.String(), "claude-desktop cannot refer to a secret kept elsewhere") {
		t.Errorf("no plaintext warning:\n%s", e.err)
	}

	e = newInstallEnv(t)
	e.f.IO.stdinTTY, e.f.IO.stdoutTTY = true, true
	p = &fakePrompter{answers: map[string]string{"REGION": "eu"}}
	o = e.opts("tickets", "cursor", person("eng"))
	o.Prompter = p
	if err := catalogInstallRun(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, e.err)
	}
	if strings.Join(p.asked, "|") != "ask REGION []" {
		t.Errorf("cursor asked %q", p.asked)
	}
	b, _ := os.ReadFile(filepath.Join(e.home, ".cursor", "mcp.json"))
	if !strings.Contains(string(b), `"TICKETS_TOKEN": "${env:TICKETS_TOKEN}"`) {
		t.Errorf("cursor config:\n%s", b)
	}
}

// TestInstallGroups: a logged-in person outside the allowed groups is
// refused (exit 1, nothing written); one inside is allowed; without a
// login the check is reported as not done.
func TestInstallGroups(t *testing.T) {
	e := newInstallEnv(t)
	o := e.opts("hr", "cursor", person("eng"))
	err := catalogInstallRun(context.Background(), o)
	var hinted *HintError
	if exitCode(err) != ExitError || !errors.As(err, &hinted) || !strings.Contains(err.Error(), "may not use hr: it is for people-ops") {
		t.Fatalf("outside the groups: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.home, ".cursor", "mcp.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused install wrote the config")
	}
	o = e.opts("hr", "cursor", person("people-ops"))
	o.JSON = true
	if err := catalogInstallRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var rep installReport
	if err := json.Unmarshal(e.out.Bytes(), &rep); err != nil || !rep.Groups.Checked || !strings.Contains(rep.Groups.Reason, "ann@example.com") {
		t.Errorf("report %+v %v", rep.Groups, err)
	}

	e = newInstallEnv(t)
	o = e.opts("hr", "cursor", noLogin)
	if err := catalogInstallRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.err.String(), "mcpgov: warning: could not check that you may use hr (allowed groups: people-ops): not logged in") {
		t.Errorf("stderr:\n%s", e.err)
	}

	// Pending servers are refused whoever asks.
	if err := catalogInstallRun(context.Background(), e.opts("draft", "cursor", person("eng"))); err == nil || !strings.Contains(err.Error(), "awaiting review") {
		t.Errorf("pending: %v", err)
	}
}

// TestBrowseList: piped or --json, browse lists the approved servers the
// caller's groups allow, with risk and its basis.
func TestBrowseList(t *testing.T) {
	e := newInstallEnv(t)
	o := &CatalogBrowseOptions{Install: *e.opts("", "", person("eng")), JSON: true}
	if err := catalogBrowseRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var rep browseReport
	if err := json.Unmarshal(e.out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 1 || rep.Servers[0].ID != "tickets" || !rep.Groups.Checked {
		t.Fatalf("servers %+v groups %+v", rep.Servers, rep.Groups)
	}
	s := rep.Servers[0]
	if s.Risk.Level != "high" || s.Risk.Source != "derived" || !strings.Contains(strings.Join(s.Risk.Basis, ";"), "never vetted") || len(s.Inputs) != 2 || !s.Inputs[0].Secret {
		t.Errorf("tickets: %+v", s)
	}

	e = newInstallEnv(t)
	o = &CatalogBrowseOptions{Install: *e.opts("", "", noLogin)}
	if err := catalogBrowseRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := e.out.String(); !strings.Contains(got, "tickets\tTickets\tcollab\ttickets\thigh\tderived\n") || !strings.Contains(got, "hr\t") || strings.Contains(got, "draft") {
		t.Errorf("plain:\n%s", got)
	}
	if !strings.Contains(e.err.String(), "your groups were not checked") {
		t.Errorf("stderr:\n%s", e.err)
	}
}

// TestBrowsePickInstalls: a pick in the browser runs the install flow.
func TestBrowsePickInstalls(t *testing.T) {
	e := newInstallEnv(t)
	e.f.IO.stdinTTY, e.f.IO.stdoutTTY = true, true
	o := &CatalogBrowseOptions{Install: *e.opts("", "", person("eng"))}
	o.Install.Prompter = &fakePrompter{answers: map[string]string{"REGION": "eu"}}
	o.Install.Client = "gemini"
	o.RunTUI = func(_ context.Context, _ *IOStreams, m *tui.Browse) error {
		// The browser lists tickets only (hr is for people-ops); Enter
		// picks it for the --client given.
		if !strings.Contains(m.Render(), "1 server you may use") {
			t.Errorf("browser:\n%s", m.Render())
		}
		m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
		return nil
	}
	if err := catalogBrowseRun(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, e.err)
	}
	b, err := os.ReadFile(filepath.Join(e.home, ".gemini", "settings.json"))
	if err != nil || !strings.Contains(string(b), `"TICKETS_TOKEN": "${TICKETS_TOKEN}"`) {
		t.Errorf("gemini settings: %s %v", b, err)
	}
}

// TestTTYPrompter: answers are read line by line, an empty line takes the
// default, prompts go to stderr, and a secret read from a non-terminal
// reader is not echoed back.
func TestTTYPrompter(t *testing.T) {
	io, in, out, errOut := TestStreams()
	in.WriteString("eu\n\nsk-1234\n")
	p := newTTYPrompter(io)
	if v, err := p.Ask("REGION", ""); v != "eu" || err != nil {
		t.Errorf("REGION: %q %v", v, err)
	}
	if v, err := p.Ask("MODE", "read"); v != "read" || err != nil {
		t.Errorf("MODE: %q %v", v, err)
	}
	if v, err := p.AskSecret("TOKEN"); v != "sk-1234" || err != nil {
		t.Errorf("TOKEN: %q %v", v, err)
	}
	if _, err := p.Ask("MORE", ""); err == nil {
		t.Error("no error at the end of input")
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "MODE [read]: ") || strings.Contains(errOut.String(), "sk-1234") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}
