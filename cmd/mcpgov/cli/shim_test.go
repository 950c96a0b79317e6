package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
)

// identityFixture is a sandboxed home with a config profile and a stored
// login whose access token is fresh (or not).
func identityFixture(tb testing.TB, expiry time.Time, audience []string) *Factory {
	tb.Helper()
	home := tb.TempDir()
	env := map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "cfg"), "XDG_STATE_HOME": filepath.Join(home, "state"),
		"MCPGOV_MANAGED_CONFIG": filepath.Join(home, "managed.toml"),
	}
	cfg := `[profiles.default]
issuer = "http://127.0.0.1:1/dex"
client_id = "mcpgov-cli"
gateway_url = "https://gateway.example.com/mcp"
gateway_audience = "mcpgov-gateway"
`
	must(tb, os.MkdirAll(filepath.Join(env["XDG_CONFIG_HOME"], "mcpgov"), 0o755))
	must(tb, os.WriteFile(filepath.Join(env["XDG_CONFIG_HOME"], "mcpgov", "config.toml"), []byte(cfg), 0o644))
	s := login.Session{
		Profile: "default", Kind: login.KindOIDC, Issuer: "http://127.0.0.1:1/dex", ClientID: "mcpgov-cli",
		AccessToken: "at-" + strings.Repeat("x", 800), IDToken: strings.Repeat("y", 900), Expiry: expiry,
		Audience: audience, Storage: login.StorageFile, Secret: "rt",
		Identity: login.Identity{Subject: "sub-1", Email: "alice@example.com", Name: "Alice", Groups: []string{"eng", "mcp-admins"}, Issuer: "http://127.0.0.1:1/dex"},
	}
	b, _ := json.Marshal(s)
	dir := filepath.Join(env["XDG_STATE_HOME"], "mcpgov", "login")
	must(tb, os.MkdirAll(dir, 0o700))
	must(tb, os.WriteFile(filepath.Join(dir, "default.json"), b, 0o600))
	io, _, _, _ := TestStreams()
	return &Factory{IO: io, Getenv: func(k string) string { return env[k] }, Now: time.Now}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// TestShimHintOnTerminal: run by hand in a terminal, the shim says first
// that an MCP client is meant to start it; launched by a client (stdin a
// pipe) it says nothing of the kind.
func TestShimHintOnTerminal(t *testing.T) {
	for _, tty := range []bool{true, false} {
		f := identityFixture(t, time.Now().Add(time.Hour), nil)
		f.IO.SetStdinTTY(tty)
		_ = shimRun(context.Background(), &ShimOptions{IO: f.IO, Factory: f, Command: []string{"no-such-mcp-server"}})
		errOut := f.IO.ErrOut.(*bytes.Buffer).String()
		if got := strings.Contains(errOut, "mcpgov: hint: the shim speaks MCP"); got != tty {
			t.Errorf("stdin a terminal %v: hint shown %v; stderr:\n%s", tty, got, errOut)
		}
	}
}
