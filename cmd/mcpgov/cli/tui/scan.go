// Package tui holds mcpgov's interactive terminal views (bubbletea
// models). Only the cli package imports it, and only when both stdin and
// stdout are terminals and no machine-readable format was asked for; the
// shim never reaches it (its stdout is the MCP protocol).
//
// Streams: the program reads keys from the terminal on stdin and draws on
// stdout in the alternate screen; nothing else may write to stdout while
// it runs, and diagnostics wait until it exits.
package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// ANSI styles; the view is plain text apart from these.
const (
	reverse = "\x1b[7m"
	bold    = "\x1b[1m"
	dim     = "\x1b[2m"
	red     = "\x1b[31m"
	yellow  = "\x1b[33m"
	green   = "\x1b[32m"
	reset   = "\x1b[0m"
)

// Scan is the interactive inventory: a list of servers, the selected one's
// details, a filter, and the files that could not be read.
type Scan struct {
	servers []scan.Server
	errors  []scan.FileError
	title   string

	window       // over servers
	width        int
	height       int
	filter       string
	typing       bool // the filter line has the keyboard
	findingsOnly bool
	showErrors   bool
}

// NewScan returns the model for a report; title heads the screen.
func NewScan(rep *scan.Report, title string) *Scan {
	m := &Scan{servers: rep.Servers, errors: rep.Errors, title: title, width: 100, height: 30}
	m.refilter()
	return m
}

// Init implements tea.Model.
func (m *Scan) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Scan) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Scan) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if m.typing {
		switch s {
		case "enter":
			m.typing = false
		case "esc": // drop what was typed
			m.typing, m.filter = false, ""
		case "backspace":
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		case "ctrl+c":
			return tea.Quit
		default:
			if t := k.Key().Text; t != "" {
				m.filter += t
			}
		}
		m.refilter()
		return nil
	}
	switch s {
	case "q", "ctrl+c":
		return tea.Quit
	case "esc":
		// Esc steps back, one layer at a time, and never quits: the
		// error pane, then the filter and the findings-only view.
		switch {
		case m.showErrors:
			m.showErrors = false
		case m.filter != "" || m.findingsOnly:
			m.filter, m.findingsOnly = "", false
			m.refilter()
		}
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(1)
	case "pgup":
		m.move(-m.listHeight())
	case "pgdown", "space":
		m.move(m.listHeight())
	case "home", "g":
		m.move(-len(m.shown))
	case "end", "G":
		m.move(len(m.shown))
	case "/":
		m.typing = true
	case "f":
		m.findingsOnly = !m.findingsOnly
		m.refilter()
	case "e":
		m.showErrors = !m.showErrors
	}
	return nil
}

func (m *Scan) move(d int) { m.window.move(d, m.listHeight()) }

// refilter recomputes the shown rows: the filter matches client, name,
// identity, file and finding rules, case-insensitively.
func (m *Scan) refilter() {
	needle := strings.ToLower(m.filter)
	shown := m.shown[:0]
	for i, s := range m.servers {
		if m.findingsOnly && len(s.Findings) == 0 {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(haystack(s)), needle) {
			continue
		}
		shown = append(shown, i)
	}
	m.refill(shown)
}

func haystack(s scan.Server) string {
	parts := []string{s.Client, string(s.Scope), s.Name, s.Identity, s.File}
	for _, f := range s.Findings {
		parts = append(parts, f.Rule)
	}
	return strings.Join(parts, "\x00")
}

// listHeight is how many list rows fit above the detail pane.
func (m *Scan) listHeight() int {
	return max(3, (m.height-4)/2)
}

// View implements tea.Model.
func (m *Scan) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Render draws the screen as text (View without the terminal settings),
// so tests can read it.
func (m *Scan) Render() string {
	var b strings.Builder
	withFindings := 0
	for _, s := range m.servers {
		if len(s.Findings) > 0 {
			withFindings++
		}
	}
	fmt.Fprintf(&b, "%s%s%s — %d servers, %d with findings, %d unreadable files\n", bold, m.title, reset, len(m.servers), withFindings, len(m.errors))
	if m.showErrors {
		m.renderErrors(&b)
	} else {
		m.renderList(&b)
		m.renderDetail(&b)
	}
	b.WriteString(m.footer())
	return b.String()
}

