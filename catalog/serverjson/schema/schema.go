// Package schema judges a server.json document against the MCP registry's
// 2025-12-11 schema, naming every problem by its JSON path. It is the leaf
// of the server.json interop: package catalog validates the record a
// catalog entry keeps (registry.server_json) with it when it loads, and
// package catalog/serverjson on import and export, so catalog does not
// import the interop package that imports it.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// The server.json checks below are the 2025-12-11 schema
// (https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json)
// written out in Go, so a document is judged without fetching anything and
// every problem names its JSON path. TestServerJSONValidatorAgreesWithSchema
// (package catalog/serverjson) holds them to the official schema file in
// catalog/serverjson/testdata/serverjson. Two checks
// are the official registry's, stricter than the schema: registryType must
// be one it knows, and a package identifier must not be empty.

// URL is the server.json schema version mcpgov reads and writes.
const URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

// Problem is one thing wrong in a server.json document, at a JSON path
// such as "packages[1].transport.url".
type Problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// String is the problem as one line: "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error lists every problem of one server.json document.
type Error struct {
	Doc      string // which document: "server.json", "[2]", "servers[3].server"
	Name     string // its name, when it has one
	Problems []Problem
}

func (e *Error) Error() string {
	where := e.Doc
	if e.Name != "" {
		where += " (" + e.Name + ")"
	}
	if len(e.Problems) == 1 {
		return where + ": " + e.Problems[0].String()
	}
	const shown = 5
	parts := make([]string, 0, shown)
	for i, p := range e.Problems {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Problems)-shown))
			break
		}
		parts = append(parts, p.String())
	}
	return fmt.Sprintf("%s: %d problems: %s", where, len(e.Problems), strings.Join(parts, "; "))
}

// Validate checks one server.json document against the 2025-12-11
// schema and returns a *Error listing every problem, or nil.
func Validate(data []byte) error {
	v, err := Decode(data)
	if err != nil {
		return &Error{Doc: "server.json", Problems: []Problem{{Message: err.Error()}}}
	}
	if probs := Check(v); len(probs) > 0 {
		e := &Error{Doc: "server.json", Problems: probs}
		if m, ok := v.(map[string]any); ok {
			e.Name, _ = m["name"].(string)
		}
		return e
	}
	return nil
}

// Decode decodes JSON keeping numbers as written, and places a syntax
// error by line and column.
func Decode(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not valid UTF-8 (server.json is UTF-8 JSON)")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, sjSyntaxError(data, err)
	}
	if dec.More() {
		return nil, sjSyntaxError(data, fmt.Errorf("unexpected data after the JSON value at offset %d", dec.InputOffset()))
	}
	return v, nil
}

// sjSyntaxError turns encoding/json's byte offsets into line:column.
func sjSyntaxError(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	// Offset counts the offending byte itself.
	if off > 0 {
		off--
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, err)
}

var (
	sjNamePattern     = lazyRegexp(`^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$`)
	sjHTTPURLPattern  = lazyRegexp(`^https?://[^\s]+$`)
	sjSHA256Pattern   = lazyRegexp(`^[a-f0-9]{64}$`)
	sjIconSizePattern = lazyRegexp(`^(\d+x\d+|any)$`)
)

// Enumerations of the schema (and, for registry types, of the registry).
var (
	sjRegistryTypes  = []string{"npm", "pypi", "oci", "nuget", "mcpb"}
	sjLocalTypes     = []string{"stdio", "streamable-http", "sse"}
	sjRemoteTypes    = []string{"streamable-http", "sse"}
	sjInputFormats   = []string{"string", "number", "boolean", "filepath"}
	sjIconMimeTypes  = []string{"image/png", "image/jpeg", "image/jpg", "image/svg+xml", "image/webp"}
	sjIconThemes     = []string{"light", "dark"}
	sjArgumentTypes  = []string{"positional", "named"}
	sjPublisherMeta  = "io.modelcontextprotocol.registry/publisher-provided"
	sjLegacySnakeKey = "registry_type"
)

// sjChecker accumulates problems while walking a decoded document.
type sjChecker struct{ probs []Problem }

func (c *sjChecker) add(path, format string, args ...any) {
	c.probs = append(c.probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func sjJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sjIndex(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// sjKind names a decoded JSON value's type for messages.
func sjKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (c *sjChecker) object(path string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be an object, not %s", sjKind(v))
	}
	return m, ok
}

func (c *sjChecker) array(path string, v any) ([]any, bool) {
	a, ok := v.([]any)
	if !ok {
		c.add(path, "must be an array, not %s", sjKind(v))
	}
	return a, ok
}

// str checks an optional string member; ok is false when absent or wrong.
func (c *sjChecker) str(m map[string]any, path, key string) (string, bool) {
	v, present := m[key]
	if !present {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		c.add(sjJoin(path, key), "must be a string, not %s", sjKind(v))
	}
	return s, ok
}

func (c *sjChecker) required(m map[string]any, path string, keys ...string) {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			c.add(sjJoin(path, k), "is required")
		}
	}
}

