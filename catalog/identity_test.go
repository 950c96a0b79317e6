package catalog

import (
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan/launch"
)

func TestGlobsIntersect(t *testing.T) {
	for _, c := range []struct {
		p, q string
		want bool
	}{
		{"1.2.3", "1.2.3", true},
		{"1.2.3", "1.2.4", false},
		{"1.*", "1.2.*", true},
		{"1.*", "2.*", false},
		{"*.0", "1.*", true},
		{"?.0", "10.*", false},
		{"*", "anything", true},
		{"https://a.example.com/*", "https://*.example.com/mcp", true},
		{"https://a.example.com/*", "https://b.example.com/*", false},
		{"node */server.js", "node /opt/x/server.js", true},
		{"a*b", "a*c", false},
	} {
		if got := globsIntersect(c.p, c.q); got != c.want {
			t.Errorf("globsIntersect(%q, %q) = %v, want %v", c.p, c.q, got, c.want)
		}
		if got := globsIntersect(c.q, c.p); got != c.want {
			t.Errorf("globsIntersect(%q, %q) = %v, want %v", c.q, c.p, got, c.want)
		}
	}
}

// Issue 11 item 3: two entries that match the same launch identity are
// warned about — Match gives the launch to the first, so the second (here
// a block) silently never applies.
func TestDuplicateIdentitiesWarned(t *testing.T) {
	text := `[servers.github]
status = "approved"
[servers.github.launch]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]

[servers.github-blocked]
status = "blocked"
[servers.github-blocked.match]
packages = ["npm:@modelcontextprotocol/server-github@1.*"]

[servers.other-version]
status = "approved"
[servers.other-version.match]
packages = ["pypi:other==1.0"]

[servers.other-version-2]
status = "approved"
[servers.other-version-2.match]
packages = ["pypi:other==2.0"]

[servers.api]
status = "approved"
[servers.api.launch]
url = "https://mcp.example.com/mcp"

[servers.api-all]
status = "pending"
[servers.api-all.match]
urls = ["https://mcp.example.com/*"]

[servers.local]
status = "approved"
[servers.local.launch]
command = "node"
args = ["/opt/srv/server.js"]

[servers.local-glob]
status = "approved"
[servers.local-glob.match]
commands = ["python *"]
`
	c, err := Parse("catalog.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got := c.DuplicateIdentities()
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	joined := strings.Join(lines, "\n")
	if len(got) != 2 {
		t.Fatalf("got %d warnings, want 2:\n%s", len(got), joined)
	}
	want := []string{
		`catalog.toml:7: server github-blocked matches the same launches as server github (line 1): npm:@modelcontextprotocol/server-github@1.* and npm:@modelcontextprotocol/server-github; a launch goes to the first, github, so github-blocked never applies to it`,
		`catalog.toml:27: server api-all matches the same launches as server api (line 22): url https://mcp.example.com/* and url https://mcp.example.com/mcp`,
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("warning %d:\n got %s\nwant %s…", i, lines[i], w)
		}
	}
	// What the warning says is what Match does.
	m, ok := c.Match(launch.Analyze("npx", []string{"-y", "@modelcontextprotocol/server-github@1.2.0"}, ""))
	if !ok || m.Server.ID != "github" {
		t.Errorf("launch matched %+v, want github, the first", m.Server)
	}
}
