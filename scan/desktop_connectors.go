package scan

import (
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Claude Desktop's connectors (remote MCP servers added in its settings or
// by an organisation) are not in any config file; the agent sessions it
// runs log the ones they were given, as remoteMcpServersConfig entries
// ({uuid, url, name}) in claude-code-sessions/*/<org>/local_*.json and
// local-agent-mode-sessions/*/<org>/local_*.json (agent-scan
// claude_desktop.py, macOS; its Windows layout is assumed to match). Every
// session logs them again, so a connector is reported once per
// organisation, as its newest session has it.

// desktopSessionSources are the session logs under the Claude Desktop
// directory dir.
func desktopSessionSources(e Env, dir string) []source {
	var out []source
	for _, d := range desktopSessionDirs {
		out = append(out, source{client: ClientClaudeDesktop, scope: ScopeUser, glob: true,
			path: e.join(dir, d, "*", "*", "local_*.json"), shape: shapeDesktopSession})
	}
	return out
}

// desktopSessionDirs are the Claude Desktop directories whose session logs
// list its connectors.
var desktopSessionDirs = []string{"claude-code-sessions", "local-agent-mode-sessions"}

// IsDesktopConnector reports whether s is a Claude Desktop connector read
// from a session log (…/claude-code-sessions/*/ORG/local_*.json): it lives
// in Claude Desktop's settings, not in a file anyone can edit.
func IsDesktopConnector(s Server) bool {
	if s.Client != ClientClaudeDesktop {
		return false
	}
	file := filepath.ToSlash(s.File)
	if ok, _ := filepath.Match("local_*.json", filepath.Base(file)); !ok {
		return false
	}
	parts := strings.Split(file, "/")
	return len(parts) >= 4 && slices.Contains(desktopSessionDirs, parts[len(parts)-4])
}

// desktopConnector is one logged connector and how recent its session is.
type desktopConnector struct {
	rank  [2]float64 // lastActivityAt, createdAt
	file  string
	src   source
	entry rawEntry
}

// extractDesktopSession reads a session's connectors; each entry's key is
// its organisation and uuid.
func extractDesktopSession(src source, root *node, x *extraction) {
	list := root.get("remoteMcpServersConfig")
	if list == nil || list.kind != kArray {
		return
	}
	x.rank = [2]float64{root.get("lastActivityAt").number(), root.get("createdAt").number()}
	// The organisation is the directory the session file is in
	// (agent-scan: the path's third element under the Claude directory).
	org := filepath.Base(filepath.Dir(src.path))
	for _, it := range list.items {
		uuid, url := it.get("uuid"), it.get("url")
		if uuid == nil || uuid.kind != kString || url == nil || url.kind != kString || url.text() == "" {
			continue
		}
		name := it.get("name").text()
		if name == "" {
			name = uuid.text()
		}
		x.entries = append(x.entries, rawEntry{name: name, line: it.line, node: it, scope: src.scope, dialect: dialectGeneric,
			key: org + "/" + uuid.text()})
	}
}

// keepNewestConnectors records a session's connectors, replacing those an
// older session of the same organisation logged.
func (s *scanner) keepNewestConnectors(r result) {
	if s.connectors == nil {
		s.connectors = map[string]desktopConnector{}
	}
	for _, e := range r.x.entries {
		old, ok := s.connectors[e.key]
		if ok && (old.rank[0] > r.x.rank[0] || old.rank[0] == r.x.rank[0] && old.rank[1] >= r.x.rank[1]) {
			continue
		}
		s.connectors[e.key] = desktopConnector{rank: r.x.rank, file: r.file, src: r.src, entry: e}
	}
}

// connectorEntries are the kept connectors, in key order.
func (s *scanner) connectorEntries() []fileEntries {
	keys := make([]string, 0, len(s.connectors))
	for k := range s.connectors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]fileEntries, 0, len(keys))
	for _, k := range keys {
		c := s.connectors[k]
		out = append(out, fileEntries{src: c.src, file: c.file, entries: []rawEntry{c.entry}})
	}
	return out
}

// number is a JSON number's value; anything else is 0.
func (n *node) number() float64 {
	if n == nil || n.kind != kNumber {
		return 0
	}
	f, err := strconv.ParseFloat(n.str, 64)
	if err != nil {
		return 0
	}
	return f
}
