package scan

import (
	"strings"
	"testing"
)

func TestDiscoveryEnabled(t *testing.T) {
	cases := []struct {
		settings string
		want     string
	}{
		{`{}`, ""},
		{`{"chat.mcp.discovery.enabled": true}`, "claude-desktop windsurf cursor-global cursor-workspace"},
		{`{"chat.mcp.discovery.enabled": false}`, ""},
		{`{"chat.mcp.discovery.enabled": {"windsurf": true, "cursor-global": false}}`, "windsurf"},
		{`{"chat": {"mcp": {"discovery": {"enabled": {"claude-desktop": true}}}}}`, "claude-desktop"},
		// An unknown source is not a file anyone can name.
		{`{"chat.mcp.discovery.enabled": {"elsewhere": true}}`, ""},
		{`{"chat.mcp.discovery.enabled": [true]}`, ""},
	}
	for _, c := range cases {
		root, err := parse([]byte(c.settings), formatJSON)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(discoveryEnabled(root), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.settings, got, c.want)
		}
	}
}
