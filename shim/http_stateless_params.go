package shim

// The Mcp-Param-* headers a stateless upstream is sent (from the
// x-mcp-header annotations of its tools) and the _meta members merged
// into each request's params.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// schemaProperty is what x-mcp-header processing reads of a schema.
type schemaProperty struct {
	XMCPHeader jsontext.Value            `json:"x-mcp-header"`
	Properties map[string]schemaProperty `json:"properties"`
}

// ToolParamHeaders reads the x-mcp-header annotations of the tools a
// tools/list result lists, by tool name; nil when the result does not
// read. The shim and the gateway read them alike: the headers a stateless
// upstream is sent, and those a stateless client's call is checked by.
func ToolParamHeaders(result json.RawMessage) map[string][]ParamHeader {
	var page struct {
		Tools []struct {
			Name        string         `json:"name"`
			InputSchema schemaProperty `json:"inputSchema"`
		} `json:"tools"`
	}
	if jsonv2.Unmarshal(result, &page, jsonv2.RejectUnknownMembers(false)) != nil {
		return nil
	}
	out := make(map[string][]ParamHeader, len(page.Tools))
	for _, t := range page.Tools {
		out[t.Name] = collectParams(t.InputSchema.Properties, nil, nil)
	}
	return out
}

// noteTools learns the x-mcp-header annotations of the tools a
// tools/list result lists; st.mu is held.
func (st *statelessUp) noteTools(result json.RawMessage) {
	found := ToolParamHeaders(result)
	if found == nil {
		return
	}
	if st.params == nil {
		st.params = map[string][]ParamHeader{}
	}
	maps.Copy(st.params, found)
}

func collectParams(props map[string]schemaProperty, prefix []string, out []ParamHeader) []ParamHeader {
	for name, p := range props {
		path := append(append([]string(nil), prefix...), name)
		var header string
		if len(p.XMCPHeader) > 0 && jsonv2.Unmarshal(p.XMCPHeader, &header) == nil && header != "" {
			out = append(out, ParamHeader{Path: path, Header: header})
		}
		if len(p.Properties) > 0 {
			out = collectParams(p.Properties, path, out)
		}
	}
	return out
}

// statelessHeaders sets the headers by which the revision mirrors a
// request's body: Mcp-Method, Mcp-Name for a named request, and a tool
// call's annotated arguments in Mcp-Param-* (a string as it is, an
// integer in decimal, a boolean as true or false).
func (u *HTTPUpstream) statelessHeaders(h http.Header, m *rpc.Message) {
	h.Set("Mcp-Method", m.Method)
	var p struct {
		Name      string                    `json:"name"`
		URI       string                    `json:"uri"`
		Arguments map[string]jsontext.Value `json:"arguments"`
	}
	_ = jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false))
	switch m.Method {
	case "tools/call", "prompts/get":
		h.Set("Mcp-Name", headerValue(p.Name))
	case "resources/read":
		h.Set("Mcp-Name", headerValue(p.URI))
	}
	if m.Method != "tools/call" {
		return
	}
	st := u.stateless
	st.mu.Lock()
	params := st.params[p.Name]
	st.mu.Unlock()
	for _, b := range params {
		if v, ok := argumentAt(p.Arguments, b.Path); ok {
			h.Set("Mcp-Param-"+b.Header, v)
		}
	}
}

// argumentAt is the argument at path as a header carries it; false when
// it is absent, null or not a string, an integer or a boolean.
func argumentAt(args map[string]jsontext.Value, path []string) (string, bool) {
	v, ok := args[path[0]]
	for _, part := range path[1:] {
		var obj map[string]jsontext.Value
		if !ok || jsonv2.Unmarshal(v, &obj) != nil {
			return "", false
		}
		v, ok = obj[part]
	}
	if !ok {
		return "", false
	}
	switch v.Kind() {
	case '"':
		var s string
		if jsonv2.Unmarshal(v, &s) != nil {
			return "", false
		}
		return headerValue(s), true
	case 't', 'f':
		return string(v), true
	case '0':
		n, err := strconv.ParseFloat(string(v), 64)
		if err != nil || n != float64(int64(n)) || n > 1<<53-1 || n < -(1<<53-1) {
			return "", false
		}
		return strconv.FormatInt(int64(n), 10), true
	}
	return "", false
}

// headerValue is a value as the revision carries it in a header:
// Base64 between "=?base64?" and "?=" when it is not plain printable
// ASCII without leading or trailing blanks, or reads as such a form.
func headerValue(s string) string {
	plain := s == "" || s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t'
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			plain = false
		}
	}
	if strings.HasPrefix(s, "=?base64?") && strings.HasSuffix(s, "?=") {
		plain = false
	}
	if plain {
		return s
	}
	return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// withMeta is params with the members of meta in its _meta, those the
// request carries already kept; every other byte is kept.
func withMeta(params json.RawMessage, meta map[string]json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
		params = json.RawMessage(`{}`)
	}
	var p map[string]jsontext.Value
	if err := jsonv2.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("params must be an object: %v", err)
	}
	current := json.RawMessage(`{}`)
	if v, ok := p["_meta"]; ok && v.Kind() != 'n' {
		current = json.RawMessage(v)
	}
	m, err := setMembers(current, meta, false)
	if err != nil {
		return nil, fmt.Errorf("_meta: %w", err)
	}
	return setMembers(params, map[string]json.RawMessage{"_meta": m}, true)
}

// setMembers is the object obj with the members of add: a member obj has
// already is replaced when replace is set, else kept; the others are
// added at the end, in name order. Every other byte is kept.
func setMembers(obj json.RawMessage, add map[string]json.RawMessage, replace bool) (json.RawMessage, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, fmt.Errorf("not an object")
	}
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		member := name.String()
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if nv, ok := add[member]; ok {
			seen[member] = true
			if replace {
				v = jsontext.Value(nv)
			}
		}
		if err := enc.WriteToken(jsontext.String(member)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(v); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(add))
	for name := range add {
		if !seen[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := enc.WriteToken(jsontext.String(name)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(jsontext.Value(add[name])); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(out.Bytes(), "\n")), nil
}