func (m *Scan) renderList(b *strings.Builder) {
	m.render(b, m.listHeight(), func(i int, selected bool) string {
		s := m.servers[i]
		gov := "  "
		if s.Governed {
			gov = green + "✓ " + reset
		}
		line := fmt.Sprintf("%-14s %-8s %-22s %s", clip(s.Client, 14), clip(string(s.Scope), 8), clip(s.Name, 22), clip(s.Identity, max(10, m.width-60)))
		sev := worst(s.Findings)
		if selected {
			return fmt.Sprintf("%s%s %s%s %s", gov, reverse, line, reset, sev)
		}
		return fmt.Sprintf("%s %s %s", gov, line, sev)
	})
}

func (m *Scan) renderDetail(b *strings.Builder) {
	b.WriteString(dim + strings.Repeat("─", max(10, m.width-1)) + reset + "\n")
	if len(m.shown) == 0 {
		return
	}
	s := m.servers[m.shown[m.cursor]]
	fmt.Fprintf(b, "%s%s%s (%s, %s scope)  %s:%d\n", bold, s.Name, reset, s.Client, s.Scope, s.File, s.Line)
	if s.URL != "" {
		fmt.Fprintf(b, "  %s %s\n", s.Transport, s.URL)
	} else {
		fmt.Fprintf(b, "  %s %s\n", s.Transport, strings.Join(append([]string{s.Command}, s.Args...), " "))
	}
	fmt.Fprintf(b, "  identity %s", s.Identity)
	if s.Catalog != nil {
		fmt.Fprintf(b, " · catalog %s (%s)", s.Catalog.ID, s.Catalog.Status)
	}
	if s.Governed {
		b.WriteString(" · governed by mcpgov")
	}
	if len(s.WrappedBy) > 0 {
		fmt.Fprintf(b, " · wrapped by %s", strings.Join(s.WrappedBy, ", "))
	}
	if s.Disabled {
		b.WriteString(" · disabled")
	}
	b.WriteString("\n")
	if len(s.Env) > 0 {
		fmt.Fprintf(b, "  env %s\n", strings.Join(s.Env, ", "))
	}
	if len(s.Headers) > 0 {
		fmt.Fprintf(b, "  headers %s\n", strings.Join(s.Headers, ", "))
	}
	for _, f := range s.Findings {
		fmt.Fprintf(b, "  %s %s: %s\n", severity(f.Severity), f.Rule, f.Message)
	}
}

func (m *Scan) renderErrors(b *strings.Builder) {
	if len(m.errors) == 0 {
		b.WriteString("  every config file was read\n")
	}
	for _, e := range m.errors {
		loc := e.File
		if e.Line > 0 {
			loc = fmt.Sprintf("%s:%d", e.File, e.Line)
		}
		fmt.Fprintf(b, "  %s%s%s: %s\n", red, loc, reset, e.Message)
	}
}

func (m *Scan) footer() string {
	if m.typing {
		return fmt.Sprintf("filter: %s▏  (enter to keep, esc to clear)", m.filter)
	}
	var state []string
	if m.filter != "" {
		state = append(state, fmt.Sprintf("filter %q", m.filter))
	}
	if m.findingsOnly {
		state = append(state, "findings only")
	}
	keys := dim + "↑↓ move · / filter · f findings only · e unreadable files · esc clear · q quit" + reset
	if len(state) > 0 {
		return strings.Join(state, ", ") + " · " + keys
	}
	return keys
}

// worst is the highest severity among findings, styled, or "".
func worst(fs []finding.Finding) string {
	if len(fs) == 0 {
		return ""
	}
	top := fs[0].Severity
	for _, f := range fs[1:] {
		if f.Severity.Rank() > top.Rank() {
			top = f.Severity
		}
	}
	return severity(top)
}

func severity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return red + string(s) + reset
	case finding.SeverityMedium:
		return yellow + string(s) + reset
	}
	return string(s)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