func (c *sjChecker) boolean(m map[string]any, path, key string) {
	if v, ok := m[key]; ok {
		if _, isBool := v.(bool); !isBool {
			c.add(sjJoin(path, key), "must be a boolean, not %s", sjKind(v))
		}
	}
}

func (c *sjChecker) length(path, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && min == 1:
		c.add(path, "must not be empty")
	case n < min:
		c.add(path, "must be at least %d characters, got %d", min, n)
	case max > 0 && n > max:
		c.add(path, "must be at most %d characters, got %d", max, n)
	}
}

func (c *sjChecker) enum(path, s string, allowed []string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	c.add(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
}

func (c *sjChecker) uri(path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		c.add(path, "%q is not an absolute URI", s)
	}
}

// Check returns every problem of a document Decode read.
func Check(v any) []Problem {
	c := &sjChecker{}
	m, ok := c.object("", v)
	if !ok {
		return c.probs
	}
	if schema, ok := c.str(m, "", "$schema"); ok {
		c.uri("$schema", schema)
		if strings.Contains(schema, "/2025-07-09/") {
			c.add("$schema", "%s is the 2025-07-09 format (snake_case fields); mcpgov reads the 2025-12-11 format", schema)
		}
	}
	c.required(m, "", "name", "description", "version")
	if name, ok := c.str(m, "", "name"); ok {
		c.length("name", name, 3, 200)
		if !sjNamePattern().MatchString(name) {
			c.add("name", "%q is not reverse-DNS \"namespace/name\" (exactly one slash; letters, digits, '.', '-' before it, also '_' after it)", name)
		}
	}
	if d, ok := c.str(m, "", "description"); ok {
		c.length("description", d, 1, 100)
	}
	if t, ok := c.str(m, "", "title"); ok {
		c.length("title", t, 1, 100)
	}
	if ver, ok := c.str(m, "", "version"); ok {
		c.length("version", ver, 0, 255)
	}
	if w, ok := c.str(m, "", "websiteUrl"); ok {
		c.uri("websiteUrl", w)
	}
	if r, present := m["repository"]; present {
		c.repository("repository", r)
	}
	if icons, present := m["icons"]; present {
		if list, ok := c.array("icons", icons); ok {
			for i, icon := range list {
				c.icon(sjIndex("icons", i), icon)
			}
		}
	}
	if pkgs, present := m["packages"]; present {
		if list, ok := c.array("packages", pkgs); ok {
			for i, p := range list {
				c.pkg(sjIndex("packages", i), p)
			}
		}
	}
	if remotes, present := m["remotes"]; present {
		if list, ok := c.array("remotes", remotes); ok {
			for i, r := range list {
				c.transport(sjIndex("remotes", i), r, sjRemoteTypes, true)
			}
		}
	}
	if meta, present := m["_meta"]; present {
		if mm, ok := c.object("_meta", meta); ok {
			if pp, present := mm[sjPublisherMeta]; present {
				c.object(sjJoin("_meta", sjPublisherMeta), pp)
			}
		}
	}
	return c.probs
}

func (c *sjChecker) repository(path string, v any) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	c.required(m, path, "url", "source")
	if u, ok := c.str(m, path, "url"); ok {
		c.uri(sjJoin(path, "url"), u)
	}
	c.str(m, path, "source")
	c.str(m, path, "id")
	c.str(m, path, "subfolder")
}

func (c *sjChecker) icon(path string, v any) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	c.required(m, path, "src")
	if src, ok := c.str(m, path, "src"); ok {
		c.uri(sjJoin(path, "src"), src)
		c.length(sjJoin(path, "src"), src, 0, 255)
	}
	if mt, ok := c.str(m, path, "mimeType"); ok {
		c.enum(sjJoin(path, "mimeType"), mt, sjIconMimeTypes)
	}
	if th, ok := c.str(m, path, "theme"); ok {
		c.enum(sjJoin(path, "theme"), th, sjIconThemes)
	}
	if sizes, present := m["sizes"]; present {
		if list, ok := c.array(sjJoin(path, "sizes"), sizes); ok {
			for i, s := range list {
				p := sjIndex(sjJoin(path, "sizes"), i)
				if str, ok := s.(string); !ok {
					c.add(p, "must be a string, not %s", sjKind(s))
				} else if !sjIconSizePattern().MatchString(str) {
					c.add(p, "%q: want WxH (e.g. 48x48) or any", str)
				}
			}
		}
	}
}

