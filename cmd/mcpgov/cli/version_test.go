package cli

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
)

// testBuild is what a release binary built by goreleaser embeds, reduced to
// one dependency with a replacement.
func testBuild() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "github.com/mcpgov/mcpgov/cmd/mcpgov",
		Main:      debug.Module{Path: "github.com/mcpgov/mcpgov", Version: "(devel)"},
		Deps: []*debug.Module{{
			Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:abc=",
			Replace: &debug.Module{Path: "example.com/cobra", Version: "v1.10.3"},
		}},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		},
	}
}

func TestVersionJSON(t *testing.T) {
	io, _, out, errOut := TestStreams()
	f := &Factory{IO: io, Version: newBuildInfo("1.2.3", "0123456789ab", "2026-01-02T03:04:05Z", testBuild())}
	if code := run(context.Background(), f, []string{"version", "--json"}); code != ExitOK {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	want := `{
  "schemaVersion": 1,
  "version": "1.2.3",
  "commit": "0123456789ab",
  "date": "2026-01-02T03:04:05Z",
  "goVersion": "go1.26.8",
  "os": "` + runtime.GOOS + `",
  "arch": "` + runtime.GOARCH + `",
  "module": {
    "path": "github.com/mcpgov/mcpgov",
    "version": "(devel)"
  },
  "settings": {
    "-trimpath": "true",
    "CGO_ENABLED": "0",
    "vcs.revision": "0123456789abcdef0123"
  },
  "deps": [
    {
      "path": "github.com/spf13/cobra",
      "version": "v1.10.2",
      "sum": "h1:abc=",
      "replace": {
        "path": "example.com/cobra",
        "version": "v1.10.3"
      }
    }
  ]
}
`
	if got := out.String(); got != want {
		t.Errorf("version --json:\n%s\nwant:\n%s", got, want)
	}
}

func TestVersionHuman(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		io, _, out, _ := TestStreams()
		f := &Factory{IO: io, Version: BuildInfo{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z"}}
		if code := run(context.Background(), f, args); code != ExitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		if got, want := out.String(), "mcpgov version 1.2.3 (abc, 2026-01-02T03:04:05Z)\n"; got != want {
			t.Errorf("%v: %q, want %q", args, got, want)
		}
	}
}

// TestBuildInfoFallback covers `go install` builds: no ldflags stamp, so the
// version, commit and date come from the module and VCS build info.
func TestBuildInfoFallback(t *testing.T) {
	info := testBuild()
	info.Settings = append(info.Settings, debug.BuildSetting{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"})
	b := newBuildInfo("", "", "", info)
	if b.Version != "dev" || b.Commit != "0123456789ab" || b.Date != "2026-01-02T03:04:05Z" {
		t.Errorf("devel build: %+v", b)
	}
	info.Main.Version = "v0.4.0"
	if b := newBuildInfo("", "", "", info); b.Version != "v0.4.0" {
		t.Errorf("module version: %q, want v0.4.0", b.Version)
	}
	if b := newBuildInfo("", "", "", nil); b.Version != "dev" || b.GoVersion != runtime.Version() || b.Module != nil {
		t.Errorf("no build info: %+v", b)
	}
}
