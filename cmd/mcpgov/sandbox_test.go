package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sandboxEnv is the environment for an mcpgov process a Go end-to-end
// test starts outside testscript: the caller's environment (PATH with the
// real clients) but a throwaway home, so the shim never reads the
// developer's login, config or managed config, and never writes their
// audit trail or state.
func sandboxEnv(tb testing.TB, extra ...string) []string {
	tb.Helper()
	home := tb.TempDir()
	env := append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"MCPGOV_MANAGED_CONFIG="+filepath.Join(home, "managed.toml"),
		"MCPGOV_BUNDLE=", "MCPGOV_CONFIG=", "MCPGOV_TOKEN=", "MCPGOV_PROFILE=",
	)
	return append(env, extra...)
}

// writeUserConfig writes text as the mcpgov config of env's sandbox
// (XDG_CONFIG_HOME/mcpgov/config.toml).
func writeUserConfig(tb testing.TB, env []string, text string) {
	tb.Helper()
	dir := filepath.Join(envValue(env, "XDG_CONFIG_HOME"), "mcpgov")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// runMcpgov runs the real binary with env and returns its stdout; a
// failure ends the test with its stderr.
func runMcpgov(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("mcpgov", args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("mcpgov %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
