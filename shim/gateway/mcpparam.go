package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/mcpgov/mcpgov/shim"
)

// Mcp-Param-* headers (SEP-2243): a tool's input schema may name, with
// x-mcp-header on a property, an argument its clients mirror into the
// header Mcp-Param-{name} of a tools/call under the stateless revision, so
// that intermediaries can route on it without reading the body. Whoever
// processes the body must check that each such header matches the
// argument, and refuse the request when it does not (-32020, HTTP 400).
// The gateway's policy decides on the body, so a request whose headers say
// something else than the body is refused before policy runs: an
// intermediary in front of the gateway that routes or limits by the
// header must see what the gateway governs.
//
// The gateway learns a tool's annotations from the tools/list answers it
// gives the client (as the client saw them: filtered by the catalog's
// rules, and under their aggregated names on /mcp); a call of a tool it
// has not seen listed in the pooled session lists the tools first.

// paramHeaderPrefix starts the headers mirrored from arguments.
const paramHeaderPrefix = "Mcp-Param-"

// paramBinding is one x-mcp-header annotation: the property's path in
// the arguments and the header's name part.
type paramBinding = shim.ParamHeader

// noteTools learns the annotations of the tools a tools/list answer
// lists; s.mu is held.
func (s *session) noteTools(result json.RawMessage) {
	b := shim.ToolParamHeaders(result)
	if b == nil {
		return
	}
	if s.bindings == nil {
		s.bindings = map[string][]paramBinding{}
	}
	for name, bs := range b {
		s.bindings[name] = bs
	}
}

// bindingsOf returns the x-mcp-header annotations of tool name, listing
// the tools through the engine when the session has not seen it listed;
// ok is false when the tool is not listed (the engine then answers the
// call as it does any unknown tool).
func (s *session) bindingsOf(ctx context.Context, name string) ([]paramBinding, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ownTimeout)
	defer cancel()
	// A list that changes while it is listed is listed again: a tool it
	// did not name then may have annotations all the same.
	for range 3 {
		s.mu.Lock()
		bs, ok := s.bindings[name]
		complete, gen := s.bindingsComplete, s.bindingsGen
		s.mu.Unlock()
		if ok || complete {
			return bs, ok, nil
		}
		if err := s.listBindings(ctx); err != nil {
			if errors.Is(err, errTooManyPages) {
				// A tool seen on the pages listed is checked; one not
				// seen may be on a later page: refused, not forwarded
				// with its headers unchecked.
				s.mu.Lock()
				bs, ok = s.bindings[name]
				s.mu.Unlock()
				if ok {
					return bs, true, nil
				}
			}
			return nil, false, err
		}
		s.mu.Lock()
		bs, ok = s.bindings[name]
		if s.bindingsGen == gen {
			s.bindingsComplete = true // until the list changes
		}
		complete = s.bindingsComplete
		s.mu.Unlock()
		if ok || complete {
			return bs, ok, nil
		}
	}
	return nil, false, errors.New("the tools list kept changing while it was listed")
}

// maxListPages bounds the tools/list pages listBindings reads.
const maxListPages = 100

// errTooManyPages: the tools list did not end within maxListPages pages.
var errTooManyPages = fmt.Errorf("the tools list has more than %d pages, so a tool's x-mcp-header annotations cannot all be read; ask the server's operator to list more tools per page", maxListPages)

// listBindings lists every tool through the engine (as the client would
// see them) and notes their annotations; errTooManyPages when the list
// does not end within maxListPages pages.
func (s *session) listBindings(ctx context.Context) error {
	cursor := json.RawMessage(nil)
	for range maxListPages {
		params := json.RawMessage(`{}`)
		if cursor != nil {
			params = json.RawMessage(`{"cursor":` + string(cursor) + `}`)
		}
		result, err := s.ownRequest(ctx, "tools/list", params)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.noteTools(result)
		s.mu.Unlock()
		var page struct {
			NextCursor jsontext.Value `json:"nextCursor"`
		}
		_ = jsonv2.Unmarshal(result, &page, jsonv2.RejectUnknownMembers(false))
		if len(page.NextCursor) == 0 || string(page.NextCursor) == "null" {
			return nil
		}
		cursor = json.RawMessage(page.NextCursor)
	}
	return errTooManyPages
}

// checkParamHeaders checks a tools/call's Mcp-Param-* headers against its
// arguments, as SEP-2243 says a server that processes the body must.
func checkParamHeaders(hdr http.Header, params json.RawMessage, bindings []paramBinding) error {
	if len(bindings) == 0 {
		return nil
	}
	var p struct {
		Arguments map[string]jsontext.Value `json:"arguments"`
	}
	_ = jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false))
	for _, b := range bindings {
		name := paramHeaderPrefix + b.Header
		values := hdr.Values(name)
		if len(values) > 1 {
			return fmt.Errorf("the %s header is given %d times; send it once", name, len(values))
		}
		arg, present := lookupArgument(p.Arguments, b.Path)
		path := strings.Join(b.Path, ".")
		if !present || arg.Kind() == 'n' {
			if len(values) == 1 {
				return fmt.Errorf("header mismatch: %s header given for argument %q, which the body does not carry", name, path)
			}
			continue
		}
		if len(values) == 0 {
			return fmt.Errorf("header mismatch: missing %s header for argument %q (the tool's input schema names it with x-mcp-header)", name, path)
		}
		got, err := decodeHeaderValue(values[0])
		if err != nil {
			return fmt.Errorf("header mismatch: %s header: %v", name, err)
		}
		if !headerMatches(got, arg) {
			return fmt.Errorf("header mismatch: %s header does not match the body's argument %q", name, path)
		}
	}
	return nil
}

// lookupArgument reads the argument at path.
func lookupArgument(args map[string]jsontext.Value, path []string) (jsontext.Value, bool) {
	cur, ok := args[path[0]]
	for _, part := range path[1:] {
		if !ok {
			return nil, false
		}
		var obj map[string]jsontext.Value
		if jsonv2.Unmarshal(cur, &obj) != nil {
			return nil, false
		}
		cur, ok = obj[part]
	}
	return cur, ok
}

// headerMatches compares a decoded header value with an argument: a
// string as it is, a boolean as true or false, an integer by its value
// (42 and 42.0 are one).
func headerMatches(header string, arg jsontext.Value) bool {
	switch arg.Kind() {
	case '"':
		var s string
		return jsonv2.Unmarshal(arg, &s) == nil && s == header
	case 't':
		return header == "true"
	case 'f':
		return header == "false"
	case '0':
		body, err := strconv.ParseFloat(string(arg), 64)
		if err != nil || body != math.Trunc(body) || math.Abs(body) > 1<<53-1 {
			return false
		}
		h, err := strconv.ParseFloat(header, 64)
		return err == nil && h == body
	}
	return false
}

// decodeHeaderValue decodes the revision's Base64 sentinel
// (=?base64?…?=) and checks a plain value's characters.
func decodeHeaderValue(v string) (string, error) {
	if inner, ok := strings.CutPrefix(v, "=?base64?"); ok {
		if inner, ok = strings.CutSuffix(inner, "?="); ok {
			b, err := base64.StdEncoding.DecodeString(inner)
			if err != nil {
				return "", fmt.Errorf("invalid Base64 in %q", v)
			}
			return string(b), nil
		}
	}
	for _, c := range []byte(v) {
		if (c < 0x20 || c > 0x7e) && c != '\t' {
			return "", fmt.Errorf("value holds a character outside visible ASCII (0x%02x); such values are sent Base64-encoded", c)
		}
	}
	return v, nil
}
