package scan

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Bytes(s string, bigEndian bool) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2+2*len(u))
	if bigEndian {
		b[0], b[1] = 0xFE, 0xFF
	} else {
		b[0], b[1] = 0xFF, 0xFE
	}
	for i, c := range u {
		if bigEndian {
			binary.BigEndian.PutUint16(b[2+2*i:], c)
		} else {
			binary.LittleEndian.PutUint16(b[2+2*i:], c)
		}
	}
	return b
}

func TestDecodeText(t *testing.T) {
	const doc = "{\"mcpServers\": {\"é\": {\"command\": \"npx\"}}}\n"
	cases := []struct {
		name string
		in   []byte
	}{
		{"plain UTF-8", []byte(doc)},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, doc...)},
		{"UTF-16 LE BOM", utf16Bytes(doc, false)},
		{"UTF-16 BE BOM", utf16Bytes(doc, true)},
	}
	for _, c := range cases {
		got, err := decodeText(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != doc {
			t.Errorf("%s: decoded %q, want %q", c.name, got, doc)
		}
	}
	// Astral characters survive as surrogate pairs.
	if got, err := decodeText(utf16Bytes("{\"a\": \"🙂\"}", false)); err != nil || string(got) != "{\"a\": \"🙂\"}" {
		t.Errorf("UTF-16 surrogate pair: %q, %v", got, err)
	}
}

func TestDecodeTextEmpty(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":           {},
		"whitespace":      []byte(" \n\t\r\n "),
		"BOM only":        {0xEF, 0xBB, 0xBF},
		"BOM + blanks":    append([]byte{0xEF, 0xBB, 0xBF}, "\n\n"...),
		"UTF-16 BOM only": {0xFF, 0xFE},
		"UTF-16 blanks":   utf16Bytes("  \r\n", true),
	} {
		if _, err := decodeText(in); !errors.Is(err, errEmpty) {
			t.Errorf("%s: err = %v, want errEmpty", name, err)
		}
	}
}

func TestDecodeTextErrors(t *testing.T) {
	cases := []struct {
		name      string
		in        []byte
		line, col int
		msg       string
	}{
		{"invalid UTF-8", []byte("{\n  \"a\": \"\xff\"\n}"), 2, 9, "invalid UTF-8"},
		{"invalid UTF-8 first byte", []byte("\xc3\x28{}"), 1, 1, "invalid UTF-8"},
		{"invalid UTF-8 after multibyte", []byte("{\"é\": 1,\n\"b\":\n \xe2\x82}"), 3, 2, "invalid UTF-8"},
		{"odd UTF-16", append(utf16Bytes("{}", false), 0x00), 0, 0, "UTF-16 file has an odd number of bytes"},
	}
	for _, c := range cases {
		_, err := decodeText(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a ParseError", c.name, err)
			continue
		}
		if pe.Line != c.line || pe.Column != c.col || pe.Msg != c.msg {
			t.Errorf("%s: got line %d col %d %q, want line %d col %d %q", c.name, pe.Line, pe.Column, pe.Msg, c.line, c.col, c.msg)
		}
	}
}

// mustParse decodes and parses text or fails the test.
func mustParse(t *testing.T, text string, f format) *node {
	t.Helper()
	b, err := decodeText([]byte(text))
	if err != nil {
		t.Fatalf("decodeText: %v", err)
	}
	n, err := parse(b, f)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return n
}

func parseErr(t *testing.T, text string, f format) *ParseError {
	t.Helper()
	_, err := parse([]byte(text), f)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("parse(%.40q) err = %v, want a ParseError", text, err)
	}
	return pe
}

func memberLine(t *testing.T, n *node, key string) int {
	t.Helper()
	if n == nil || n.kind != kObject {
		t.Fatalf("not an object looking up %q", key)
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i].line
		}
	}
	t.Fatalf("no member %q", key)
	return 0
}

