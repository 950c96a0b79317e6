package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at release time with -ldflags "-X github.com/mcpgov/mcpgov/cmd/mcpgov/cli.version=…".
var (
	version = ""
	commit  = ""
	date    = ""
)

// BuildInfo describes the running binary: the release stamp, the toolchain
// and platform it was built for, and the module build information Go embeds,
// so a bug report or an SBOM check can name every dependency in the binary.
type BuildInfo struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit,omitempty"`
	Date      string            `json:"date,omitempty"`
	GoVersion string            `json:"goVersion"`
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	Module    *Module           `json:"module,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"`
	Deps      []Module          `json:"deps,omitempty"`
}

// Module is one module compiled into the binary, as runtime/debug reports it.
type Module struct {
	Path    string  `json:"path"`
	Version string  `json:"version,omitempty"`
	Sum     string  `json:"sum,omitempty"`
	Replace *Module `json:"replace,omitempty"`
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

// buildInfo reads the stamp set by -ldflags and falls back to the module
// build info, so `go install` builds report something meaningful without
// ldflags.
func buildInfo() BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return newBuildInfo(version, commit, date, info)
}

func newBuildInfo(version, commit, date string, info *debug.BuildInfo) BuildInfo {
	b := BuildInfo{
		Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
	}
	if info != nil {
		b.GoVersion = info.GoVersion
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if info.Main.Path != "" {
			b.Module = newModule(&info.Main)
		}
		for _, d := range info.Deps {
			b.Deps = append(b.Deps, *newModule(d))
		}
		for _, s := range info.Settings {
			if b.Settings == nil {
				b.Settings = map[string]string{}
			}
			b.Settings[s.Key] = s.Value
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

func newModule(m *debug.Module) *Module {
	out := &Module{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		out.Replace = newModule(m.Replace)
	}
	return out
}

// VersionOptions are the inputs of `mcpgov version`.
type VersionOptions struct {
	IO    *IOStreams
	Build BuildInfo
	JSON  bool
}

// newVersionCmd keeps the root's call shape; newVersionCmdWith takes the run
// function tests substitute.
func newVersionCmd(f *Factory) *cobra.Command { return newVersionCmdWith(f, nil) }

func newVersionCmdWith(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Build: f.Version}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the mcpgov version",
		Long: `Print the version, commit and commit date mcpgov was released with.

With --json, print a document (schemaVersion 1) that also names the Go
version, the platform, the build settings and every module compiled in.`,
		Example: `  mcpgov version
  mcpgov version --json | jq -r .version`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON document with the module build info")
	return cmd
}

// versionDoc is the --json document.
type versionDoc struct {
	SchemaVersion int `json:"schemaVersion"`
	BuildInfo
}

func versionRun(opts *VersionOptions) error {
	if opts.JSON {
		return writeJSON(opts.IO.Out, versionDoc{SchemaVersion: 1, BuildInfo: opts.Build})
	}
	_, err := fmt.Fprintln(opts.IO.Out, opts.Build.String())
	return err
}
