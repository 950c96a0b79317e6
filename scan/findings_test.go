package scan

import (
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan/launch"
)

func serverFrom(t *testing.T, entry string) Server {
	t.Helper()
	root, err := parse([]byte(`{"mcpServers": {"s": `+entry+`}}`), formatJSON)
	if err != nil {
		t.Fatal(err)
	}
	src := source{client: ClientCursor, scope: ScopeUser, shape: shapeMCPServers, path: "/h/.cursor/mcp.json"}
	x := extract(src, root)
	if len(x.entries) != 1 {
		t.Fatalf("entries: %+v", x.entries)
	}
	return newServer(src, src.path, x.entries[0], Env{OS: "linux", Home: "/h"}, fakeFS{})
}

// Bug: a URL with a ${VAR} password and an API key in its query gave no
// finding, because net/url refuses the braces.
func TestQuerySecretBesidePlaceholderPassword(t *testing.T) {
	s := serverFrom(t, `{"url": "https://u:${PASS}@mcp.example.com/mcp?api_key=Zq9vLx2mTr8wKp4nB7cD"}`)
	found := false
	for _, f := range s.Findings {
		found = found || f.Rule == RulePlaintextSecret && f.Field == "url"
	}
	if !found {
		t.Errorf("no plaintext-secret finding for the query key: %+v", s.Findings)
	}
	if strings.Contains(s.URL, "Zq9vLx2mTr8wKp4nB7cD") || strings.Contains(s.Identity, "Zq9vLx2mTr8wKp4nB7cD") {
		t.Errorf("secret in url %q or identity %q", s.URL, s.Identity)
	}
}

// Bug: a PyPI range produced the identity pypi:pkg==>=1.0; an unpinned
// package's identity is its name alone.
func TestUnpinnedIdentityIsName(t *testing.T) {
	for entry, want := range map[string]string{
		`{"command": "uvx", "args": ["mcp-server-fetch>=1.0"]}`:              "pypi:mcp-server-fetch",
		`{"command": "npx", "args": ["-y", "@playwright/mcp@latest"]}`:       "npm:@playwright/mcp",
		`{"command": "docker", "args": ["run", "-i", "mcp/grafana:latest"]}`: "oci:mcp/grafana",
		`{"command": "uvx", "args": ["mcp-server-fetch==2025.1.0"]}`:         "pypi:mcp-server-fetch==2025.1.0",
	} {
		if got := serverFrom(t, entry).Identity; got != want {
			t.Errorf("%s: identity %q, want %q", entry, got, want)
		}
	}
}

// Bug: a command holding spaces was checked with os.Stat on the machine
// running the scan, not through the scan's FS.
func TestCommandWithSpacesUsesScanFS(t *testing.T) {
	root, _ := parse([]byte(`{"mcpServers": {"s": {"command": "/opt/My Tools/server"}}}`), formatJSON)
	src := source{client: ClientCursor, scope: ScopeUser, shape: shapeMCPServers, path: "/h/.cursor/mcp.json"}
	e := extract(src, root).entries[0]
	exists := fakeFS{"/opt/My Tools/server": {mode: 0o755, data: []byte("x")}}
	if s := newServer(src, src.path, e, Env{OS: "linux", Home: "/h"}, exists); s.Command != "/opt/My Tools/server" || len(s.Args) != 0 {
		t.Errorf("existing path was split: %q %q", s.Command, s.Args)
	}
	if s := newServer(src, src.path, e, Env{OS: "linux", Home: "/h"}, fakeFS{}); s.Command != "/opt/My" || len(s.Args) != 1 {
		t.Errorf("missing path should be read as a command line: %q %q", s.Command, s.Args)
	}
}

func TestTOMLSizeCap(t *testing.T) {
	fsys := fakeFS{"/h/.codex/config.toml": {mode: 0, size: 3 << 20}}
	_, err := readConfig(fsys, "/h/.codex/config.toml", DefaultMaxFileSize)
	if err == nil || !strings.Contains(err.Error(), "limit for a TOML config file") {
		t.Errorf("got %v", err)
	}
}

// TestMovableSuggestion: scan suggests `mcpgov wrap --move-secrets` only
// for the secrets wrap moves, and --remote for a remote entry's.
func TestMovableSuggestion(t *testing.T) {
	bridged := launch.Analysis{WrappedBy: []string{"mcp-remote"}}
	for _, c := range []struct {
		client, file string
		transport    Transport
		field        string
		l            launch.Analysis
		want         string
	}{
		{ClientCursor, "mcp.json", TransportStdio, "env.TOKEN", launch.Analysis{}, "mcpgov wrap --move-secrets"},
		{ClientCursor, "mcp.json", TransportStdio, "args[2]", launch.Analysis{}, "mcpgov wrap --move-secrets"},
		{ClientCursor, "mcp.json", TransportStdio, "args[4]", bridged, ""},
		{ClientOpencode, "opencode.json", TransportStdio, "env.TOKEN", launch.Analysis{}, "mcpgov wrap --move-secrets"},
		{ClientCursor, "mcp.json", TransportHTTP, "headers.Authorization", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"},
		{ClientCursor, "mcp.json", TransportHTTP, "url", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"},
		{ClientCursor, "mcp.json", TransportSSE, "url", launch.Analysis{}, ""},
		{ClientCodex, "config.toml", TransportStdio, "args[1]", launch.Analysis{}, "mcpgov wrap --move-secrets"},
		{ClientCodex, "config.toml", TransportHTTP, "headers.Authorization", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"},
		{ClientCodex, "config.toml", TransportHTTP, "url", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"},
		{ClientContinue, "config.yaml", TransportHTTP, "url", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"},
		{ClientContinue, "config.yaml", TransportHTTP, "headers.Authorization", launch.Analysis{}, "mcpgov wrap --remote --move-secrets"}, // requestOptions.headers
		{ClientContinue, "config.yaml", TransportStdio, "env.TOKEN", launch.Analysis{}, "mcpgov wrap --move-secrets"},
		{ClientGoose, "config.yaml", TransportStdio, "env.TOKEN", launch.Analysis{}, ""},
	} {
		s := &Server{Client: c.client, File: "/home/u/" + c.file, Transport: c.transport}
		if got := movable(s, c.field, c.l); got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.client, c.transport, c.field, got, c.want)
		}
	}
}