func TestParseJSONC(t *testing.T) {
	text := `// Cursor keeps comments
{
  /* servers */
  "mcpServers": {
    "fetch": {
      "command": "uvx", // trailing comment
      "args": ["mcp-server-fetch",],
      "env": {"A": 1, "B": true, "C": null, "D": "x\u00e9\"y"},
    },
    "remote": {"url": "https://mcp.example.com/mcp"},
  },
}
`
	root := mustParse(t, text, formatJSON)
	servers := root.get("mcpServers")
	if got := memberLine(t, root, "mcpServers"); got != 4 {
		t.Errorf("mcpServers line = %d, want 4", got)
	}
	if got := memberLine(t, servers, "fetch"); got != 5 {
		t.Errorf("fetch line = %d, want 5", got)
	}
	if got := memberLine(t, servers, "remote"); got != 10 {
		t.Errorf("remote line = %d, want 10", got)
	}
	fetch := servers.get("fetch")
	if fetch.get("command").text() != "uvx" || fetch.get("args").line != 7 {
		t.Errorf("fetch = %+v", fetch)
	}
	if got := fetch.get("args").strings(); len(got) != 1 || got[0] != "mcp-server-fetch" {
		t.Errorf("args = %q", got)
	}
	env := fetch.get("env")
	if env.get("A").kind != kNumber || env.get("A").text() != "1" {
		t.Errorf("A = %+v", env.get("A"))
	}
	if !env.get("B").isTrue() || env.get("B").kind != kBool {
		t.Errorf("B = %+v", env.get("B"))
	}
	if env.get("C").kind != kNull || env.get("C").text() != "" {
		t.Errorf("C = %+v", env.get("C"))
	}
	if got := env.get("D").text(); got != "xé\"y" {
		t.Errorf("D = %q", got)
	}
	if got, want := kvKeys(servers), "fetch remote"; got != want {
		t.Errorf("member order = %q, want %q", got, want)
	}
}

func kvKeys(n *node) string {
	var keys []string
	for _, m := range n.members {
		keys = append(keys, m.key)
	}
	return strings.Join(keys, " ")
}

func TestParseJSONCRLFLines(t *testing.T) {
	text := "{\r\n  \"mcpServers\": {\r\n\r\n    \"a\": {\"command\": \"x\"},\r\n    \"b\": {\r\n      \"command\": \"y\"\r\n    }\r\n  }\r\n}\r\n"
	root := mustParse(t, text, formatJSON)
	s := root.get("mcpServers")
	if a, b := memberLine(t, s, "a"), memberLine(t, s, "b"); a != 4 || b != 5 {
		t.Errorf("lines a=%d b=%d, want 4 and 5", a, b)
	}
	pe := parseErr(t, "{\r\n  \"a\": 1,\r\n  \"b\": [\r\n}", formatJSON)
	if pe.Line != 4 || pe.Column != 1 {
		t.Errorf("CRLF error at line %d col %d, want 4:1", pe.Line, pe.Column)
	}
}

