package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFactoryConfigCached: a command reads the config files once, however
// many of its helpers ask for them.
func TestFactoryConfigCached(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(user, []byte("bundle = \"/a\"\n"), 0o644))
	env := map[string]string{"MCPGOV_CONFIG": user, "MCPGOV_MANAGED_CONFIG": filepath.Join(dir, "managed.toml")}
	io, _, _, _ := TestStreams()
	f := &Factory{IO: io, Getenv: func(k string) string { return env[k] }}
	c, err := f.Config()
	if err != nil || c.User.Bundle != "/a" || c.User.Path() != user {
		t.Fatalf("config %+v, %v", c, err)
	}
	must(t, os.WriteFile(user, []byte("bundle = \"/b\"\n"), 0o644))
	if c, _ := f.Config(); c.User.Bundle != "/a" {
		t.Fatalf("config read again: bundle %s", c.User.Bundle)
	}
}

// TestFactoryEnv: the environment govern gets is the Factory's, with the
// home directory it was given.
func TestFactoryEnv(t *testing.T) {
	state, home := t.TempDir(), t.TempDir()
	f := &Factory{Getenv: func(k string) string { return map[string]string{"XDG_STATE_HOME": state}[k] }, HomeDir: func() (string, error) { return home, nil }}
	env := f.Env()
	if env.Home != home || env.Getenv("XDG_STATE_HOME") != state {
		t.Fatalf("env %+v", env)
	}
	if dir, err := stateDir(f, "audit"); err != nil || dir != filepath.Join(state, "mcpgov", "audit") {
		t.Fatalf("state dir %s, %v", dir, err)
	}
}
