package serverjson

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// IDConflictError names imported ids the catalog already uses for a server
// or a virtual server.
type IDConflictError struct {
	IDs []string
}

func (e *IDConflictError) Error() string {
	return fmt.Sprintf("catalog already uses %s %s; nothing appended", sjPlural(len(e.IDs), "the id", "the ids"), strings.Join(e.IDs, ", "))
}

func sjPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// AppendTOML returns existing with one commented [servers.ID]
// block (and its sub-tables) appended per imported server. Existing bytes
// are never changed; the file's line endings are kept. Ids the catalog
// already uses (as servers or virtual servers) are refused with an
// *IDConflictError and nothing is appended.
//
// The [servers.ID.registry] table holding the original server.json is
// written for servers that have a catalog.RegistryRecord.
func AppendTOML(existing string, servers []ImportedServer) (string, error) {
	var current map[string]any
	if _, err := toml.Decode(existing, &current); err != nil {
		return "", fmt.Errorf("existing catalog is not valid TOML: %w", err)
	}
	taken := map[string]bool{}
	for _, table := range []string{"servers", "virtual"} {
		if m, ok := current[table].(map[string]any); ok {
			for id := range m {
				taken[id] = true
			}
		}
	}
	var conflicts []string
	batch := map[string]bool{}
	for i, imp := range servers {
		if imp.Server == nil {
			return "", fmt.Errorf("imported server %d has no catalog entry", i)
		}
		id := imp.Server.ID
		switch {
		case !catalog.ValidID(id):
			return "", fmt.Errorf("server id %q: use lower-case letters, digits, '.', '_' and '-' (at most 63)", id)
		case batch[id]:
			return "", fmt.Errorf("server id %s appears twice in the import", id)
		case taken[id]:
			conflicts = append(conflicts, id)
		}
		batch[id] = true
	}
	if len(conflicts) > 0 {
		return "", &IDConflictError{IDs: conflicts}
	}
	nl := "\n"
	if strings.Contains(existing, "\r\n") {
		nl = "\r\n"
	}
	var b strings.Builder
	b.WriteString(existing)
	if existing != "" && !strings.HasSuffix(existing, "\n") {
		b.WriteString(nl)
	}
	for _, imp := range servers {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n\n") && !strings.HasSuffix(b.String(), "\r\n\r\n") {
			b.WriteString(nl)
		}
		sjRenderServer(&b, imp, nl)
	}
	return b.String(), nil
}