func (c *sjChecker) pkg(path string, v any) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	if _, legacy := m[sjLegacySnakeKey]; legacy {
		c.add(sjJoin(path, sjLegacySnakeKey), "snake_case fields are the 2025-07-09 format; use registryType, identifier, packageArguments, …")
	}
	c.required(m, path, "registryType", "identifier", "transport")
	if rt, ok := c.str(m, path, "registryType"); ok {
		c.enum(sjJoin(path, "registryType"), rt, sjRegistryTypes)
	}
	if id, ok := c.str(m, path, "identifier"); ok && id == "" {
		c.add(sjJoin(path, "identifier"), "must not be empty")
	}
	if ver, ok := c.str(m, path, "version"); ok {
		c.length(sjJoin(path, "version"), ver, 1, 0)
		if ver == "latest" {
			c.add(sjJoin(path, "version"), `"latest" is not a version; pin a specific one`)
		}
	}
	if sum, ok := c.str(m, path, "fileSha256"); ok && !sjSHA256Pattern().MatchString(sum) {
		c.add(sjJoin(path, "fileSha256"), "want 64 lower-case hex digits")
	}
	if base, ok := c.str(m, path, "registryBaseUrl"); ok {
		c.uri(sjJoin(path, "registryBaseUrl"), base)
	}
	c.str(m, path, "runtimeHint")
	if t, present := m["transport"]; present {
		c.transport(sjJoin(path, "transport"), t, sjLocalTypes, false)
	}
	for _, key := range []string{"runtimeArguments", "packageArguments"} {
		if args, present := m[key]; present {
			if list, ok := c.array(sjJoin(path, key), args); ok {
				for i, a := range list {
					c.argument(sjIndex(sjJoin(path, key), i), a)
				}
			}
		}
	}
	if env, present := m["environmentVariables"]; present {
		c.keyValues(sjJoin(path, "environmentVariables"), env)
	}
}

// transport checks a package transport (stdio allowed) or a remote.
func (c *sjChecker) transport(path string, v any, types []string, remote bool) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	c.required(m, path, "type")
	typ, ok := c.str(m, path, "type")
	if ok {
		c.enum(sjJoin(path, "type"), typ, types)
	}
	if typ == "streamable-http" || typ == "sse" {
		c.required(m, path, "url")
		if u, ok := c.str(m, path, "url"); ok && !sjHTTPURLPattern().MatchString(u) {
			c.add(sjJoin(path, "url"), "%q must start with http:// or https:// and contain no spaces", u)
		}
		if h, present := m["headers"]; present {
			c.keyValues(sjJoin(path, "headers"), h)
		}
	}
	if remote {
		if vars, present := m["variables"]; present {
			c.inputMap(sjJoin(path, "variables"), vars)
		}
	}
}

func (c *sjChecker) keyValues(path string, v any) {
	list, ok := c.array(path, v)
	if !ok {
		return
	}
	for i, item := range list {
		p := sjIndex(path, i)
		m, ok := c.object(p, item)
		if !ok {
			continue
		}
		c.required(m, p, "name")
		c.str(m, p, "name")
		c.input(p, m)
		if vars, present := m["variables"]; present {
			c.inputMap(sjJoin(p, "variables"), vars)
		}
	}
}

func (c *sjChecker) argument(path string, v any) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	c.input(path, m)
	if vars, present := m["variables"]; present {
		c.inputMap(sjJoin(path, "variables"), vars)
	}
	c.boolean(m, path, "isRepeated")
	typ, present := m["type"]
	if !present {
		c.add(sjJoin(path, "type"), "is required (positional or named)")
		return
	}
	s, ok := typ.(string)
	if !ok {
		c.add(sjJoin(path, "type"), "must be a string, not %s", sjKind(typ))
		return
	}
	switch s {
	case "positional":
		c.str(m, path, "valueHint")
		_, hasHint := m["valueHint"]
		_, hasValue := m["value"]
		if !hasHint && !hasValue {
			c.add(path, "a positional argument needs value or valueHint")
		}
	case "named":
		c.required(m, path, "name")
		c.str(m, path, "name")
	default:
		c.enum(sjJoin(path, "type"), s, sjArgumentTypes)
	}
}

// input checks the Input members an object may carry.
func (c *sjChecker) input(path string, m map[string]any) {
	for _, k := range []string{"description", "default", "placeholder", "value"} {
		c.str(m, path, k)
	}
	c.boolean(m, path, "isRequired")
	c.boolean(m, path, "isSecret")
	if f, ok := c.str(m, path, "format"); ok {
		c.enum(sjJoin(path, "format"), f, sjInputFormats)
	}
	if ch, present := m["choices"]; present {
		if list, ok := c.array(sjJoin(path, "choices"), ch); ok {
			for i, s := range list {
				if _, ok := s.(string); !ok {
					c.add(sjIndex(sjJoin(path, "choices"), i), "must be a string, not %s", sjKind(s))
				}
			}
		}
	}
}

func (c *sjChecker) inputMap(path string, v any) {
	m, ok := c.object(path, v)
	if !ok {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := sjJoin(path, k)
		if im, ok := c.object(p, m[k]); ok {
			c.input(p, im)
		}
	}
}

// lazyRegexp compiles expr on its first use, once, safe for concurrent
// first use: a start of mcpgov that never needs the pattern does not pay
// for it in package init.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
