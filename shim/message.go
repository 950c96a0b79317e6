package shim

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Message is one JSON-RPC message as it arrived: the raw frame, forwarded
// unchanged unless the enforcement core rewrites it, and the envelope fields
// the relay routes on. The ID stays raw JSON so that it is echoed byte for
// byte (go-sdk's jsonrpc.ID goes through float64 and corrupts integers above
// 2^53), and so that an envelope decode costs a few microseconds instead of
// jsonrpc.DecodeMessage's ~23 µs and 66 KB (research/go-sdk.md §2.1).
type Message struct {
	Raw    []byte
	ID     json.RawMessage // nil for a notification
	Method string          // "" for a response
	Params json.RawMessage
	Result json.RawMessage
	Error  json.RawMessage
}

// envelope is the JSON-RPC 2.0 envelope; unknown members are ignored here
// and kept in Raw.
type envelope struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

var errNotMessage = errors.New("not a JSON-RPC 2.0 message")

// ParseMessage decodes the envelope of one frame. The frame is copied, so
// the caller may reuse its buffer.
func ParseMessage(frame []byte) (*Message, error) {
	raw := bytes.Clone(frame)
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, errNotMessage
		}
		return nil, err
	}
	if env.JSONRPC != "2.0" {
		return nil, errNotMessage
	}
	m := &Message{Raw: raw, Method: env.Method, Params: env.Params, Result: env.Result, Error: env.Error}
	if len(env.ID) > 0 && !bytes.Equal(env.ID, []byte("null")) {
		m.ID = env.ID
	}
	if m.Method == "" && m.ID == nil && env.Error == nil {
		return nil, errNotMessage
	}
	return m, nil
}

// IsCall reports whether m is a request that expects a response.
func (m *Message) IsCall() bool { return m.Method != "" && m.ID != nil }

// IsNotification reports whether m is a request without an ID.
func (m *Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// IsResponse reports whether m answers a call.
func (m *Message) IsResponse() bool { return m.Method == "" }

// idKey is the map key of an ID: its raw JSON, which is what we echo.
func idKey(id json.RawMessage) string { return string(id) }

// errorResponse encodes a JSON-RPC error response with the given raw ID
// (null when id is nil), using go-sdk's wire error type for the body.
func errorResponse(id json.RawMessage, e *jsonrpc.Error) []byte {
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

// resultResponse encodes a JSON-RPC result response with the given raw ID.
func resultResponse(id, result json.RawMessage) []byte {
	b := make([]byte, 0, len(id)+len(result)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// notification encodes a JSON-RPC notification with go-sdk's encoder.
func notification(method string, params json.RawMessage) ([]byte, error) {
	return jsonrpc.EncodeMessage(&jsonrpc.Request{Method: method, Params: params})
}
