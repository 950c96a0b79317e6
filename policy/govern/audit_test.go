package govern

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResolveAuditWitness: witnesses come from both configs (managed
// first, relative paths against their file, no duplicates); the managed
// signing key wins; a witness sets a default checkpoint interval; bad
// settings name the key and file.
func TestResolveAuditWitness(t *testing.T) {
	dir := t.TempDir()
	managed, user := filepath.Join(dir, "etc", "config.toml"), filepath.Join(dir, "home", "config.toml")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"MCPGOV_MANAGED_CONFIG": managed, "MCPGOV_CONFIG": user, "HOME": dir}
	env := Env{Getenv: func(k string) string { return vars[k] }, Now: time.Now}
	resolveAudit := func(flag string) (AuditSettings, error) {
		c, err := LoadConfigs(env)
		if err != nil {
			return AuditSettings{}, err
		}
		return ResolveAudit(env, c, flag)
	}

	write(managed, "[audit]\nwitness = [\"witness\", \"https://gw.example.com/v1/checkpoints\"]\nsigning_key = \"audit.key\"\n")
	write(user, "[audit]\nwitness = [\"https://gw.example.com/v1/checkpoints\", \"/srv/mine\"]\nsigning_key = \"/home/me/key\"\n")
	s, err := resolveAudit("")
	if err != nil {
		t.Fatal(err)
	}
	var specs []string
	for _, w := range s.Witnesses {
		specs = append(specs, w.Spec)
	}
	want := []string{filepath.Join(dir, "etc", "witness"), "https://gw.example.com/v1/checkpoints", "/srv/mine"}
	if strings.Join(specs, " ") != strings.Join(want, " ") || s.Witnesses[0].From != managed || s.Witnesses[2].From != user {
		t.Fatalf("witnesses %+v, want %q", s.Witnesses, want)
	}
	if s.Options.KeyPath != filepath.Join(dir, "etc", "audit.key") || s.KeyFrom != managed {
		t.Fatalf("key %s from %s", s.Options.KeyPath, s.KeyFrom)
	}
	if s.Options.CheckpointInterval != DefaultCheckpointInterval {
		t.Fatalf("interval %v", s.Options.CheckpointInterval)
	}

	write(user, "[audit]\ncheckpoint_interval = \"2s\"\n")
	if s, err = resolveAudit(""); err != nil || s.Options.CheckpointInterval != 2*time.Second {
		t.Fatalf("%v %v", err, s.Options.CheckpointInterval)
	}

	for _, tc := range []struct{ text, want string }{
		{"[audit]\nwitness = [\"http://gw.example.com/w\"]\n", "invalid [audit] witness: witness URL http://gw.example.com/w: use https"},
		{"[audit]\ncheckpoint_interval = \"soon\"\n", "invalid [audit] checkpoint_interval \"soon\""},
		{"[audit]\nwitnesses = [\"x\"]\n", `unknown key "audit.witnesses"`},
	} {
		write(managed, tc.text)
		if _, err := resolveAudit(""); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), managed) {
			t.Errorf("%q: %v, want %q naming %s", tc.text, err, tc.want, managed)
		}
	}
}
