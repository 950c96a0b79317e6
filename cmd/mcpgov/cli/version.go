package cli

import (
	"fmt"
	"runtime/debug"
)

// Set at release time with -ldflags "-X github.com/mcpgov/mcpgov/cmd/mcpgov/cli.version=…".
var (
	version = ""
	commit  = ""
	date    = ""
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"`
}

func (b BuildInfo) String() string {
	s := "mcpgov version " + b.Version
	if b.Commit != "" {
		s += fmt.Sprintf(" (%s", b.Commit)
		if b.Date != "" {
			s += ", " + b.Date
		}
		s += ")"
	}
	return s
}

// buildInfo falls back to the module version so `go install` builds report
// something meaningful without ldflags.
func buildInfo() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Date: date}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
				if len(b.Commit) > 12 {
					b.Commit = b.Commit[:12]
				}
			case s.Key == "vcs.time" && b.Date == "":
				b.Date = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}
