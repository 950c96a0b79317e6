package tui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func report() *scan.Report {
	return &scan.Report{
		Servers: []scan.Server{
			{Client: "cursor", Scope: "user", Name: "github", File: "/h/.cursor/mcp.json", Line: 3, Transport: "stdio", Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-github"},
				Identity: "npm:@modelcontextprotocol/server-github", Env: []string{"GITHUB_TOKEN"},
				Findings: []finding.Finding{{Rule: "plaintext-secret", Severity: finding.SeverityCritical, Message: "GITHUB_TOKEN holds a GitHub token (ghp_****)"}}},
			{Client: "claude-code", Scope: "project", Name: "everything", File: "/p/.mcp.json", Line: 2, Transport: "stdio", Command: "mcpgov", Identity: "npm:@modelcontextprotocol/server-everything@2026.8.31", Governed: true},
			{Client: "vscode", Scope: "user", Name: "remote", File: "/h/.config/Code/User/mcp.json", Line: 9, Transport: "http", URL: "http://mcp.example.com/mcp", Identity: "http://mcp.example.com/mcp",
				Findings: []finding.Finding{{Rule: "insecure-transport", Severity: finding.SeverityHigh, Message: "plain HTTP"}}},
		},
		Errors: []scan.FileError{{File: "/h/.codeium/windsurf/mcp_config.json", Line: 4, Message: "invalid character '}'"}},
	}
}

func press(m *Scan, keys ...tea.KeyPressMsg) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(k)
	}
	return cmd
}

func text(s string) tea.KeyPressMsg { return tea.KeyPressMsg{Code: rune(s[0]), Text: s} }

var down = tea.KeyPressMsg{Code: tea.KeyDown}

