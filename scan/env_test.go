package scan

import (
	"runtime"
	"testing"
)

func TestEnvJoinWindows(t *testing.T) {
	e := Env{OS: "windows"}
	cases := []struct {
		elem []string
		want string
	}{
		{[]string{`C:\Users\ann`, ".cursor", "mcp.json"}, `C:\Users\ann\.cursor\mcp.json`},
		{[]string{`C:\Users\ann\`, `\.cursor\`, "mcp.json"}, `C:\Users\ann\.cursor\mcp.json`},
		{[]string{`C:\`, ".claude.json"}, `C:\.claude.json`},
		{[]string{`C:\Users\ann`, "a/b", "c"}, `C:\Users\ann\a\b\c`},
		{[]string{`C:\Users\ann`, "", "x"}, `C:\Users\ann\x`},
		{[]string{`\\server\share\home`, "x"}, `\\server\share\home\x`},
		{[]string{`C:\Users\ann`, "Code - Insiders", "User"}, `C:\Users\ann\Code - Insiders\User`},
	}
	for _, c := range cases {
		if got := e.join(c.elem...); got != c.want {
			t.Errorf("join(%q) = %q, want %q", c.elem, got, c.want)
		}
	}
}

func TestEnvJoinSlash(t *testing.T) {
	skipUnlessSlash(t)
	for _, osName := range []string{"linux", "darwin"} {
		e := Env{OS: osName}
		if got, want := e.join("/home/ann/", "/.config/", "zed"), "/home/ann/.config/zed"; got != want {
			t.Errorf("%s: join = %q, want %q", osName, got, want)
		}
	}
}

func TestEnvSystem(t *testing.T) {
	cases := []struct {
		env  Env
		in   string
		want string
	}{
		{Env{OS: "windows"}, `C:\ProgramData`, `C:\ProgramData`},
		{Env{OS: "windows", SystemRoot: `T:\root`}, `C:\ProgramData`, `T:\root\ProgramData`},
		{Env{OS: "windows", SystemRoot: `T:\root`}, `D:\Program Files`, `T:\root\Program Files`},
		{Env{OS: "linux"}, "/etc/codex/config.toml", "/etc/codex/config.toml"},
		{Env{OS: "linux", SystemRoot: "/tmp/r"}, "/etc/codex/config.toml", "/tmp/r/etc/codex/config.toml"},
		{Env{OS: "darwin", SystemRoot: "/tmp/r"}, "/Library/Application Support/x", "/tmp/r/Library/Application Support/x"},
	}
	for _, c := range cases {
		if c.env.OS != "windows" && skipSlash() {
			continue
		}
		if got := c.env.system(c.in); got != c.want {
			t.Errorf("%s root %q: system(%q) = %q, want %q", c.env.OS, c.env.SystemRoot, c.in, got, c.want)
		}
	}
}

func TestEnvUserData(t *testing.T) {
	cases := []struct {
		env  Env
		want string
	}{
		{Env{OS: "windows", Home: `C:\Users\ann`}, `C:\Users\ann\AppData\Roaming`},
		{Env{OS: "windows", Home: `C:\Users\ann`, Getenv: envMap("APPDATA", `D:\R`)}, `D:\R`},
		{Env{OS: "darwin", Home: "/Users/ann"}, "/Users/ann/Library/Application Support"},
		{Env{OS: "darwin", Home: "/Users/ann", Getenv: envMap("XDG_CONFIG_HOME", "/x")}, "/Users/ann/Library/Application Support"},
		{Env{OS: "linux", Home: "/home/ann"}, "/home/ann/.config"},
		{Env{OS: "linux", Home: "/home/ann", Getenv: envMap("XDG_CONFIG_HOME", "/x")}, "/x"},
		// An empty variable is unset.
		{Env{OS: "linux", Home: "/home/ann", Getenv: envMap("XDG_CONFIG_HOME", "")}, "/home/ann/.config"},
	}
	for _, c := range cases {
		if c.env.OS != "windows" && skipSlash() {
			continue
		}
		if got := c.env.userData(); got != c.want {
			t.Errorf("%s: userData() = %q, want %q", c.env.OS, got, c.want)
		}
	}
}

func TestEnvNilGetenv(t *testing.T) {
	e := Env{OS: "windows", Home: `C:\Users\ann`}
	if got := e.getenv("APPDATA"); got != "" {
		t.Errorf("getenv with nil Getenv = %q", got)
	}
	if got, want := e.programFiles(), `C:\Program Files`; got != want {
		t.Errorf("programFiles() = %q, want %q", got, want)
	}
	if got, want := e.programData(), `C:\ProgramData`; got != want {
		t.Errorf("programData() = %q, want %q", got, want)
	}
}

// skipSlash reports whether linux and darwin cases must be skipped because
// the host joins paths with backslashes.
func skipSlash() bool { return runtime.GOOS == "windows" }
