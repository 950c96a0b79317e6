package shim

import (
	"bytes"
	"encoding/json"
	"github.com/mcpgov/mcpgov/policy/rpc"

	"github.com/go-json-experiment/json/jsontext"
)

// ID returns the raw top-level id of the oversized frame when its head or
// tail shows it, or nil: a call whose message was too large is then
// answered with an error that carries its id, instead of hanging.
func (e *FrameTooLargeError) ID() json.RawMessage {
	if id := headID(e.Head); id != nil {
		return id
	}
	return tailID(e.Tail)
}

// headID reads the frame's leading members up to the end of the head.
func headID(head []byte) json.RawMessage {
	dec := jsontext.NewDecoder(bytes.NewReader(head))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	for {
		name, err := dec.ReadToken()
		if err != nil || name.Kind() != '"' {
			return nil
		}
		isID := name.String() == "id" // before the next read voids the token
		val, err := dec.ReadValue()
		if err != nil {
			return nil // the value runs past the head
		}
		if isID {
			return rpc.ScalarID(val)
		}
	}
}

// tailID finds the id when it is among the frame's trailing members: the
// last `"id": scalar` that only scalar members and the closing brace
// follow. An "id" inside the result is always followed by more than one
// closing bracket, so it never qualifies.
func tailID(tail []byte) json.RawMessage {
	for end := len(tail); ; {
		i := bytes.LastIndex(tail[:end], []byte(`"id"`))
		if i < 0 {
			return nil
		}
		end = i
		before := bytes.TrimRight(tail[:i], " \t\r\n")
		if len(before) == 0 || (before[len(before)-1] != ',' && before[len(before)-1] != '{') {
			continue
		}
		rest := bytes.TrimLeft(tail[i+len(`"id"`):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		val, rest, ok := readScalar(rest[1:])
		if !ok || !onlyScalarMembers(rest) {
			continue
		}
		return rpc.ScalarID(val)
	}
}

// readScalar reads one string or number from the start of b.
func readScalar(b []byte) (jsontext.Value, []byte, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return nil, nil, false
	}
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, nil, false
	}
	switch tok.Kind() {
	case '"', '0', 't', 'f', 'n':
	default:
		return nil, nil, false
	}
	n := int(dec.InputOffset())
	return jsontext.Value(bytes.TrimSpace(b[:n])), b[n:], true
}

// onlyScalarMembers reports whether b is `(, "name": scalar)* }` and
// nothing else.
func onlyScalarMembers(b []byte) bool {
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return false
		}
		if b[0] == '}' {
			return len(bytes.TrimSpace(b[1:])) == 0
		}
		if b[0] != ',' {
			return false
		}
		name, rest, ok := readScalar(b[1:])
		if !ok || name.Kind() != '"' {
			return false
		}
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			return false
		}
		if _, b, ok = readScalar(rest[1:]); !ok {
			return false
		}
	}
}