func TestParseJSONDuplicateKeysLastWins(t *testing.T) {
	root := mustParse(t, `{"mcpServers": {"a": {"command": "old"}, "a": {"command": "new"}}}`, formatJSON)
	if got := root.path("mcpServers", "a", "command").text(); got != "new" {
		t.Errorf("duplicate key: got %q, want the last one", got)
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := []struct {
		text      string
		line, col int
		msg       string
	}{
		{"{\n  \"a\": 1,,\n}", 2, 10, "invalid character ',' at start of value"},
		{"{} {}", 1, 4, "invalid character '{' after top-level value"},
		{"{\"a\": /* unterminated", 1, 7, ""},
		{"{\"a\": \"unterminated}", 1, 21, "parsing string: unexpected EOF"},
	}
	for _, c := range cases {
		pe := parseErr(t, c.text, formatJSON)
		if pe.Line != c.line || pe.Column != c.col || c.msg != "" && pe.Msg != c.msg {
			t.Errorf("parse(%q) = line %d col %d %q, want %d:%d %q", c.text, pe.Line, pe.Column, pe.Msg, c.line, c.col, c.msg)
		}
		if strings.HasPrefix(pe.Msg, "hujson") || strings.HasPrefix(pe.Msg, "line ") {
			t.Errorf("parse(%q) message %q repeats the library prefix or position", c.text, pe.Msg)
		}
	}
}

func TestParseTopLevelNotObject(t *testing.T) {
	cases := []struct {
		text string
		f    format
		want string
	}{
		{"[]", formatJSON, "top-level value is an array, expected an object"},
		{"null", formatJSON, "top-level value is null, expected an object"},
		{`"x"`, formatJSON, "top-level value is a string, expected an object"},
		{"42", formatJSON, "top-level value is a number, expected an object"},
		{"true", formatJSON, "top-level value is a boolean, expected an object"},
		{"- a\n- b\n", formatYAML, "top-level value is an array, expected an object"},
		{"just text", formatYAML, "top-level value is a string, expected an object"},
		{"---\n", formatYAML, "top-level value is null, expected an object"},
	}
	for _, c := range cases {
		pe := parseErr(t, c.text, c.f)
		if pe.Msg != c.want || pe.Line < 1 || pe.Column != 1 {
			t.Errorf("parse(%q) = %+v, want %q at column 1", c.text, pe, c.want)
		}
	}
}

func TestParseYAMLCommentOnlyIsEmpty(t *testing.T) {
	if _, err := parse([]byte("# nothing configured\n"), formatYAML); !errors.Is(err, errEmpty) {
		t.Errorf("comment-only YAML: err = %v, want errEmpty", err)
	}
}

func TestParseTOML(t *testing.T) {
	text := `# Codex
model = "o3"

[mcp_servers.fetch]
command = "uvx"
args = ["mcp-server-fetch"]

[mcp_servers.fetch.env]
LOG = "debug"

[mcp_servers."my server"]
command = "node"

[mcp_servers.'lit.name'] # a literal key with a dot
url = "https://mcp.example.com/mcp"

[ mcp_servers . spaced ]
command = "x"

[projects."/home/ann/src/app"]
trust_level = "trusted"
`
	root := mustParse(t, text, formatTOML)
	servers := root.get("mcp_servers")
	want := []struct {
		name string
		line int
	}{{"fetch", 4}, {"my server", 11}, {"lit.name", 14}, {"spaced", 17}}
	for _, w := range want {
		if got := memberLine(t, servers, w.name); got != w.line {
			t.Errorf("[mcp_servers.%s] line = %d, want %d", w.name, got, w.line)
		}
		if got := servers.get(w.name).line; got != w.line {
			t.Errorf("%s node line = %d, want %d", w.name, got, w.line)
		}
	}
	if got, wantOrder := kvKeys(servers), "fetch my server lit.name spaced"; got != wantOrder {
		t.Errorf("server order = %q, want file order %q", got, wantOrder)
	}
	if got := servers.path("fetch", "env", "LOG").text(); got != "debug" {
		t.Errorf("env LOG = %q", got)
	}
	if got := memberLine(t, servers.get("fetch").get("env"), "LOG"); got != 9 {
		t.Errorf("env LOG line = %d, want 9", got)
	}
	if got := root.path("projects", "/home/ann/src/app", "trust_level").text(); got != "trusted" {
		t.Errorf("projects key = %q", got)
	}
	if got := memberLine(t, root, "model"); got != 2 {
		t.Errorf("model line = %d, want 2", got)
	}
}

func TestParseTOMLInlineAndDottedLines(t *testing.T) {
	text := `[mcp_servers]
fetch = { command = "uvx", args = ["mcp-server-fetch"], env = { A = "1" } }
git = { command = "uvx" }

[other]
x = 1
mcp_servers_not = 2
`
	root := mustParse(t, text, formatTOML)
	s := root.get("mcp_servers")
	if f, g := memberLine(t, s, "fetch"), memberLine(t, s, "git"); f != 2 || g != 3 {
		t.Errorf("inline table lines fetch=%d git=%d, want 2 and 3", f, g)
	}
	if got := s.path("fetch", "env", "A").text(); got != "1" {
		t.Errorf("inline env A = %q", got)
	}

	dotted := "model = \"x\"\nmcp_servers.time.command = \"uvx\"\nmcp_servers.time.args = [\"mcp-server-time\"]\n"
	root = mustParse(t, dotted, formatTOML)
	if got := memberLine(t, root.get("mcp_servers"), "time"); got != 2 {
		t.Errorf("dotted key line = %d, want 2", got)
	}
}

func TestParseTOMLValues(t *testing.T) {
	root := mustParse(t, "a = 1\nb = 1.5\nc = true\nd = 1979-05-27T07:32:00Z\ne = [[1, 2], [\"x\"]]\n[[arr]]\nn = 1\n[[arr]]\nn = 2\n", formatTOML)
	if n := root.get("a"); n.kind != kNumber || n.text() != "1" {
		t.Errorf("a = %+v", n)
	}
	if n := root.get("b"); n.kind != kNumber || n.text() != "1.5" {
		t.Errorf("b = %+v", n)
	}
	if n := root.get("c"); !n.isTrue() {
		t.Errorf("c = %+v", n)
	}
	if n := root.get("d"); n.kind != kString || n.text() != "1979-05-27T07:32:00Z" {
		t.Errorf("d = %+v", n)
	}
	if n := root.get("e"); n.kind != kArray || len(n.items) != 2 || n.items[0].kind != kArray {
		t.Errorf("e = %+v", n)
	}
	if n := root.get("arr"); n.kind != kArray || len(n.items) != 2 || n.items[1].get("n").text() != "2" {
		t.Errorf("arr = %+v", n)
	}
}

func TestParseTOMLErrors(t *testing.T) {
	cases := []struct {
		text      string
		line, col int
	}{
		{"[mcp_servers.a]\ncommand = \"x\"\nbad key = 1\n", 3, 5},
		{"[mcp_servers.a]\ncommand = \"x\"\ncommand = \"y\"\n", 3, 15},
		{"x = 1\n[a]\ny = ", 3, 4},
	}
	for _, c := range cases {
		pe := parseErr(t, c.text, formatTOML)
		if pe.Line != c.line || pe.Column != c.col || pe.Msg == "" {
			t.Errorf("parse(%q) = %d:%d %q, want %d:%d", c.text, pe.Line, pe.Column, pe.Msg, c.line, c.col)
		}
	}
}

func TestParseYAML(t *testing.T) {
	text := `name: my-assistant
version: 1.0.0
schema: v1
mcpServers:
  - name: fetch
    command: uvx
    args:
      - mcp-server-fetch
    env:
      LOG: debug
  - name: remote
    type: streamable-http
    url: https://mcp.example.com/mcp
    enabled: false
    timeout: 30
`
	root := mustParse(t, text, formatYAML)
	list := root.get("mcpServers")
	if list.kind != kArray || len(list.items) != 2 {
		t.Fatalf("mcpServers = %+v", list)
	}
	if got := list.items[0].line; got != 5 {
		t.Errorf("first item line = %d, want 5", got)
	}
	if got := list.items[1].line; got != 11 {
		t.Errorf("second item line = %d, want 11", got)
	}
	if got := memberLine(t, list.items[0], "env"); got != 9 {
		t.Errorf("env line = %d, want 9", got)
	}
	if n := list.items[1].get("enabled"); n.kind != kBool || !n.isFalse() {
		t.Errorf("enabled = %+v", n)
	}
	if n := list.items[1].get("timeout"); n.kind != kNumber || n.text() != "30" {
		t.Errorf("timeout = %+v", n)
	}
	if n := root.get("version"); n.kind != kString || n.text() != "1.0.0" {
		t.Errorf("version = %+v", n)
	}
}

func TestParseYAMLAnchorsAndMerge(t *testing.T) {
	text := `x-base: &base
  command: npx
  env: &env
    LOG: debug
x-other: &other
  command: other
  cwd: /tmp
mcpServers:
  - name: a
    <<: *base
    args: [a]
  - name: b
    env: *env
    command: uvx
  - name: c
    command: mine
    <<: *base
  - name: d
    <<: [*other, *base]
`
	root := mustParse(t, text, formatYAML)
	items := root.get("mcpServers").items
	if got := items[0].get("command").text(); got != "npx" {
		t.Errorf("a: merged command = %q, want npx", got)
	}
	if got := items[0].path("env", "LOG").text(); got != "debug" {
		t.Errorf("a: merged env = %q", got)
	}
	if got := items[1].path("env", "LOG").text(); got != "debug" {
		t.Errorf("b: aliased env = %q", got)
	}
	// Bug: a merge key written after an explicit key overrode it.
	if got := items[2].get("command").text(); got != "mine" {
		t.Errorf("c: command = %q, want the mapping's own value mine", got)
	}
	// A list of merged maps: the first one wins.
	if got := items[3].get("command").text(); got != "other" {
		t.Errorf("d: command = %q, want other (first merged map wins)", got)
	}
	if got := items[3].get("cwd").text(); got != "/tmp" {
		t.Errorf("d: cwd = %q", got)
	}
	if got := items[3].path("env", "LOG").text(); got != "debug" {
		t.Errorf("d: env from the second merged map = %q", got)
	}
}

func TestParseYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	_, err := parse([]byte(b.String()), formatYAML)
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "alias bomb") {
		t.Fatalf("alias bomb: err = %v, want a ParseError naming the alias bomb", err)
	}
}

