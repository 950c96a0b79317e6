package enforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// callParams is a tools/call's params as the core read them, with exact
// member names, and the params to forward, re-encoded from what was read:
// what the core decided on is what the upstream receives.
type callParams struct {
	Name      string
	Arguments json.RawMessage
	Meta      json.RawMessage
	// InputResponses are a stateless retry's answers to the server's
	// input requests (an object), nil when it carries none.
	InputResponses json.RawMessage
	Forward        json.RawMessage
}

// callKeys are the members of tools/call params the core reads or the
// protocol defines.
var callKeys = []string{"name", "arguments", "_meta", "task", "inputResponses", "requestState"}

// parseCallParams reads tools/call params. It refuses what parsers would
// read differently: duplicate members (at any depth), members whose names
// differ from a params member only in case, a name that is not a
// non-empty string, and arguments that are not an object.
func parseCallParams(params json.RawMessage) (callParams, error) {
	var p callParams
	dec := jsontext.NewDecoder(bytes.NewReader(params))
	// The forwarded params: every member name re-quoted, the name's
	// value re-encoded from the decided string, other values as read
	// (validated, so every parser reads them alike): the arguments the
	// core decided on are byte for byte the ones forwarded.
	out := []byte{'{'}
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '{' {
		return p, errors.New("params must be an object")
	}
	hasName := false
	for dec.PeekKind() != '}' {
		nameTok, err := dec.ReadToken()
		if err != nil {
			return p, err
		}
		member := nameTok.String() // before the next read voids the token
		v, err := dec.ReadValue()
		if err != nil {
			return p, err
		}
		for _, k := range callKeys {
			if member != k && strings.EqualFold(member, k) {
				return p, fmt.Errorf("member %q differs only in case from %q", member, k)
			}
		}
		switch member {
		case "name":
			if v.Kind() != '"' {
				return p, errors.New("name must be a string")
			}
			var s []byte
			if s, err = jsontext.AppendUnquote(nil, v); err != nil || len(s) == 0 {
				return p, errors.New("name must be a non-empty string")
			}
			p.Name, hasName = string(s), true
			// Re-encoded from the decided value: no escapes left for a
			// server to read differently.
			v, _ = jsontext.AppendQuote(nil, p.Name)
		case "arguments":
			if v.Kind() != '{' {
				return p, errors.New("arguments must be an object")
			}
			p.Arguments = json.RawMessage(v.Clone())
		case "_meta":
			if v.Kind() != '{' {
				return p, errors.New("_meta must be an object")
			}
			p.Meta = json.RawMessage(v.Clone())
		case "inputResponses":
			// Scanned by the pre guardrails as the arguments are.
			if v.Kind() != '{' {
				return p, errors.New("inputResponses must be an object")
			}
			p.InputResponses = json.RawMessage(v.Clone())
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		if out, err = jsontext.AppendQuote(out, member); err != nil {
			return p, err
		}
		out = append(append(out, ':'), v...)
	}
	if _, err := dec.ReadToken(); err != nil {
		return p, err
	}
	if !hasName {
		return p, errors.New("name is missing")
	}
	p.Forward = json.RawMessage(append(out, '}'))
	return p, nil
}

// toolName reads a tools/call's tool name with exact keys, or "".
func toolName(params json.RawMessage) string { return readCall(params).name() }

// readParams is a tools/call's params read once (parseCallParams) for
// every check a session runs on the call before it goes upstream.
type readParams struct {
	p   callParams
	err error
}

func readCall(params json.RawMessage) *readParams {
	p, err := parseCallParams(params)
	return &readParams{p: p, err: err}
}

// name is the tool name, or "" for params that could not be read.
func (r *readParams) name() string {
	if r.err != nil {
		return ""
	}
	return r.p.Name
}
