package scan

import (
	"sort"
	"strings"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// fields is an entry's launch parameters in one spelling, with the line of
// each variable and header for findings.
type fields struct {
	command  string
	args     []string
	argsLine int
	url      string
	urlLine  int
	typ      string
	env      []kv
	headers  []kv
	disabled bool
	// settings are a Zed extension server's settings (tokens and the like),
	// which Zed hands to the extension; extension names the extension.
	settings  []kv
	extension string
}

type kv struct {
	key, value string
	line       int
	literal    bool // false when the value names a variable instead of holding one
}

// readFields normalises the field spellings of the dialects.
func readFields(e rawEntry, fsys FS) fields {
	n := e.node
	var f fields
	f.typ = strings.ToLower(firstText(n, "type", "transport"))

	c := n.get("command")
	if c == nil && e.dialect == dialectGoose {
		c = n.get("cmd")
	}
	switch {
	case c == nil:
	case c.kind == kArray: // opencode: command is the whole argv
		argv := c.strings()
		if len(argv) > 0 {
			f.command, f.args = argv[0], argv[1:]
		}
		f.argsLine = c.line
	case c.kind == kObject: // old Zed: {"path", "args", "env"}
		f.command = c.get("path").text()
		f.args = c.get("args").strings()
		f.argsLine = c.line
		f.env = append(f.env, kvs(c.get("env"), true)...)
	default:
		f.command = c.text()
	}
	if a := n.get("args"); a != nil && a.kind == kArray {
		f.args = append(f.args, a.strings()...)
		f.argsLine = a.line
	}
	if f.argsLine == 0 {
		f.argsLine = e.line
	}
	// A command with spaces and no args is a whole command line ("npx -y
	// pkg"), unless it names an existing file ("C:\Program Files\x.exe").
	if len(f.args) == 0 && strings.ContainsAny(f.command, " \t") {
		if _, err := fsys.Stat(f.command); err != nil {
			if argv := launch.SplitCommandLine(f.command); len(argv) > 1 {
				f.command, f.args = argv[0], argv[1:]
			}
		}
	}

	for _, k := range []string{"url", "serverUrl", "httpUrl", "uri"} {
		if u := n.get(k); u != nil && u.text() != "" {
			f.url, f.urlLine = u.text(), u.line
			break
		}
	}

	switch e.dialect {
	case dialectOpencode:
		f.env = append(f.env, kvs(n.get("environment"), true)...)
	case dialectGoose:
		f.env = append(f.env, kvs(n.get("envs"), true)...)
		f.env = append(f.env, kvs(n.get("env"), true)...)
	case dialectZed:
		f.env = append(f.env, kvs(n.get("env"), true)...)
		// An extension server has no command of its own: the extension
		// starts it, with these settings.
		if f.command == "" && f.url == "" && (n.get("source").text() == "extension" || n.get("settings") != nil) {
			f.extension = e.name
			f.settings = kvs(n.get("settings"), true)
		}
	case dialectCodex:
		f.env = append(f.env, kvs(n.get("env"), true)...)
		for _, name := range n.get("env_vars").strings() {
			f.env = append(f.env, kv{key: name, line: n.get("env_vars").line})
		}
		f.headers = append(f.headers, kvs(n.get("http_headers"), true)...)
		f.headers = append(f.headers, kvs(n.get("env_http_headers"), false)...)
		if b := n.get("bearer_token_env_var"); b != nil {
			f.headers = append(f.headers, kv{key: "Authorization", line: b.line})
		}
	default:
		f.env = append(f.env, kvs(n.get("env"), true)...)
	}
	if e.dialect != dialectCodex {
		f.headers = append(f.headers, kvs(n.get("headers"), true)...)
		f.headers = append(f.headers, kvs(n.path("requestOptions", "headers"), true)...)
	}

	// Only fields the client honours count: Claude Code starts servers marked
	// "disabled": true (it disables through its own state, e.disabled).
	f.disabled = e.disabled || e.dialect != dialectClaude && (n.get("disabled").isTrue() || n.get("enabled").isFalse())
	return f
}

func firstText(n *node, keys ...string) string {
	for _, k := range keys {
		if v := n.get(k).text(); v != "" {
			return v
		}
	}
	return ""
}

func kvs(n *node, literal bool) []kv {
	if n == nil || n.kind != kObject {
		return nil
	}
	out := make([]kv, 0, len(n.members))
	for _, m := range n.members {
		out = append(out, kv{key: m.key, value: m.val.text(), line: m.line, literal: literal})
	}
	return out
}

// transportOf decides the transport from the declared type, the dialect and
// the URL.
func transportOf(f fields, d dialect) Transport {
	switch f.typ {
	case "stdio", "local":
		return TransportStdio
	case "sse":
		return TransportSSE
	case "http", "streamable-http", "streamablehttp", "streamable_http", "streamable-https", "remote":
		return TransportHTTP
	case "ws", "websocket":
		return TransportWS
	}
	switch {
	case f.command != "", f.extension != "":
		return TransportStdio
	case d == dialectGemini:
		// Gemini CLI treats url and httpUrl alike as streamable HTTP.
		return TransportHTTP
	case strings.HasSuffix(strings.TrimRight(urlPath(f.url), "/"), "/sse"):
		return TransportSSE
	}
	return TransportHTTP
}

func urlPath(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		raw = raw[i+3:]
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexByte(raw, '/'); i >= 0 {
		return raw[i:]
	}
	return ""
}

// newServer normalises an entry into a Server and applies the rules.
func newServer(src source, file string, e rawEntry, env Env, fsys FS) Server {
	home := env.Home
	f := readFields(e, fsys)
	l := launch.Parse(f.command, f.args, f.url)
	s := Server{
		Client:    src.client,
		Scope:     e.scope,
		File:      file,
		Line:      e.line,
		Project:   e.project,
		Name:      e.name,
		Transport: transportOf(f, e.dialect),
		Command:   f.command,
		Disabled:  f.disabled,
		Governed:  l.Governed,
		WrappedBy: l.WrappedBy,
		launch:    l,
	}
	if s.WrappedBy == nil {
		s.WrappedBy = []string{}
	}
	s.Env = make([]string, 0, len(f.env))
	for _, v := range f.env {
		s.Env = append(s.Env, v.key)
	}
	sort.Strings(s.Env)
	for _, h := range f.headers {
		s.Headers = append(s.Headers, h.key)
	}
	if f.url != "" {
		s.URL = secret.MaskURLUser(secret.MaskURL(f.url))
	}
	var masked map[int]bool
	s.Findings, masked = findings(&s, f, l)
	// Everything scan prints or records of a command line goes through
	// MaskArgs, as the shim's refusals and records do. An argument a
	// finding flagged is masked whole should MaskArgs have kept it.
	s.Args = secret.MaskArgs(append([]string{f.command}, f.args...))[1:]
	for i, a := range f.args {
		if masked[i] && s.Args[i] == a {
			s.Args[i] = secret.MaskArg(a)
		}
	}
	if strings.ContainsAny(s.Command, " \t") {
		s.Command = secret.MaskCommandLine([]string{s.Command})
	}
	s.Identity = l.Identity(f.extension, home)
	if s.Identity == "" {
		s.Identity = "unknown:" + f.typ
	}
	return s
}
