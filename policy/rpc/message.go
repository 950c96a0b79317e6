// Package rpc is the JSON-RPC 2.0 message model of MCP as mcpgov reads it at
// the trust boundary: one strict parse with exact member names and
// duplicate rejection (STYLE rule 17), case-variant checks at any depth,
// ids kept as raw bytes and replaced without touching the rest of a frame,
// and the few responses mcpgov writes itself. The engine session and the
// transports (stdio relay, HTTP) share it; it knows no transport.
package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Message is one JSON-RPC message as it arrived: the raw frame, and the
// envelope members the relay routes on, each read with exact-key matching
// (DESIGN §3 "one parse, exact keys"). The ID stays raw JSON so that it is
// echoed byte for byte (go-sdk's jsonrpc.ID goes through float64 and
// corrupts integers above 2^53).
type Message struct {
	Raw    []byte
	ID     json.RawMessage // nil for a notification (no id, or id null)
	Method string          // "" for a response
	Params json.RawMessage
	Result json.RawMessage
	Error  json.RawMessage

	// HasID is true when the frame has an id member, even a null one.
	HasID bool
	// Related is set by a transport that knows it (Streamable HTTP): the
	// id of the request on whose answer stream the message came, as the
	// transport sent it. A server's request or notification on that
	// stream is about that request. Nil when the message came on no
	// request's stream (stdio, the GET stream, a JSON body).
	Related json.RawMessage
	// idStart and idEnd delimit the id value in Raw, so that it can be
	// replaced without touching the rest of the frame.
	idStart, idEnd int
}

var (
	ErrNotMessage = errors.New("not a JSON-RPC 2.0 message")
	// ErrAmbiguous marks a message that parsers read differently:
	// duplicate members, or members whose names differ only in case from
	// one a reader looks for (Go's encoding/json v1 folds case, and the
	// last match wins; JavaScript and Python read exact keys).
	ErrAmbiguous = errors.New("ambiguous JSON-RPC message")
)

// envelopeKeys are the members of a JSON-RPC 2.0 message.
var envelopeKeys = []string{"jsonrpc", "id", "method", "params", "result", "error"}

// Parse decodes one frame with exact-key matching. It refuses
// (ErrAmbiguous) a frame with a duplicate member at any depth, or with an
// envelope member whose name differs from a JSON-RPC member only in case;
// invalid UTF-8 and lone surrogates are refused as parse errors. The frame
// is copied, so the caller may reuse its buffer.
func Parse(frame []byte) (*Message, error) {
	raw := bytes.Clone(frame)
	m := &Message{Raw: raw}
	pd := getDecoder(raw)
	defer putDecoder(pd)
	dec := pd.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, parseError(err)
	}
	if tok.Kind() != '{' {
		return nil, ErrNotMessage
	}
	var version string
	for dec.PeekKind() != '}' {
		// The name is matched as the frame spells it, with no string made
		// of it: one per member of every message was most of a parse's
		// allocations.
		nameVal, err := dec.ReadValue()
		if err != nil {
			return nil, parseError(err)
		}
		member, err := envelopeMember(nameVal)
		if err != nil {
			return nil, err
		}
		val, err := dec.ReadValue()
		if err != nil {
			return nil, parseError(err)
		}
		end := int(dec.InputOffset())
		switch member {
		case "jsonrpc":
			if val.Kind() == '"' {
				version = Unquote(val)
			}
		case "id":
			m.HasID = true
			m.idStart, m.idEnd = end-len(val), end
			if val.Kind() != 'n' {
				m.ID = json.RawMessage(raw[m.idStart:m.idEnd])
			}
		case "method":
			if val.Kind() != '"' {
				return nil, ErrNotMessage
			}
			m.Method = Unquote(val)
		case "params":
			m.Params = json.RawMessage(val.Clone())
		case "result":
			m.Result = json.RawMessage(val.Clone())
		case "error":
			m.Error = json.RawMessage(val.Clone())
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, parseError(err)
	}
	if _, err := dec.ReadToken(); err == nil {
		return nil, fmt.Errorf("%w: data after the message", ErrNotMessage)
	} else if !errors.Is(err, errEOF) {
		return nil, parseError(err)
	}
	if version != "2.0" {
		return nil, ErrNotMessage
	}
	if m.Method == "" && m.ID == nil && m.Error == nil {
		return nil, ErrNotMessage
	}
	if m.ID != nil && m.ID[0] != '"' && (m.ID[0] < '0' || m.ID[0] > '9') && m.ID[0] != '-' {
		return nil, fmt.Errorf("%w: the id must be a string or a number", ErrNotMessage)
	}
	return m, nil
}

// errEOF is what jsontext reports at the end of its input.
var errEOF = func() error {
	_, err := jsontext.NewDecoder(bytes.NewReader(nil)).ReadToken()
	return err
}()