// sjRenderServer writes one server's block.
func sjRenderServer(b *strings.Builder, imp ImportedServer, nl string) {
	s := imp.Server
	line := func(format string, args ...any) {
		b.WriteString(fmt.Sprintf(format, args...))
		b.WriteString(nl)
	}
	comment := func(text string) {
		line("# %s", strings.NewReplacer("\r", " ", "\n", " ").Replace(text))
	}
	kv := func(key, value, note string) {
		if note == "" {
			line("%s = %s", tomldoc.FormatKey(key), value)
			return
		}
		line("%-30s # %s", tomldoc.FormatKey(key)+" = "+value, note)
	}
	table := func(keys ...string) {
		line("[%s]", tomldoc.FormatPath(append([]string{"servers", s.ID}, keys...)))
	}

	line("# %s", strings.Repeat("-", 75))
	if imp.Name != "" {
		comment(fmt.Sprintf("Imported from server.json: %s %s", imp.Name, imp.Version))
		if imp.RegistryStatus != "" {
			comment("Registry status: " + imp.RegistryStatus)
		}
		if s.Owner == "" || s.Status == catalog.StatusPending {
			comment("Review it: fill in owner, risk, data_scope and auth, then set status.")
		}
	}
	for _, w := range imp.Warnings {
		comment("note: " + w)
	}
	table()
	if s.Title != "" {
		kv("title", tomldoc.String(s.Title), "")
	}
	if s.Description != "" {
		kv("description", tomldoc.String(s.Description), "")
	}
	placeholder := func(key, value, note string) { line("# %-28s # %s", key+" = "+value, note) }
	if s.Owner != "" {
		kv("owner", tomldoc.String(s.Owner), "")
	} else {
		placeholder("owner", `""`, "team that answers for this server")
	}
	kv("status", tomldoc.String(string(s.Status)), "approved | pending | blocked")
	if s.Risk != "" {
		kv("risk", tomldoc.String(string(s.Risk)), "low | medium | high | critical")
	} else {
		placeholder("risk", `""`, "low | medium | high | critical")
	}
	if len(s.DataScope) > 0 {
		kv("data_scope", tomldoc.Strings(s.DataScope), "what it can read or change")
	} else {
		placeholder("data_scope", "[]", "what it can read or change")
	}
	if a := s.Auth.TOMLInline(); a != "" {
		kv("auth", a, "outbound credentials (README)")
	} else {
		placeholder("auth.type", `"none"`, "none | api_key | api_key_per_user | oauth_user | oauth_client | passthrough | headers")
	}
	if len(s.Groups) > 0 {
		kv("groups", tomldoc.Strings(s.Groups), "who may use it; empty means everyone")
	}
	if s.FailMode != "" {
		kv("fail_mode", tomldoc.String(string(s.FailMode)), "closed: refuse calls when in doubt; open: allow")
	}

	if l := s.Launch; l.Transport != "" || l.Command != "" || len(l.Args) > 0 || len(l.Env) > 0 || l.URL != "" || len(l.Headers) > 0 || l.Protocol != "" {
		line("")
		table("launch")
		sjStringKV(kv, "transport", l.Transport)
		sjStringKV(kv, "command", l.Command)
		sjListKV(kv, "args", l.Args)
		sjListKV(kv, "env", l.Env)
		sjStringKV(kv, "url", l.URL)
		sjListKV(kv, "headers", l.Headers)
		sjStringKV(kv, "protocol", l.Protocol)
	}
	if m := s.Match; len(m.Packages)+len(m.Commands)+len(m.URLs) > 0 {
		line("")
		table("match")
		sjListKV(kv, "packages", m.Packages)
		sjListKV(kv, "commands", m.Commands)
		sjListKV(kv, "urls", m.URLs)
	}
	if t := s.Tools; len(t.Allow)+len(t.Deny)+len(t.Groups) > 0 {
		line("")
		table("tools")
		sjListKV(kv, "allow", t.Allow)
		sjListKV(kv, "deny", t.Deny)
		if len(t.Groups) > 0 {
			table("tools", "groups")
			for _, k := range sjSortedKeys(t.Groups) {
				kv(k, tomldoc.Strings(t.Groups[k]), "")
			}
		}
	}
	if l := s.Limits; l.CallsPerMinute != 0 || len(l.Tools) > 0 {
		line("")
		table("limits")
		if l.CallsPerMinute != 0 {
			kv("calls_per_minute", tomldoc.Int(int64(l.CallsPerMinute)), "per user, whole server")
		}
		if len(l.Tools) > 0 {
			table("limits", "tools")
			for _, k := range sjSortedKeys(l.Tools) {
				kv(k, tomldoc.Int(int64(l.Tools[k])), "")
			}
		}
	}
	if len(s.Pins) > 0 {
		line("")
		table("pins")
		for _, k := range sjSortedKeys(s.Pins) {
			kv(k, tomldoc.String(s.Pins[k]), "")
		}
	}
	if r := s.Review; r != nil {
		line("")
		table("review")
		sjStringKV(kv, "reviewer", r.Reviewer)
		if !r.Date.IsZero() {
			kv("date", tomldoc.Date(r.Date), "")
		}
		sjStringKV(kv, "findings_digest", r.FindingsDigest)
		sjStringKV(kv, "notes", r.Notes)
	}
	if imp.Registry != nil && imp.Registry.ServerJSON != "" {
		line("")
		comment("The registry's server.json as imported; `catalog export` gives it back.")
		table("registry")
		kv("server_json", sjTOMLMultiline(imp.Registry.ServerJSON, nl), "")
	}
}

func sjStringKV(kv func(key, value, note string), key, value string) {
	if value != "" {
		kv(key, tomldoc.String(value), "")
	}
}

func sjListKV(kv func(key, value, note string), key string, list []string) {
	if len(list) > 0 {
		kv(key, tomldoc.Strings(list), "")
	}
}

func sjSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sjTOMLMultiline writes s as a TOML multi-line string that reads back as s
// (with nl for its line breaks): a literal string (”'…”') keeps JSON
// readable; text a literal cannot hold (”' itself, control characters)
// falls back to an escaped basic string ("""…""").
func sjTOMLMultiline(s, nl string) string {
	literal := !strings.Contains(s, "'''") && !strings.HasSuffix(s, "'")
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			literal = false
			break
		}
	}
	if literal {
		return "'''" + nl + strings.ReplaceAll(s, "\n", nl) + "'''"
	}
	var b strings.Builder
	b.WriteString(`"""` + nl)
	for i, r := range s {
		switch {
		// A quote needs escaping only where it would start a closing """
		// (followed by another quote, or last).
		case r == '\\' || r == '"' && (i+1 == len(s) || s[i+1] == '"'):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(nl)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"""`)
	return b.String()
}

// sjCheckLoads renders an imported entry alone (without its registry table)
// and loads it with the strict catalog loader, so an import never yields
// an entry catalog.toml would refuse.
func sjCheckLoads(imp ImportedServer) error {
	imp.Registry = nil
	text, err := AppendTOML("", []ImportedServer{imp})
	if err != nil {
		return err
	}
	_, err = catalog.Parse("server.json", []byte(text))
	if ve, ok := err.(*catalog.ValidationError); ok {
		msgs := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			msgs[i] = p.Message
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return err
}

// AppendServers adds imported servers to the catalog file at path: new
// blocks at the end, no existing byte changed, the result validated and
// written atomically. Nothing is written when an id is taken or the result
// is invalid.
func AppendServers(path string, servers []ImportedServer) error {
	return catalog.Rewrite(path, "import", func(_ *catalog.Catalog, text string) (string, error) {
		return AppendTOML(text, servers)
	})
}