func TestScanModel(t *testing.T) {
	m := NewScan(report(), "mcpgov scan · host")
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	v := m.Render()
	for _, want := range []string{"3 servers, 2 with findings, 1 unreadable files", "github", "everything", "remote",
		"plaintext-secret: GITHUB_TOKEN holds a GitHub token (ghp_****)", "/h/.cursor/mcp.json:3", "env GITHUB_TOKEN"} {
		if !strings.Contains(v, want) {
			t.Errorf("first screen lacks %q:\n%s", want, v)
		}
	}

	press(m, down)
	if v := m.Render(); !strings.Contains(v, "/p/.mcp.json:2") || !strings.Contains(v, "governed by mcpgov") {
		t.Errorf("detail does not follow the cursor:\n%s", v)
	}

	press(m, text("f"))
	if v := m.Render(); strings.Contains(v, "everything") || !strings.Contains(v, "findings only") {
		t.Errorf("findings-only still lists a clean server:\n%s", v)
	}
	press(m, text("f"))

	press(m, text("/"), text("v"), text("s"), tea.KeyPressMsg{Code: tea.KeyEnter})
	v = m.Render()
	if !strings.Contains(v, "remote") || strings.Contains(v, "github") || !strings.Contains(v, `filter "vs"`) {
		t.Errorf("filter vs:\n%s", v)
	}
	press(m, text("/"), tea.KeyPressMsg{Code: tea.KeyBackspace}, tea.KeyPressMsg{Code: tea.KeyBackspace}, text("z"), text("z"), tea.KeyPressMsg{Code: tea.KeyEnter})
	if v := m.Render(); !strings.Contains(v, "no server matches") {
		t.Errorf("filter zz:\n%s", v)
	}
	// Esc clears the filter and quits nothing; typed into the filter line,
	// it drops what was typed.
	if cmd := press(m, tea.KeyPressMsg{Code: tea.KeyEscape}); cmd != nil {
		t.Error("esc with a filter quit instead of clearing it")
	}
	if v := m.Render(); strings.Contains(v, "no server matches") || !strings.Contains(v, "everything") || strings.Contains(v, `filter "`) {
		t.Errorf("esc did not clear the filter:\n%s", v)
	}
	press(m, text("/"), text("z"), tea.KeyPressMsg{Code: tea.KeyEscape})
	if v := m.Render(); !strings.Contains(v, "everything") || strings.Contains(v, `filter "`) {
		t.Errorf("esc while typing kept the filter:\n%s", v)
	}
	if cmd := press(m, tea.KeyPressMsg{Code: tea.KeyEscape}); cmd != nil {
		t.Error("esc with nothing to clear quit")
	}

	press(m, text("e"))
	if v := m.Render(); !strings.Contains(v, "mcp_config.json:4") || !strings.Contains(v, "invalid character") {
		t.Errorf("errors view:\n%s", v)
	}
	if cmd := press(m, tea.KeyPressMsg{Code: tea.KeyEscape}); cmd != nil {
		t.Error("esc in the errors view quit instead of going back")
	}
	cmd := press(m, text("q"))
	if cmd == nil {
		t.Fatal("q did not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("q returned %T", cmd())
	}
}

func TestScanModelScrolls(t *testing.T) {
	rep := &scan.Report{}
	for i := range 50 {
		rep.Servers = append(rep.Servers, scan.Server{Client: "cursor", Name: strings.Repeat("s", 1+i%5) + string(rune('a'+i%26)), Identity: "exec:x"})
	}
	m := NewScan(rep, "t")
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	for range 30 {
		press(m, down)
	}
	if m.cursor != 30 || m.offset > m.cursor || m.cursor >= m.offset+m.listHeight() {
		t.Errorf("cursor %d offset %d height %d", m.cursor, m.offset, m.listHeight())
	}
	press(m, tea.KeyPressMsg{Code: tea.KeyEnd})
	if m.cursor != 49 {
		t.Errorf("end: cursor %d", m.cursor)
	}
}

// screen is the program's output. It closes drawn once what it holds
// contains want: the first frame, drawn before any key is sent.
type screen struct {
	mu    sync.Mutex
	b     bytes.Buffer
	want  string
	once  sync.Once
	drawn chan struct{}
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if strings.Contains(s.b.String(), s.want) {
		s.once.Do(func() { close(s.drawn) })
	}
	return n, err
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScanProgram runs the model in a real bubbletea program, keys in
// through a pipe, and checks what it drew. Keys go in only after the first
// frame is out (sent earlier, on a busy machine, they moved the cursor
// before anything was drawn), one at a time, each once the program has
// taken the one before.
func TestScanProgram(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	out := &screen{want: "/h/.cursor/mcp.json:3", drawn: make(chan struct{})}
	keys := []string{"j", "/", "v", "s", "\r", "q"}
	taken := make(chan struct{}, len(keys))
	p := tea.NewProgram(NewScan(report(), "mcpgov scan"), tea.WithInput(r), tea.WithOutput(out), tea.WithWindowSize(120, 30), tea.WithoutSignals(),
		tea.WithContext(await.Context(t)), // ends a program that never quits
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			if _, ok := msg.(tea.KeyPressMsg); ok {
				select {
				case taken <- struct{}{}:
				default: // more keys than were sent; reported below
				}
			}
			return msg
		}))
	done := make(chan error, 1)
	var final tea.Model
	go func() {
		var err error
		final, err = p.Run()
		done <- err
	}()
	select {
	case <-out.drawn:
	case err := <-done:
		t.Fatalf("the program ended before drawing the first server's details: %v\n%q", err, out.String())
	}
	for _, k := range keys {
		if _, err := w.Write([]byte(k)); err != nil {
			t.Fatal(err)
		}
		await.Recv(t, taken, fmt.Sprintf("the program to take the key %q", k))
	}
	if err := await.Recv(t, done, "the program to quit on q"); err != nil {
		t.Fatal(err)
	}
	if n := len(taken); n != 0 {
		t.Errorf("the program took %d key presses more than the %d sent", n, len(keys))
	}
	// The first frame is drawn whole; later ones are cell diffs, so the
	// keys' effect is read from the final model.
	for _, want := range []string{"3 servers, 2 with findings", "/h/.cursor/mcp.json:3", "\x1b[?1049h"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if v := final.(*Scan).Render(); !strings.Contains(v, `filter "vs"`) || !strings.Contains(v, "remote") || strings.Contains(v, "github") {
		t.Errorf("keys not applied; final screen:\n%s", v)
	}
}
