package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// BrowseItem is one catalog server in the browser.
type BrowseItem struct {
	ID          string
	Title       string
	Description string
	Owner       string
	DataScope   []string
	Risk        string   // low … critical
	RiskSource  string   // reviewer or derived
	RiskBasis   []string // what the risk rests on
	Groups      []string
	Launch      string
	Inputs      []string // input keys; secrets are marked
}

// ClientChoice is a client the picked server can be installed into.
type ClientChoice struct {
	ID       string
	Detected bool // a config of it exists on this machine
}

// Pick is the server and client the user chose.
type Pick struct {
	ID     string
	Client string
}

// Browse lists the catalog servers the caller may use, shows the selected
// one's owner, scope, risk and inputs, and lets the user pick one to
// install (and, without a preset client, the client to install into).
//
// Keys: ↑↓/jk move, / filter (Enter keeps it, Esc clears it), Esc clears a
// kept filter and goes back from the client list, Enter picks, q quits.
type Browse struct {
	items   []BrowseItem
	clients []ClientChoice
	client  string // preset --client, or ""
	title   string
	note    string // a line under the title (groups not checked, …)

	window   // over items
	width    int
	height   int
	filter   string
	typing   bool
	choosing bool
	ccursor  int
	picked   *Pick
}

// NewBrowse returns the browser for items; client presets where Enter
// installs, clients are offered otherwise.
func NewBrowse(items []BrowseItem, clients []ClientChoice, client, title, note string) *Browse {
	m := &Browse{items: items, clients: clients, client: client, title: title, note: note, width: 100, height: 30}
	m.refilter()
	return m
}

// Picked returns the server and client chosen, if any.
func (m *Browse) Picked() (Pick, bool) {
	if m.picked == nil {
		return Pick{}, false
	}
	return *m.picked, true
}

// Init implements tea.Model.
func (m *Browse) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Browse) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Browse) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if s == "ctrl+c" {
		return tea.Quit
	}
	if m.typing {
		switch s {
		case "enter":
			m.typing = false
		case "esc":
			m.typing, m.filter = false, ""
		case "backspace":
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		default:
			if t := k.Key().Text; t != "" {
				m.filter += t
			}
		}
		m.refilter()
		return nil
	}
	if m.choosing {
		switch s {
		case "esc":
			m.choosing = false
		case "q":
			return tea.Quit
		case "up", "k":
			m.ccursor = max(0, m.ccursor-1)
		case "down", "j":
			m.ccursor = min(len(m.clients)-1, m.ccursor+1)
		case "enter":
			if len(m.clients) > 0 {
				m.picked = &Pick{ID: m.items[m.shown[m.cursor]].ID, Client: m.clients[m.ccursor].ID}
				return tea.Quit
			}
		}
		return nil
	}
	switch s {
	case "q":
		return tea.Quit
	case "esc":
		if m.filter != "" {
			m.filter = ""
			m.refilter()
		}
	case "/":
		m.typing = true
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
	case "enter":
		if len(m.shown) == 0 {
			return nil
		}
		if m.client != "" {
			m.picked = &Pick{ID: m.items[m.shown[m.cursor]].ID, Client: m.client}
			return tea.Quit
		}
		m.choosing, m.ccursor = true, 0
	}
	return nil
}

func (m *Browse) move(d int) { m.window.move(d, m.listHeight()) }

// refilter keeps the servers whose id, title, owner, description, data
// scope or risk contain the filter, ignoring case.
func (m *Browse) refilter() {
	needle := strings.ToLower(m.filter)
	shown := m.shown[:0]
	for i, it := range m.items {
		hay := strings.ToLower(strings.Join(append([]string{it.ID, it.Title, it.Owner, it.Description, it.Risk}, it.DataScope...), "\x00"))
		if needle == "" || strings.Contains(hay, needle) {
			shown = append(shown, i)
		}
	}
	m.refill(shown)
}

func (m *Browse) listHeight() int { return max(3, (m.height-5)/2) }

// View implements tea.Model.
func (m *Browse) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Render draws the screen as text, for tests.
func (m *Browse) Render() string {
	var b strings.Builder
	noun := "servers"
	if len(m.items) == 1 {
		noun = "server"
	}
	fmt.Fprintf(&b, "%s%s%s — %d %s you may use\n", bold, m.title, reset, len(m.items), noun)
	if m.note != "" {
		fmt.Fprintf(&b, "%s%s%s\n", dim, m.note, reset)
	}
	if m.choosing {
		m.renderClients(&b)
	} else {
		m.renderList(&b)
		m.renderDetail(&b)
	}
	b.WriteString(m.footer())
	return b.String()
}

func (m *Browse) renderList(b *strings.Builder) {
	m.render(b, m.listHeight(), func(i int, selected bool) string {
		it := m.items[i]
		line := fmt.Sprintf("%-20s %-28s %-18s %-8s %s", clip(it.ID, 20), clip(it.Title, 28), clip(orDash(it.Owner), 18), it.Risk, clip(strings.Join(it.DataScope, ","), max(10, m.width-80)))
		if selected {
			return fmt.Sprintf("%s %s%s", reverse, line, reset)
		}
		return " " + riskColor(it.Risk, line)
	})
}

func (m *Browse) renderDetail(b *strings.Builder) {
	b.WriteString(dim + strings.Repeat("─", max(10, m.width-1)) + reset + "\n")
	if len(m.shown) == 0 {
		return
	}
	it := m.items[m.shown[m.cursor]]
	fmt.Fprintf(b, "%s%s%s  %s\n", bold, it.ID, reset, it.Title)
	if it.Description != "" {
		fmt.Fprintf(b, "  %s\n", it.Description)
	}
	fmt.Fprintf(b, "  owner %s · data scope %s · groups %s\n", orDash(it.Owner), orDash(strings.Join(it.DataScope, ", ")), orDash(strings.Join(it.Groups, ", ")))
	fmt.Fprintf(b, "  risk %s (%s): %s\n", riskColor(it.Risk, it.Risk), it.RiskSource, strings.Join(it.RiskBasis, "; "))
	fmt.Fprintf(b, "  launch %s\n", it.Launch)
	if len(it.Inputs) > 0 {
		fmt.Fprintf(b, "  inputs %s\n", strings.Join(it.Inputs, ", "))
	}
}

func (m *Browse) renderClients(b *strings.Builder) {
	it := m.items[m.shown[m.cursor]]
	fmt.Fprintf(b, "Install %s%s%s into:\n", bold, it.ID, reset)
	for i, c := range m.clients {
		mark := "  "
		if c.Detected {
			mark = green + "● " + reset
		}
		note := ""
		if c.Detected {
			note = dim + "  (configured on this machine)" + reset
		}
		if i == m.ccursor {
			fmt.Fprintf(b, "%s%s %s%s%s\n", mark, reverse, c.ID, reset, note)
		} else {
			fmt.Fprintf(b, "%s %s%s\n", mark, c.ID, note)
		}
	}
}

func (m *Browse) footer() string {
	switch {
	case m.typing:
		return fmt.Sprintf("filter: %s▏  (enter to keep, esc to clear)", m.filter)
	case m.choosing:
		return dim + "↑↓ move · enter install here · esc back · q quit" + reset
	}
	keys := dim + "↑↓ move · / filter · enter install · q quit" + reset
	if m.filter != "" {
		return fmt.Sprintf("filter %q (esc clears) · ", m.filter) + keys
	}
	return keys
}

func riskColor(risk, s string) string {
	switch risk {
	case "critical", "high":
		return red + s + reset
	case "medium":
		return yellow + s + reset
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
