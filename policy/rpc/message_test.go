package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
		// Escaped names are the members they spell.
		{`{"jsonrpc":"2.0","\u0069d":1,"m\u0065thod":"x"}`, "call"},
		{`{"jsonrpc":"2.0","\u0049d":1,"method":"x"}`, "ambiguous"},
		{`{"jsonrpc":"2.0","ID":1,"method":"x"}`, "ambiguous"},
		{`{"jsonrpc":"2.0","id":1,"\u0069d":2,"method":"x"}`, "ambiguous"},
	} {
		m, err := Parse([]byte(tc.in))
		got := "parse"
		switch {
		case errors.Is(err, ErrAmbiguous):
			got = "ambiguous"
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

// TestCheckNames: members whose names differ only in case are refused at
// any depth, and only within one object: sibling objects, values and the
// objects of an array are apart.
func TestCheckNames(t *testing.T) {
	many := func(last string) string { // past the slice, into the map
		s := `{`
		for i := range 20 {
			s += fmt.Sprintf(`"m%d":%d,`, i, i)
		}
		return s + `"` + last + `":0}`
	}
	deep := func(inner string) string {
		return strings.Repeat(`{"a":[`, 12) + inner + strings.Repeat(`]}`, 12)
	}
	for in, ambiguous := range map[string]bool{
		`{"a":1,"A":2}`:                          true,
		`{"a":{"x":1},"b":{"X":1}}`:              false,
		`{"a":{"x":1,"y":{"z":1}},"b":{"Z":1}}`:  false,
		`{"a":[{"x":1},{"X":1}]}`:                false,
		`{"a":[{"x":1,"X":1}]}`:                  true,
		`{"a":"A","b":"a"}`:                      false,
		`{"a":["x","X"]}`:                        false,
		`{"k":1,"\u212a":2}`:                     true,
		`{"s":1,"ſ":2}`:                          true,
		`{"a":{"b":1},"c":2,"C":3}`:              true,
		many("M3"):                               true,
		many("x"):                                false,
		deep(`{"q":1}`):                          false,
		deep(`{"q":1,"Q":2}`):                    true,
		deep(`{"q":1},{"Q":2}`):                  false,
		`[{"a":1},{"b":{"c":1}},{"B":1,"b":2}]`:  true,
		`{"x":{"a":1,"b":2},"y":{"A":1}}`:        false,
		`{"x":{"a":1,"b":2,"c":3},"y":{"d":{}}}`: false,
	} {
		err := CheckNames(json.RawMessage(in), "params")
		if got := errors.Is(err, ErrAmbiguous); got != ambiguous {
			t.Errorf("CheckNames(%.80s) = %v, want ambiguous %v", in, err, ambiguous)
		}
		if !ambiguous && err != nil {
			t.Errorf("CheckNames(%.80s): %v", in, err)
		}
	}
}

// BenchmarkParseAndCheck is what each message of a governed tools/call
// costs here: the strict parse, then the case check of its params or
// result.
func BenchmarkParseAndCheck(b *testing.B) {
	call := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"_meta":{"progressToken":3}}}`)
	answer := []byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"Echo: hello"}],"structuredContent":{"echo":"hello"},"isError":false}}`)
	b.ReportAllocs()
	for b.Loop() {
		for _, frame := range [][]byte{call, answer} {
			m, err := Parse(frame)
			if err != nil {
				b.Fatal(err)
			}
			if err := CheckNames(m.Params, "params"); err != nil {
				b.Fatal(err)
			}
			if err := CheckNames(m.Result, "result"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestNewRequest: the message NewRequest makes is the one Parse reads
// from the same frame, and its id can be replaced.
func TestNewRequest(t *testing.T) {
	for _, tc := range []struct {
		id     string
		params json.RawMessage
	}{
		{`7`, json.RawMessage(`{"name":"echo","arguments":{"x":1}}`)},
		{`"a-b"`, json.RawMessage(`{}`)},
		{`9007199254740993`, nil},
	} {
		m := NewRequest(json.RawMessage(tc.id), "tools/call", tc.params)
		want, err := Parse(m.Raw)
		if err != nil {
			t.Fatalf("%s: the frame does not parse: %v", m.Raw, err)
		}
		if string(m.ID) != string(want.ID) || m.Method != want.Method || string(m.Params) != string(want.Params) ||
			m.HasID != want.HasID || !m.IsCall() {
			t.Errorf("NewRequest = %+v, Parse read %+v", m, want)
		}
		if got := string(m.WithID(json.RawMessage(`"z"`))); got != string(want.WithID(json.RawMessage(`"z"`))) {
			t.Errorf("WithID: %s", got)
		}
	}
}
