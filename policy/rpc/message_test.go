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
