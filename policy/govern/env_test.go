package govern

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateRoot: one resolver for every state directory (audit, last good
// bundle, limits, wrap, login), and never a relative path. The bug it
// guards: on Windows without HOME the audit default became the relative
// ".local/state/mcpgov/audit", a directory wherever the client started
// the shim.
func TestStateRoot(t *testing.T) {
	for _, tc := range []struct {
		name string
		goos string
		env  map[string]string
		home string
		want string // "" for ErrNoStateDir
	}{
		{"xdg", "linux", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "", "/x"},
		{"home", "linux", map[string]string{"HOME": "/h"}, "", "/h/.local/state"},
		{"home dir when HOME is unset", "linux", nil, "/u", "/u/.local/state"},
		{"relative XDG_STATE_HOME is ignored", "linux", map[string]string{"XDG_STATE_HOME": "state", "HOME": "/h"}, "", "/h/.local/state"},
		{"nothing", "linux", nil, "", ""},
		{"relative HOME", "linux", map[string]string{"HOME": "h"}, "", ""},
		{"windows LOCALAPPDATA", "windows", map[string]string{"LOCALAPPDATA": `C:\Users\a\AppData\Local`, "HOME": "/h"}, "", `C:\Users\a\AppData\Local`},
		{"windows without HOME", "windows", map[string]string{"LOCALAPPDATA": `C:\Users\a\AppData\Local`}, "", `C:\Users\a\AppData\Local`},
		{"windows without HOME or LOCALAPPDATA", "windows", nil, `C:\Users\a`, filepath.Join(`C:\Users\a`, ".local", "state")},
		{"windows with nothing", "windows", nil, "", ""},
	} {
		env := Env{GOOS: tc.goos, Home: tc.home, Getenv: func(k string) string { return tc.env[k] }}
		got, err := StateRoot(env)
		switch {
		case tc.want == "" && !errors.Is(err, ErrNoStateDir):
			t.Errorf("%s: %q, %v; want ErrNoStateDir", tc.name, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestAuditDefaultNeverRelative: with no state directory the audit trail
// has no default; the error says what to set.
func TestAuditDefaultNeverRelative(t *testing.T) {
	env := Env{GOOS: "windows", Getenv: func(string) string { return "" }}
	s, err := ResolveAudit(env, Configs{}, "")
	var hinted *HintError
	if !errors.Is(err, ErrNoStateDir) || !errors.As(err, &hinted) || !strings.Contains(hinted.Hint, "MCPGOV_AUDIT_DIR") {
		t.Fatalf("dir %q, err %v", s.Dir, err)
	}
	env.Getenv = func(k string) string {
		return map[string]string{"LOCALAPPDATA": `C:\Users\a\AppData\Local`}[k]
	}
	if s, err = ResolveAudit(env, Configs{}, ""); err != nil || !strings.HasPrefix(s.Dir, `C:\Users\a\AppData\Local`) || s.From != "default" {
		t.Fatalf("dir %q from %s, err %v", s.Dir, s.From, err)
	}
}
