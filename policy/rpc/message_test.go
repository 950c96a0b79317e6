package rpc

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind string
	}{
		{`{"jsonrpc":"2.0","id":9007199254740993,"method":"x"}`, "call"},
		{`{"jsonrpc":"2.0","method":"notifications/x","params":{"_meta":{}}}`, "notification"},
		{`{"jsonrpc":"2.0","id":"a","result":{}}`, "response"},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`, "response"},
		{`{"jsonrpc":"1.0","id":1,"method":"x"}`, "invalid"},
		{`[{"jsonrpc":"2.0","id":1,"method":"x"}]`, "invalid"},
		{`{"jsonrpc":"2.0"}`, "invalid"},
		{`{"jsonrpc":`, "parse"},
	} {
		m, err := Parse([]byte(tc.in))
		got := "parse"
		switch {
		case errors.Is(err, ErrNotMessage):
			got = "invalid"
		case err != nil:
		case m.IsCall():
			got = "call"
		case m.IsNotification():
			got = "notification"
		case m.IsResponse():
			got = "response"
		}
		if got != tc.kind {
			t.Errorf("%s: %s, want %s (err %v)", tc.in, got, tc.kind, err)
		}
	}
	m, _ := Parse([]byte(`{"jsonrpc":"2.0","id":9007199254740993,"method":"x"}`))
	if string(m.ID) != "9007199254740993" {
		t.Errorf("ID = %s, want it byte for byte", m.ID)
	}
}

// TestLenientIDInvalidUTF8 guards the fuzz finding "the client got invalid
// JSON": a frame whose id string holds invalid UTF-8 failed the strict
// parse, and its refusal echoed the id's bytes, so the refusal was not
// JSON either. Such an id is now dropped (the refusal carries id null).
func TestLenientIDInvalidUTF8(t *testing.T) {
	if id := LenientID([]byte("{\"id\":\"\xd5\"}")); id != nil {
		t.Errorf("LenientID of an id with invalid UTF-8 = %q, want nil", id)
	}
	if id := LenientID([]byte(`{"id":"é","method":`)); id != nil {
		t.Errorf("LenientID of a frame that does not parse = %q, want nil", id)
	}
	if id := LenientID([]byte(`{"id":"é","Method":"x","method":"y"}`)); string(id) != `"é"` {
		t.Errorf("LenientID of a valid id = %q", id)
	}
}

// An id set with SetID can be replaced again: the offsets follow the new
// id (the engine gives an upstream answer the client's id, and the
// gateway then gives a stateless client its own).
func TestSetIDThenWithID(t *testing.T) {
	m, err := Parse([]byte(`{"jsonrpc":"2.0","id":"mcpgov-2","error":{"code":-32042,"message":"consent"}}`))
	if err != nil {
		t.Fatal(err)
	}
	m.SetID([]byte(`7`))
	if string(m.Raw) != `{"jsonrpc":"2.0","id":7,"error":{"code":-32042,"message":"consent"}}` || string(m.ID) != `7` {
		t.Fatalf("after SetID: %s (id %s)", m.Raw, m.ID)
	}
	got := m.WithID([]byte(`"client-id-longer"`))
	if want := `{"jsonrpc":"2.0","id":"client-id-longer","error":{"code":-32042,"message":"consent"}}`; string(got) != want {
		t.Fatalf("WithID after SetID = %s, want %s", got, want)
	}
	if _, err := Parse(got); err != nil {
		t.Fatalf("the frame no longer parses: %v", err)
	}
}
