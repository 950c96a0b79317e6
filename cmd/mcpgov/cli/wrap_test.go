package cli

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
)

func TestVolatilePath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	for p, volatile := range map[string]bool{
		"/root/.cache/go-build/ab/cd/exe/mcpgov":    true,
		"/tmp/go-build123/b001/exe/mcpgov":          true,
		"/tmp/mcpgov":                               true,
		"/usr/local/bin/mcpgov":                     false,
		"/opt/homebrew/bin/mcpgov":                  false,
		filepath.Join(t.TempDir(), "bin", "mcpgov"): true,
	} {
		if got := volatilePath(p) != ""; got != volatile {
			t.Errorf("volatilePath(%q) = %q, want volatile %v", p, volatilePath(p), volatile)
		}
	}
}

func TestDefaultWrapStateDir(t *testing.T) {
	env := map[string]string{"XDG_STATE_HOME": "/s"}
	if got, _ := defaultWrapStateDir(func(k string) string { return env[k] }, "/h"); got != filepath.Join("/s", "mcpgov", "wrap") {
		t.Errorf("with XDG_STATE_HOME: %s", got)
	}
	if runtime.GOOS != "windows" {
		if got, _ := defaultWrapStateDir(func(string) string { return "" }, "/h"); got != "/h/.local/state/mcpgov/wrap" {
			t.Errorf("default: %s", got)
		}
	}
}

func TestMCPGovPathMustBeAbsolute(t *testing.T) {
	if _, err := mcpgovPath(context.Background(), "bin/mcpgov"); exitCode(err) != ExitUsage {
		t.Errorf("relative --mcpgov-path: %v (exit %d), want a usage error", err, exitCode(err))
	}
	p, err := mcpgovPath(context.Background(), "")
	if err != nil || !filepath.IsAbs(p) {
		t.Errorf("default path %q, %v", p, err)
	}
}
