package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/govern"
)

// On a terminal, bundle init asks whether to register the bundle; the
// default answer (an empty line) registers it, "n" does not.
func TestBundleInitPrompt(t *testing.T) {
	for _, tc := range []struct {
		answer   string
		register bool
	}{{"\n", true}, {"y\n", true}, {"n\n", false}} {
		dir := t.TempDir()
		env := map[string]string{
			"HOME":                  dir,
			"XDG_CONFIG_HOME":       filepath.Join(dir, ".config"),
			"XDG_STATE_HOME":        filepath.Join(dir, ".local", "state"),
			"MCPGOV_MANAGED_CONFIG": filepath.Join(dir, "managed.toml"),
		}
		io, in, _, errOut := TestStreams()
		io.SetStdinTTY(true)
		io.SetStdoutTTY(true)
		in.WriteString(tc.answer)
		f := &Factory{IO: io, Getenv: func(k string) string { return env[k] }, Now: time.Now,
			WorkDir: func() (string, error) { return dir, nil }, Version: BuildInfo{Version: "test"}}
		gov := filepath.Join(dir, "governance")
		if code := run(context.Background(), f, []string{"bundle", "init", gov}); code != 0 {
			t.Fatalf("answer %q: exit %d: %s", tc.answer, code, errOut)
		}
		if !strings.Contains(errOut.String(), "Register "+gov+" as your governance bundle in ") {
			t.Errorf("answer %q: no question asked: %s", tc.answer, errOut)
		}
		cfg, err := govern.ReadConfig(filepath.Join(dir, ".config", "mcpgov", "config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Bundle == gov; got != tc.register {
			t.Errorf("answer %q: config bundle %q", tc.answer, cfg.Bundle)
		}
		if _, err := os.Stat(filepath.Join(gov, "catalog.toml")); err != nil {
			t.Errorf("answer %q: %v", tc.answer, err)
		}
	}
}
