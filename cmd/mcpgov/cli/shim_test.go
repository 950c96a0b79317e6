package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sandboxFactory is a Factory whose home and state live in a temporary
// directory, with no config and nobody logged in.
func sandboxFactory(tb testing.TB) *Factory {
	tb.Helper()
	home := tb.TempDir()
	env := map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "cfg"), "XDG_STATE_HOME": filepath.Join(home, "state"),
		"MCPGOV_MANAGED_CONFIG": filepath.Join(home, "managed.toml"),
	}
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
		f := sandboxFactory(t)
		f.IO.SetStdinTTY(tty)
		_ = shimRun(context.Background(), &ShimOptions{IO: f.IO, Factory: f, Command: []string{"no-such-mcp-server"}})
		errOut := f.IO.ErrOut.(*bytes.Buffer).String()
		if got := strings.Contains(errOut, "mcpgov: hint: the shim speaks MCP"); got != tty {
			t.Errorf("stdin a terminal %v: hint shown %v; stderr:\n%s", tty, got, errOut)
		}
	}
}

// TestShimOAuthSecretNeedsIssuer: --oauth-client-secret without
// --oauth-issuer is a usage error (exit 2) naming the missing flag; with
// it, the shim runs with the issuer pinned.
func TestShimOAuthSecretNeedsIssuer(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" to run
	}{
		{[]string{"--url", "https://mcp.example/mcp", "--oauth-client-id", "c", "--oauth-client-secret", "env:S"}, "--oauth-client-secret needs --oauth-issuer"},
		{[]string{"--url", "https://mcp.example/mcp", "--oauth-client-id", "c", "--oauth-client-secret", "env:S", "--oauth-issuer", "as.example"}, `invalid --oauth-issuer "as.example"`},
		{[]string{"--oauth-issuer", "https://as.example", "--", "server"}, "the --oauth-* flags are for --url"},
		{[]string{"--url", "https://mcp.example/mcp", "--oauth-client-id", "c", "--oauth-client-secret", "env:S", "--oauth-issuer", "https://as.example"}, ""},
	} {
		f := sandboxFactory(t)
		var got *ShimOptions
		cmd := newShimCmd(f, func(_ context.Context, o *ShimOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tc.want == "" {
			if err != nil || got == nil || got.OAuthIssuer != "https://as.example" {
				t.Errorf("%q: %v, options %+v", tc.args, err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
			t.Errorf("%q: %v (exit %d), want %q and exit 2", tc.args, err, exitCode(err), tc.want)
		}
	}
}
