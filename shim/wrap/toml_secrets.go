package wrap

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// tomlStrings finds the string elements of the TOML array text a (one
// line or several, comments allowed): each element's literal, as offsets
// into a. ok is false for anything else (multi-line strings, nested
// arrays), which --move-secrets then leaves alone.
func tomlStrings(a string) (spans [][2]int, ok bool) {
	if !strings.HasPrefix(a, "[") {
		return nil, false
	}
	for i := 1; i < len(a); i++ {
		switch c := a[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',':
		case c == '#':
			for i < len(a) && a[i] != '\n' {
				i++
			}
		case c == ']':
			return spans, true
		case c == '"' || c == '\'':
			if strings.HasPrefix(a[i:], `"""`) || strings.HasPrefix(a[i:], "'''") {
				return nil, false
			}
			end := tomlStringEnd(a, i)
			if end < 0 {
				return nil, false
			}
			spans = append(spans, [2]int{i, end})
			i = end - 1
		default:
			return nil, false
		}
	}
	return nil, false
}

// tomlStringEnd is the end of the one-line basic or literal string at
// s[i], or -1.
func tomlStringEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s) && s[j] != '\n'; j++ {
		if q == '"' && s[j] == '\\' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1
		}
	}
	return -1
}

// envValue is where the value of env.name of the entry is in the file: a
// key of its [mcp_servers.ENTRY.env] table, or of an inline env table.
func (d *tdoc) envValue(entry, name string) (int, int, bool) {
	if k := d.doc.Key("mcp_servers", entry, "env", name); k != nil {
		return k.ValueStart + d.bom, k.ValueEnd + d.bom, true
	}
	ek := d.key(entry, "env")
	if ek == nil {
		return 0, 0, false
	}
	return d.inlineValue(ek, name)
}

// moveSecrets takes the literal secrets of the entry's env (a table or an
// inline table) into the vault, as the JSON wrap does: each value becomes
// "" and the shim sets it from --secret-env. A value not written verbatim
// (escapes) is left, and named in notMoved.
func (d *tdoc) moveSecrets(it *item, o Options, e map[string]any) (ms []moved, notMoved []string, err error) {
	if o.MoveSecret == nil {
		return nil, nil, nil
	}
	env, _ := e["env"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		v, ok := env[name].(string)
		if !ok {
			continue
		}
		if _, ok := secret.Detect(name, v); !ok {
			continue
		}
		s, end, ok := d.envValue(it.srv.Name, name)
		if !ok || string(d.b[s+1:end-1]) != v || strings.ContainsAny(v, "\\\"'") {
			notMoved = append(notMoved, "env."+name)
			continue
		}
		ref, err := o.MoveSecret(it.srv, name, v, !o.DryRun)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", name, err)
		}
		q := string(d.b[s])
		ms = append(ms, moved{name: name, ref: ref,
			clear: patch{s, end, q + q}, mask: patch{s, end, tomldoc.String(secret.Mask(v))},
			span: Span{Field: "env." + name, Original: q + secretMark + q, Wrapped: q + q, Refs: []string{ref}}})
	}
	return ms, notMoved, nil
}