// parseError tells a duplicate member (ErrAmbiguous) from malformed JSON.
func parseError(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return fmt.Errorf("%w: %v", ErrAmbiguous, err)
	}
	return err
}

// Unquote returns the string a JSON string token holds.
func Unquote(v jsontext.Value) string {
	s, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return ""
	}
	return string(s)
}

// envelopeMember returns the envelope member (one of envelopeKeys) that
// the quoted member name nameVal is, or "" for another member; a name
// that differs from one only in case is refused (ErrAmbiguous).
func envelopeMember(nameVal jsontext.Value) (string, error) {
	name := unquotedName(nameVal)
	for _, k := range envelopeKeys {
		if string(name) == k {
			return k, nil
		}
	}
	if variant := caseVariant(string(name), envelopeKeys); variant != "" {
		return "", fmt.Errorf("%w: member %q differs only in case from %q", ErrAmbiguous, name, variant)
	}
	return "", nil
}

// unquotedName is the name a valid JSON string holds: the bytes between
// its quotes when it has no escape (no copy), else its unquoted copy.
func unquotedName(v jsontext.Value) []byte {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	s, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return nil
	}
	return s
}

// caseVariant returns the name in names that name differs from only in
// case, or "" (also when name is one of names exactly).
func caseVariant(name string, names []string) string {
	for _, n := range names {
		if name != n && strings.EqualFold(name, n) {
			return n
		}
	}
	return ""
}

// CheckNames refuses (ErrAmbiguous) a JSON value with sibling members
// whose names differ only in case, at any depth: Go's encoding/json v1
// reads either for a field of that name, other parsers one only.
// Duplicate members are refused already by Parse.
func CheckNames(v json.RawMessage, where string) error {
	if len(v) == 0 {
		return nil
	}
	pd := getDecoder(v)
	defer putDecoder(pd)
	dec := pd.dec
	// One entry per open container: the member names of an object (for
	// an array, unused). Entries are kept when their container closes, so
	// the next container at that depth reuses their slice; a pooled
	// decoder keeps them for its next value.
	stack, depth := pd.names[:0], 0
	defer func() {
		for i := range stack {
			stack[i].reset() // the names are v's bytes: keep none of them
		}
		pd.names = stack[:0]
	}()
	for {
		if depth > 0 {
			// A member name is read as the value it is in v, so that the
			// set holds v's own bytes: no string is made per name.
			if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 0 && dec.PeekKind() == '"' {
				val, err := dec.ReadValue()
				if err != nil {
					return parseError(err)
				}
				end := int(dec.InputOffset())
				name := unquotedName(jsontext.Value(v[end-len(val) : end]))
				if prev := stack[depth-1].add(name); prev != nil {
					return fmt.Errorf("%w: members %q and %q of %s differ only in case", ErrAmbiguous, prev, name, where+string(dec.StackPointer().Parent()))
				}
				continue
			}
		}
		tok, err := dec.ReadToken()
		if errors.Is(err, errEOF) {
			return nil
		}
		if err != nil {
			return parseError(err)
		}
		switch tok.Kind() {
		case '{', '[':
			switch {
			case depth < len(stack):
			case depth < cap(stack):
				stack = stack[:depth+1] // the set kept there, with its room
			default:
				stack = append(stack, nameSet{})
			}
			stack[depth].reset()
			depth++
		case '}', ']':
			depth--
		}
	}
}

// fold maps a name to a key shared by all its case variants (including
// the Kelvin sign and long s, which Go's case folding maps to k and s).
func fold(s string) string { return strings.ToLower(strings.ToUpper(s)) }

// nameSet holds an object's member names, as v's bytes; most objects
// have a few, so a slice is searched until it grows large enough for a
// map.
type nameSet struct {
	names [][]byte
	folds map[string][]byte
}

// reset empties the set, keeping the slice's room.
func (s *nameSet) reset() {
	clear(s.names)
	s.names, s.folds = s.names[:0], nil
}

// add records name and returns an earlier name that differs from it only
// in case, or nil.
func (s *nameSet) add(name []byte) []byte {
	if s.folds == nil && len(s.names) < 16 {
		for _, n := range s.names {
			if !bytes.Equal(n, name) && bytes.EqualFold(n, name) {
				return n
			}
		}
		s.names = append(s.names, name)
		return nil
	}
	if s.folds == nil {
		s.folds = make(map[string][]byte, 2*len(s.names))
		for _, n := range s.names {
			s.folds[fold(string(n))] = n
		}
	}
	key := fold(string(name))
	if prev, ok := s.folds[key]; ok && !bytes.Equal(prev, name) {
		return prev
	}
	s.folds[key] = name
	return nil
}

// IsCall reports whether m is a request that expects a response.
func (m *Message) IsCall() bool { return m.Method != "" && m.ID != nil }

