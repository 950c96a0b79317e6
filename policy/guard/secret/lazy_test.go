package secret

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// freshProcessEnv runs TestMaskCommandLineCompilesNothingUnanchored's
// measurement in a process of its own, where no test compiled a pattern.
const freshProcessEnv = "MCPGOV_SECRET_TEST_FRESH"

// TestMaskCommandLineCompilesNothingUnanchored: masking a command line
// without any credential anchor (what every governed start does with its
// launch) builds the anchor table but compiles no token pattern: measured
// by what the first call allocates, in a fresh process (the patterns are
// compiled once per process). The masker's own name and placeholder
// expressions are ~55 KB of it; every token pattern added ~110 KB more.
func TestMaskCommandLineCompilesNothingUnanchored(t *testing.T) {
	if os.Getenv(freshProcessEnv) != "" {
		line := []string{"npx", "-y", "@modelcontextprotocol/server-everything", "stdio"}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		masked := MaskCommandLine(line)
		runtime.ReadMemStats(&after)
		if masked != "npx -y @modelcontextprotocol/server-everything stdio" {
			t.Fatalf("MaskCommandLine(%q) = %q, want it unchanged", line, masked)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 96<<10 {
			t.Fatalf("the first MaskCommandLine of a line without anchors allocated %d bytes, want at most %d: are the token patterns compiled before an anchor is found?", d, 96<<10)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMaskCommandLineCompilesNothingUnanchored$", "-test.count=1")
	cmd.Env = append(os.Environ(), freshProcessEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fresh process: %v\n%s", err, out)
	}
}