func itoa(i int) string {
	return string(rune('0' + i))
}

func TestParseYAMLErrors(t *testing.T) {
	// Scanner errors carry the line of the problem.
	pe := parseErr(t, "x: 1\ny: 2\nz: b: c\n", formatYAML)
	if pe.Line != 3 || pe.Msg != "mapping values are not allowed in this context" {
		t.Errorf("scanner error = %+v, want line 3", pe)
	}
	pe = parseErr(t, "a: 'x\n\nb: 1\n", formatYAML)
	if pe.Line != 4 {
		t.Errorf("unterminated quote = %+v, want line 4", pe)
	}
	// yaml.v3 reports parser errors at the line of the enclosing
	// collection (0-based), not of the problem: the line is at most the
	// problem's, never past it.
	pe = parseErr(t, "a:\n  b: 1\n c: 2\n", formatYAML)
	if pe.Line < 1 || pe.Line > 3 || pe.Msg != "did not find expected key" {
		t.Errorf("parser error = %+v, want a line in 1..3", pe)
	}
	pe = parseErr(t, "x: 1\ny: *nope\n", formatYAML)
	if pe.Msg != "unknown anchor 'nope' referenced" {
		t.Errorf("unknown anchor = %+v", pe)
	}
	// A self-referencing alias is cut by the depth bound.
	pe = parseErr(t, "a: &a [*a]\n", formatYAML)
	if !strings.Contains(pe.Msg, "nesting deeper than") {
		t.Errorf("self alias = %+v", pe)
	}
}

