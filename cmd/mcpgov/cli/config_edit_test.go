package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/govern"
)

func TestSetTopLevelKey(t *testing.T) {
	v := `"/b"`
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "bundle = \"/b\"\n"},
		{"keys only, no newline at EOF", "profile = \"w\"", "profile = \"w\"\nbundle = \"/b\"\n"},
		{"replaced in place, comment kept", "bundle = '/old'   # mine\n[audit]\n", "bundle = \"/b\"   # mine\n[audit]\n"},
		{"before the first table and its comments", "profile = \"w\"\n\n# audit\n[audit]\nlogging = \"never\"\n",
			"profile = \"w\"\nbundle = \"/b\"\n\n# audit\n[audit]\nlogging = \"never\"\n"},
		{"tables only", "# logins\n[profiles.default]\nissuer = \"https://i\"\n", "bundle = \"/b\"\n\n# logins\n[profiles.default]\nissuer = \"https://i\"\n"},
		{"CRLF", "profile = \"w\"\r\n[audit]\r\n", "profile = \"w\"\r\nbundle = \"/b\"\r\n[audit]\r\n"},
		{"a table's bundle is not the top-level one", "[x]\nbundle = 1\n", "bundle = \"/b\"\n\n[x]\nbundle = 1\n"},
	} {
		if got := setTopLevelKey(tc.in, "bundle", v); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// registerBundle changes the bundle line only, keeps mode and symlink,
// backs the old file up, and refuses a config that does not load.
func TestRegisterBundle(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	bundle := filepath.Join(dir, "governance")

	// A new file.
	fresh := filepath.Join(dir, "new", "mcpgov", "config.toml")
	reg, err := registerBundle(fresh, bundle, backups, now)
	if err != nil || !reg.Created || !reg.Changed {
		t.Fatalf("new file: %+v, %v", reg, err)
	}
	if c, err := govern.ReadConfig(fresh); err != nil || c.Bundle != bundle {
		t.Fatalf("new file reads back %+v, %v", c, err)
	}
	if reg, err := registerBundle(fresh, bundle, backups, now); err != nil || reg.Changed {
		t.Errorf("registering again: %+v, %v", reg, err)
	}

	// An existing file, through a symlink, with a mode of its own.
	real := filepath.Join(dir, "dotfiles", "mcpgov.toml")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "# mine\nbundle = \"/elsewhere\" # old\ntrusted_keys = []\n\n[profiles.default]\nissuer = \"https://idp.example.com\"\n"
	if err := os.WriteFile(real, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "cfg", "config.toml")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	reg, err = registerBundle(link, bundle, backups, now)
	if err != nil || reg.Previous != "/elsewhere" || reg.Backup == "" {
		t.Fatalf("existing file: %+v, %v", reg, err)
	}
	got, _ := os.ReadFile(real)
	if want := strings.Replace(orig, `"/elsewhere"`, `"`+bundle+`"`, 1); string(got) != want {
		t.Errorf("edited file:\n%s\nwant:\n%s", got, want)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if fi, _ := os.Stat(real); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(reg.Backup); string(b) != orig {
		t.Errorf("backup %s holds %q", reg.Backup, b)
	}

	// A config that does not load strictly is left alone.
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("bundel = \"/x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := registerBundle(bad, bundle, backups, now); err == nil || !strings.Contains(err.Error(), `unknown key "bundel"`) {
		t.Errorf("bad config: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "bundel = \"/x\"\n" {
		t.Errorf("bad config was changed: %q", b)
	}
}
