package wrap

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// tomlEntry is a Codex [mcp_servers.NAME] table: command, args, env as an
// inline table, env_vars for variables passed through from Codex's own
// environment.
func tomlEntry(e InstallEntry, cmd string, args []string, nl string) string {
	var b strings.Builder
	b.WriteString("[" + tomldoc.FormatPath([]string{"mcp_servers", e.Name}) + "]" + nl)
	b.WriteString("command = " + tomldoc.String(cmd) + nl)
	b.WriteString("args = " + tomldoc.Strings(args) + nl)
	if len(e.Env) > 0 {
		parts := make([]string, len(e.Env))
		for i, v := range e.Env {
			parts[i] = tomldoc.FormatKey(v.Name) + " = " + tomldoc.String(v.Value)
		}
		b.WriteString("env = { " + strings.Join(parts, ", ") + " }" + nl)
	}
	if len(e.EnvForward) > 0 {
		b.WriteString("env_vars = " + tomldoc.Strings(e.EnvForward) + nl)
	}
	return b.String()
}

// sameTOMLEntry reports whether a decoded entry is the one install writes.
func sameTOMLEntry(have map[string]any, e InstallEntry, cmd string, args []string) bool {
	var want map[string]any
	text := tomlEntry(e, cmd, args, "\n")
	if _, err := toml.Decode(text, &want); err != nil {
		return false
	}
	w := want["mcp_servers"].(map[string]any)[e.Name]
	return reflect.DeepEqual(w, any(have))
}

func (d *tdoc) install(e InstallEntry, cmd string, args []string, force bool) (installEdit, error) {
	ed := installEdit{pointer: pointer([]string{"mcp_servers", e.Name}), action: ActionInstalled}
	text := tomlEntry(e, cmd, args, d.nl)
	if have := d.entry(e.Name); have != nil {
		ed.line = d.doc.Line("mcp_servers", e.Name)
		if sameTOMLEntry(have, e, cmd, args) {
			ed.action = ActionAlreadyInstalled
			return ed, nil
		}
		if !force {
			return ed, &ExistsError{File: e.File, Line: ed.line, Server: e.Name}
		}
		start, end, ok := d.doc.Extent("mcp_servers", e.Name)
		if !ok {
			return ed, fmt.Errorf("%s: server %q is not a [mcp_servers.%s] table; replace it by hand", e.File, e.Name, e.Name)
		}
		// Keep the blank lines and comments that introduce the next block:
		// the table ends with its last line that is not one of those.
		body, cut := d.doc.Text[start:end], 0
		for off := 0; off < len(body); {
			eol := strings.IndexByte(body[off:], '\n')
			next := len(body)
			if eol >= 0 {
				next = off + eol + 1
			}
			if line := strings.TrimSpace(body[off:next]); line != "" && !strings.HasPrefix(line, "#") {
				cut = next
			}
			off = next
		}
		end = start + cut
		ed.action = ActionReplaced
		ed.patches = []patch{{start + d.bom, end + d.bom, text}}
		return ed, nil
	}
	if servers, ok := d.data["mcp_servers"]; ok {
		if _, isTable := servers.(map[string]any); !isTable {
			return ed, fmt.Errorf("%s: mcp_servers is not a table; refusing to edit", e.File)
		}
	}
	at := len(d.b)
	prefix := ""
	if at > 0 {
		if !strings.HasSuffix(string(d.b), "\n") {
			prefix = d.nl
		}
		if !strings.HasSuffix(string(d.b), "\n\n") && !strings.HasSuffix(string(d.b), "\r\n\r\n") {
			prefix += d.nl
		}
	}
	ed.patches = []patch{{at, at, prefix + text}}
	return ed, nil
}

func (d *tdoc) entryLine(after []byte, e InstallEntry) int {
	nd, err := openTOML(d.file, after)
	if err != nil {
		return 0
	}
	return nd.doc.Line("mcp_servers", e.Name)
}
