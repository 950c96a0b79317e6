package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func browseItems() []BrowseItem {
	return []BrowseItem{
		{ID: "github", Title: "GitHub", Owner: "devex", DataScope: []string{"code", "issues"}, Risk: "high", RiskSource: "reviewer", RiskBasis: []string{"vetted by sec on 2026-01-15"},
			Groups: []string{"eng"}, Launch: "npx -y @modelcontextprotocol/server-github@2025.4.8", Inputs: []string{"GITHUB_PERSONAL_ACCESS_TOKEN (secret)"}},
		{ID: "everything", Title: "Everything", Owner: "platform", DataScope: []string{"test-data"}, Risk: "medium", RiskSource: "derived",
			RiskBasis: []string{"data scope test-data (low)", "every tool allowed", "never vetted"}, Launch: "mcp-server-everything stdio"},
		{ID: "jira", Title: "Jira", Owner: "collab", DataScope: []string{"tickets"}, Risk: "medium", RiskSource: "derived", Launch: "uvx jira-mcp==1.0"},
	}
}

var (
	enter = tea.KeyPressMsg{Code: tea.KeyEnter}
	esc   = tea.KeyPressMsg{Code: tea.KeyEscape}
)

func pressB(m *Browse, keys ...tea.KeyPressMsg) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(k)
	}
	return cmd
}

func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// TestBrowseModel: the list, the selected server's owner, scope and risk
// with its basis; a filter that Esc clears without quitting; q quits.
func TestBrowseModel(t *testing.T) {
	m := NewBrowse(browseItems(), []ClientChoice{{ID: "cursor", Detected: true}, {ID: "claude-code"}}, "", "mcpgov catalog browse", "groups not checked: not logged in")
	m.Update(tea.WindowSizeMsg{Width: 140, Height: 30})
	v := m.Render()
	for _, want := range []string{"3 servers you may use", "groups not checked: not logged in", "github", "everything", "jira",
		"owner devex · data scope code, issues · groups eng", "risk " + red + "high" + reset + " (reviewer): vetted by sec", "GITHUB_PERSONAL_ACCESS_TOKEN (secret)"} {
		if !strings.Contains(v, want) {
			t.Errorf("first screen lacks %q:\n%s", want, v)
		}
	}
	pressB(m, down)
	if v := m.Render(); !strings.Contains(v, "(derived): data scope test-data (low); every tool allowed; never vetted") {
		t.Errorf("detail does not follow the cursor:\n%s", v)
	}

	// Typing a filter, Esc clears it and does not quit.
	if cmd := pressB(m, text("/"), text("j"), text("i")); cmd != nil {
		t.Fatal("typing quit")
	}
	if v := m.Render(); strings.Contains(v, "github") || !strings.Contains(v, "jira") {
		t.Errorf("filter ji:\n%s", v)
	}
	if cmd := pressB(m, esc); quits(cmd) {
		t.Fatal("esc while typing quit")
	}
	if m.filter != "" || len(m.shown) != 3 {
		t.Errorf("esc while typing left filter %q (%d shown)", m.filter, len(m.shown))
	}
	// A kept filter: Enter keeps it, Esc clears it, still no quit.
	pressB(m, text("/"), text("t"), text("h"), text("i"), text("n"), text("g"), enter)
	if m.filter != "thing" || len(m.shown) != 1 {
		t.Fatalf("kept filter %q shows %d", m.filter, len(m.shown))
	}
	if cmd := pressB(m, esc); quits(cmd) || m.filter != "" || len(m.shown) != 3 {
		t.Errorf("esc on a kept filter: quit=%v filter=%q shown=%d", quits(cmd), m.filter, len(m.shown))
	}
	if cmd := pressB(m, esc); quits(cmd) {
		t.Error("esc without a filter quit")
	}

	// Enter without a preset client: choose one; Esc goes back.
	pressB(m, down, enter)
	if v := m.Render(); !strings.Contains(v, "Install "+bold+"everything"+reset+" into:") || !strings.Contains(v, "configured on this machine") {
		t.Errorf("client list:\n%s", v)
	}
	pressB(m, esc)
	if m.choosing {
		t.Error("esc did not leave the client list")
	}
	pressB(m, enter, down)
	if cmd := pressB(m, enter); !quits(cmd) {
		t.Fatal("picking a client did not end the browser")
	}
	if p, ok := m.Picked(); !ok || p.ID != "everything" || p.Client != "claude-code" {
		t.Errorf("picked %+v %v", p, ok)
	}

	m = NewBrowse(browseItems(), nil, "", "t", "")
	if cmd := pressB(m, text("q")); !quits(cmd) {
		t.Error("q did not quit")
	}
	if _, ok := m.Picked(); ok {
		t.Error("q picked something")
	}
}

// TestBrowsePresetClient: with --client, Enter picks straight away.
func TestBrowsePresetClient(t *testing.T) {
	m := NewBrowse(browseItems(), nil, "cursor", "t", "")
	pressB(m, tea.KeyPressMsg{Code: tea.KeyEnd})
	if cmd := pressB(m, enter); !quits(cmd) {
		t.Fatal("enter did not pick")
	}
	if p, _ := m.Picked(); p.ID != "jira" || p.Client != "cursor" {
		t.Errorf("picked %+v", p)
	}
}

// frameWriter collects the program's output and lets a test wait until a
// text appears in it (after a given offset), so keys are sent once the
// frame they act on is drawn: never after a fixed sleep.
type frameWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newFrameWriter() *frameWriter { return &frameWriter{changed: make(chan struct{})} }

func (w *frameWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return n, err
}

func (w *frameWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor blocks until text appears in the output after offset from, and
// returns the output's length then. It fails the test when the program
// ends first.
func (w *frameWriter) waitFor(t *testing.T, done <-chan error, text string, from int) int {
	t.Helper()
	for {
		w.mu.Lock()
		s, ch := w.buf.String(), w.changed
		w.mu.Unlock()
		if strings.Contains(s[from:], text) {
			return len(s)
		}
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("the program ended (%v) before %q appeared; output:\n%s", err, text, s)
		}
	}
}

// TestBrowseProgram runs the browser in a real bubbletea program. It waits
// for the first frame before typing, for the filter's empty list before
// Esc, and for the full list again after it (Esc cleared the filter and the
// program kept running); then it filters and picks, and the program ends
// with the pick.
func TestBrowseProgram(t *testing.T) {
	r, w := io.Pipe()
	out := newFrameWriter()
	m := NewBrowse(browseItems(), nil, "codex", "mcpgov catalog browse", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(r), tea.WithOutput(out), tea.WithWindowSize(120, 30), tea.WithoutSignals())
	done := make(chan error, 1)
	go func() {
		_, err := p.Run()
		done <- err
	}()
	send := func(keys ...string) {
		for _, k := range keys {
			if _, err := w.Write([]byte(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := out.waitFor(t, done, "3 servers you may use", 0)
	send("/", "z", "z")
	at = out.waitFor(t, done, "no server matches", at)
	send("\x1b")
	out.waitFor(t, done, "GitHub", at)
	send("/", "j", "i", "r", "\r", "\r")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if p, ok := m.Picked(); !ok || p.ID != "jira" || p.Client != "codex" {
		t.Errorf("picked %+v %v; output:\n%s", p, ok, out.String())
	}
	if !strings.Contains(out.String(), "\x1b[?1049h") {
		t.Error("the browser did not use the alternate screen")
	}
}
