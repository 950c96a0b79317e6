package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan/launch"
)

func TestStarterBundleValidates(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteStarter(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("WriteStarter: %v %v", files, err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatalf("starter bundle does not validate: %v", err)
	}
	c := b.Catalog
	if len(c.Servers) != 3 || c.Servers[0].ID != "everything" || c.Servers[1].ID != "github" || c.Servers[2].ID != "unvetted-shell" {
		t.Fatalf("servers not in file order: %+v", c.Servers)
	}
	if c.Servers[0].Line != 33 || c.Servers[0].FailMode != FailClosed || c.Servers[1].FailMode != FailClosed {
		t.Errorf("line/defaults: %+v", c.Servers[0])
	}
	if _, err := WriteStarter(dir); err == nil {
		t.Fatal("WriteStarter overwrote an existing bundle")
	}
}

func TestStrictLoadingListsEveryProblem(t *testing.T) {
	text := `[catalog]
mode = "lenient"

[servers.ok]
status = "approved"

[servers.bad]
status = "maybe"
risk = "extreme"
colour = "blue"
[servers.bad.tools]
allow = ["read_[a-z]"]
[servers.bad.pins]
read = "md5:abc"

[servers."Bad ID"]
status = "approved"

[virtual.team]
tools = ["ok/*", "ghost/read", "no-slash"]
`
	_, err := Parse("catalog.toml", []byte(text))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want ValidationError", err)
	}
	want := []string{
		"catalog.toml:2: mode \"lenient\"",
		"catalog.toml:8: server bad: status \"maybe\"",
		"catalog.toml:9: server bad: risk \"extreme\"",
		"catalog.toml:10: unknown key \"servers.bad.colour\"",
		"catalog.toml:12: server bad: tools.allow: pattern \"read_[a-z]\"",
		"catalog.toml:14: server bad: pin for tool \"read\"",
		"catalog.toml:16: server id \"Bad ID\"",
		"catalog.toml:20: virtual server team: tool reference \"ghost/read\": no server \"ghost\"",
		"catalog.toml:20: virtual server team: tool reference \"no-slash\"",
	}
	got := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		got[i] = p.String()
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestDuplicateIDAndSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[servers.a]\nstatus = \"approved\"\n[servers.a]\nstatus = \"blocked\"\n", "catalog.toml:3: duplicate server id: a"},
		{"[servers.a]\nstatus = \"approved\n", "catalog.toml:2: "},
		{"[servers.a]\nstatus = 3\n", "catalog.toml:2: "},
	} {
		_, err := Parse("catalog.toml", []byte(c.text))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", c.text, err, c.want)
		}
	}
}

func TestLoadBundleErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadBundle(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := LoadBundle(dir); !errors.Is(err, ErrNoBundle) {
		t.Errorf("empty dir: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := LoadBundle(f); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file: %v", err)
	}
}

func TestMatchByLaunchIdentity(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteStarter(dir); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Catalog
	cases := []struct {
		command string
		args    []string
		url     string
		id      string
		version bool
	}{
		{"npx", []string{"-y", "@modelcontextprotocol/server-everything@2026.1.26"}, "", "everything", true},
		{"npx", []string{"-y", "@modelcontextprotocol/server-everything@2025.1.1"}, "", "everything", true}, // launch without match versions: own version is the rule
		{"npx", []string{"-y", "@modelcontextprotocol/server-github@2025.4.8"}, "", "github", true},
		{"npx", []string{"-y", "@modelcontextprotocol/server-github@2025.9.1"}, "", "github", false},
		{"", nil, "https://API.githubcopilot.com/mcp/", "github", true},
		{"uvx", []string{"mcp-shell-server==1.0"}, "", "unvetted-shell", true},
		{"mcpgov", []string{"shim", "everything"}, "", "everything", true},
		{"npx", []string{"-y", "some-other-mcp@1.0.0"}, "", "", false},
	}
	for _, tc := range cases {
		m, ok := c.Match(launch.Analyze(tc.command, tc.args, tc.url))
		switch {
		case tc.id == "" && ok:
			t.Errorf("%s %v %s matched %s, want no match", tc.command, tc.args, tc.url, m.Server.ID)
		case tc.id != "" && (!ok || m.Server.ID != tc.id):
			t.Errorf("%s %v %s: got %+v %v, want %s", tc.command, tc.args, tc.url, m, ok, tc.id)
		case tc.id != "" && tc.id != "everything" && m.VersionApproved != tc.version:
			t.Errorf("%s %v: VersionApproved = %v, want %v", tc.command, tc.args, m.VersionApproved, tc.version)
		}
	}
}

func TestToolRules(t *testing.T) {
	s := &Server{Tools: ToolRules{Allow: []string{"read_*", "list"}, Deny: []string{"read_secret*"}}}
	for tool, want := range map[string]bool{"read_file": true, "list": true, "read_secret_key": false, "write": false} {
		if got := s.ToolAllowed(tool); got != want {
			t.Errorf("ToolAllowed(%q) = %v, want %v", tool, got, want)
		}
	}
}