// IsNotification reports whether m is a request without an ID.
func (m *Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// IsResponse reports whether m answers a call.
func (m *Message) IsResponse() bool { return m.Method == "" }

// WithID returns the frame with its id value replaced by id; every other
// byte is kept.
func (m *Message) WithID(id json.RawMessage) []byte {
	b := make([]byte, 0, len(m.Raw)-(m.idEnd-m.idStart)+len(id))
	b = append(b, m.Raw[:m.idStart]...)
	b = append(b, id...)
	return append(b, m.Raw[m.idEnd:]...)
}

// SetID replaces the message's id with id, in Raw and ID, keeping the
// offsets WithID uses right: a message whose id was set so can have it
// replaced again (the gateway's stateless answers do).
func (m *Message) SetID(id json.RawMessage) {
	m.Raw = m.WithID(id)
	m.idEnd = m.idStart + len(id)
	m.ID = json.RawMessage(m.Raw[m.idStart:m.idEnd])
}

// ErrorResponse encodes a JSON-RPC error response with the given raw ID
// (null when id is nil), using go-sdk's wire error type for the body.
func ErrorResponse(id json.RawMessage, e *jsonrpc.Error) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	body, err := json.Marshal(e)
	if err != nil { // a jsonrpc.Error always marshals; keep the frame valid anyway
		body = []byte(`{"code":-32603,"message":"internal error"}`)
	}
	b := make([]byte, 0, len(id)+len(body)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":`...)
	b = append(b, body...)
	return append(b, '}')
}

// ResultResponse encodes a JSON-RPC result response with the given raw ID.
func ResultResponse(id, result json.RawMessage) []byte {
	b := make([]byte, 0, len(id)+len(result)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// Request encodes a JSON-RPC request from its parts.
func Request(id json.RawMessage, method string, params json.RawMessage) []byte {
	m, _ := jsontext.AppendQuote(nil, method)
	b := make([]byte, 0, len(id)+len(m)+len(params)+50)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"method":`...)
	b = append(b, m...)
	if params != nil {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

// NewRequest is the Message of Request(id, method, params), made without
// parsing what it has just encoded: for a request mcpgov sends on, whose
// params it read and checked already.
func NewRequest(id json.RawMessage, method string, params json.RawMessage) *Message {
	raw := Request(id, method, params)
	start := len(`{"jsonrpc":"2.0","id":`)
	m := &Message{Raw: raw, Method: method, HasID: true, idStart: start, idEnd: start + len(id)}
	m.ID = json.RawMessage(raw[m.idStart:m.idEnd])
	if params != nil {
		end := len(raw) - 1
		m.Params = json.RawMessage(raw[end-len(params) : end])
	}
	return m
}

// Notification encodes a JSON-RPC notification with go-sdk's encoder.
func Notification(method string, params json.RawMessage) ([]byte, error) {
	return jsonrpc.EncodeMessage(&jsonrpc.Request{Method: method, Params: params})
}

// LenientID reads the id of a frame that failed the strict parse, so that
// the refusal can carry it; nil when none can be read.
func LenientID(frame []byte) json.RawMessage {
	var env struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(frame, &env) != nil {
		return nil
	}
	// encoding/json keeps a RawMessage's bytes as they came, invalid
	// UTF-8 included: echoed back, such an id made the refusal itself
	// invalid JSON.
	if id := jsontext.Value(env.ID); id.IsValid() {
		return ScalarID(id)
	}
	return nil
}

// CancelledID reads notifications/cancelled's requestId.
func CancelledID(params json.RawMessage) json.RawMessage {
	var p struct {
		RequestID jsontext.Value `json:"requestId"`
	}
	if jsonv2.Unmarshal(params, &p) != nil {
		return nil
	}
	return ScalarID(p.RequestID)
}

// ReplaceMember returns obj with the value of its member name replaced;
// every other member is kept, in order.
func ReplaceMember(obj json.RawMessage, name string, value json.RawMessage) (json.RawMessage, error) {
	pd := getDecoder(obj)
	defer putDecoder(pd)
	dec := pd.dec
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, fmt.Errorf("%w: params is not an object", ErrNotMessage)
	}
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return nil, err
	}
	for dec.PeekKind() != '}' {
		n, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		member := n.String() // before the next read voids the token
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if member == name {
			v = jsontext.Value(value)
		}
		if err := enc.WriteToken(jsontext.String(member)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(v); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(out.Bytes(), "\n")), nil
}

// ScalarID keeps an id that is a string or a number; nil otherwise.
func ScalarID(v jsontext.Value) json.RawMessage {
	switch v.Kind() {
	case '"', '0':
		return json.RawMessage(bytes.Clone(v))
	}
	return nil
}

// ParseErrorResponse answers a frame that is not a usable message, with
// its id when one could be read.
func ParseErrorResponse(err error, id json.RawMessage) []byte {
	if errors.Is(err, ErrAmbiguous) {
		return ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + err.Error()})
	}
	if errors.Is(err, ErrNotMessage) {
		return ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: " + err.Error()})
	}
	return ErrorResponse(id, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()})
}
