package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestGatewayJSONLog(t *testing.T) {
	var out bytes.Buffer
	l := newJSONLog(&out)
	for _, w := range []string{
		"mcpgov: warning: blocked tools/call add: denied\n",
		"mcpgov: error: listen: in use\n  second line\n",
		"mcpgov: reload: bundle revision abc governs every session\n",
		"mcpgov: gateway serving http://127.0.0.1:1 (bundle revision x, 1 servers)\n",
		"server's own line\n",
		"mcpgov: hint: split ", "across writes\n",
	} {
		if _, err := l.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []struct{ level, msg, kind, source string }{
		{"WARN", "blocked tools/call add: denied", "", ""},
		{"ERROR", "listen: in use\nsecond line", "", ""},
		{"INFO", "bundle revision abc governs every session", "reload", ""},
		{"INFO", "gateway serving http://127.0.0.1:1 (bundle revision x, 1 servers)", "", ""},
		{"INFO", "server's own line", "", "upstream"},
		{"INFO", "split across writes", "hint", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var got struct{ Level, Msg, Kind, Source string }
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, line)
		}
		if got.Level != want[i].level || got.Msg != want[i].msg || got.Kind != want[i].kind || got.Source != want[i].source {
			t.Errorf("line %d: %+v, want %+v", i, got, want[i])
		}
	}
}
