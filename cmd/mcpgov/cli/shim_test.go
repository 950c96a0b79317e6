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
