package scan

import (
	"path/filepath"
	"strings"
)

// Env is the machine a scan resolves paths for. Its OS may differ from the
// running one so the path tables can be tested for every platform; files are
// only read when OS matches the running system.
type Env struct {
	OS         string              // "linux", "darwin" or "windows"
	Home       string              // the home directory to scan
	Getenv     func(string) string // environment lookups (client overrides)
	SystemRoot string              // prefix for machine-wide paths; "" is the real root
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// join builds a path with the separator of e.OS.
func (e Env) join(elem ...string) string {
	if e.OS != "windows" {
		return filepath.Join(elem...)
	}
	var parts []string
	for i, p := range elem {
		p = strings.ReplaceAll(p, "/", `\`)
		if i > 0 {
			p = strings.Trim(p, `\`)
		} else {
			p = strings.TrimRight(p, `\`)
		}
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, `\`)
}

// home joins elem under the home directory.
func (e Env) home(elem ...string) string {
	return e.join(append([]string{e.Home}, elem...)...)
}

// system resolves a machine-wide absolute path, under SystemRoot when set.
func (e Env) system(p string) string {
	if e.SystemRoot == "" {
		return p
	}
	if e.OS == "windows" && len(p) >= 2 && p[1] == ':' {
		p = p[2:]
	}
	return e.join(e.SystemRoot, p)
}

// userData is the per-user application data root: ~/.config (Linux, or
// $XDG_CONFIG_HOME), ~/Library/Application Support (macOS), %APPDATA%.
func (e Env) userData() string {
	switch e.OS {
	case "darwin":
		return e.home("Library", "Application Support")
	case "windows":
		if v := e.getenv("APPDATA"); v != "" {
			return v
		}
		return e.home("AppData", "Roaming")
	default:
		return e.xdgConfig()
	}
}

// xdgConfig is $XDG_CONFIG_HOME or ~/.config, which several cross-platform
// CLIs use on every OS (Zed on macOS, opencode everywhere).
func (e Env) xdgConfig() string {
	if v := e.getenv("XDG_CONFIG_HOME"); v != "" && e.OS != "windows" {
		return v
	}
	return e.home(".config")
}

// programData is the Windows machine-wide data root.
func (e Env) programData() string {
	if v := e.getenv("ProgramData"); v != "" {
		return e.system(v)
	}
	return e.system(`C:\ProgramData`)
}

// programFiles is the Windows 64-bit program files root.
func (e Env) programFiles() string {
	for _, k := range []string{"ProgramW6432", "ProgramFiles"} {
		if v := e.getenv(k); v != "" {
			return e.system(v)
		}
	}
	return e.system(`C:\Program Files`)
}