func TestParseDepthLimit(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	ok := []struct {
		name string
		text string
		f    format
	}{
		{"JSON at the limit", `{"a":` + nest("[", "]", maxDepth-1) + "}", formatJSON},
		{"TOML arrays below the limit", "a = " + nest("[", "]", maxDepth-2), formatTOML},
		{"TOML inline tables below the limit", "a = " + nest("{b = ", "}", maxDepth-2), formatTOML},
		{"YAML below the limit", "a: " + nest("[", "]", maxDepth-2), formatYAML},
		{"JSON brackets in strings and comments", `{"a": "` + strings.Repeat("[", 1000) + `" /* ` + strings.Repeat("{", 1000) + ` */}`, formatJSON},
		{"TOML brackets in strings and comments", "a = \"" + strings.Repeat("[", 1000) + "\" # " + strings.Repeat("{", 1000) + "\nb = '" + strings.Repeat("[", 1000) + "'\nc = \"\"\"\n" + strings.Repeat("{", 1000) + "\n\"\"\"\nd = '''" + strings.Repeat("[", 1000) + "'''\n", formatTOML},
	}
	for _, c := range ok {
		if _, err := parse([]byte(c.text), c.f); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, n := range []int{maxDepth + 1, 100_000, 2_000_000} {
		bad := []struct {
			name string
			text string
			f    format
		}{
			{"JSON arrays", `{"a":` + nest("[", "]", n) + "}", formatJSON},
			{"JSON objects", nest(`{"a":`, "}", n), formatJSON},
			{"TOML arrays", "a = " + nest("[", "]", n), formatTOML},
			{"TOML inline tables", "a = " + nest("{b = ", "}", n), formatTOML},
			{"TOML dotted key", "a" + strings.Repeat(".a", n) + " = 1", formatTOML},
			{"TOML table header", "[a" + strings.Repeat(".a", n) + "]\nx = 1", formatTOML},
			{"TOML tables in arrays", "a = " + nest("[{b = ", "}]", n), formatTOML},
			{"YAML flow", "a: " + nest("[", "]", n), formatYAML},
		}
		if n > 100_000 {
			bad = bad[:7] // yaml.v3 reads the whole document first; 100,000 shows the point
		}
		for _, c := range bad {
			_, err := parse([]byte(c.text), c.f)
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "deeper than") && !strings.Contains(pe.Msg, "max depth") {
				t.Errorf("%s nested %d deep: err = %v, want a nesting ParseError", c.name, n, err)
			}
		}
	}
}

// TestParseTOMLDepthNotFooledByStrings: a string the depth check skips must
// be a string to the decoder too, or nesting hidden "inside" it would reach
// the decoder. Bug: a million "[" (4 MB) overflowed the decoder's stack and
// killed the process.
func TestParseTOMLDepthNotFooledByStrings(t *testing.T) {
	deep := strings.Repeat("[", 100_000)
	for _, text := range []string{
		// """x"""" is the string x" — the fourth quote closes nothing.
		"a = [\"\"\"x\"\"\"\", " + deep,
		"a = ['''x'''', " + deep,
		// A single-line string ends at the newline at the latest.
		"a = \"unterminated\nb = " + deep,
		// An escaped quote does not end a basic string; an escaped backslash does not escape the quote.
		"a = [\"x\\\\\", " + deep,
	} {
		_, err := parse([]byte(text), formatTOML)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("parse(%.30q…) err = %v, want a ParseError", text, err)
		}
	}
}

func TestFormatOf(t *testing.T) {
	cases := map[string]format{
		"/a/config.toml":        formatTOML,
		"/a/CONFIG.TOML":        formatTOML,
		"/a/config.yaml":        formatYAML,
		"/a/server.yml":         formatYAML,
		"/a/mcp.json":           formatJSON,
		"/a/opencode.jsonc":     formatJSON,
		"/a/x.code-workspace":   formatJSON,
		"/a/.continue/mcp/file": formatJSON,
	}
	for p, want := range cases {
		if got := formatOf(p); got != want {
			t.Errorf("formatOf(%q) = %d, want %d", p, got, want)
		}
	}
}
