package fleet

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMDMRecipes checks the scheduled-scan recipes the README points to:
// each parses in its own format and runs `mcpgov scan --upload`. The shell
// script itself runs end to end in cmd/mcpgov's TestFleetUpload.
func TestMDMRecipes(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("mdm", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plist := read("com.mcpgov.scan.plist")
	dec := xml.NewDecoder(strings.NewReader(plist))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("com.mcpgov.scan.plist is not well-formed XML: %v", err)
			}
			break
		}
	}
	if !strings.Contains(plist, "<string>com.mcpgov.scan</string>") || !strings.Contains(plist, "mcpgov-scan-upload.sh</string>") {
		t.Error("the launchd agent does not run mcpgov-scan-upload.sh under its label")
	}
	service, timer := read("mcpgov-scan.service"), read("mcpgov-scan.timer")
	for name, unit := range map[string]string{"service": service, "timer": timer} {
		section := ""
		for i, line := range strings.Split(unit, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
				section = line
			case section == "" || !strings.Contains(line, "="):
				t.Errorf("mcpgov-scan.%s:%d: %q is not a key=value in a section", name, i+1, line)
			}
		}
	}
	if !strings.Contains(service, "ExecStart=/usr/local/bin/mcpgov scan --upload") || !strings.Contains(timer, "WantedBy=timers.target") {
		t.Error("the systemd units do not run mcpgov scan --upload from an installable timer")
	}
	for _, script := range []string{"mcpgov-scan-upload.sh", "mcpgov-scan-upload.ps1"} {
		if !strings.Contains(read(script), "scan --upload") {
			t.Errorf("%s does not run mcpgov scan --upload", script)
		}
	}
	if out, err := exec.Command("sh", "-n", filepath.Join("mdm", "mcpgov-scan-upload.sh")).CombinedOutput(); err != nil {
		t.Errorf("sh -n mcpgov-scan-upload.sh: %v\n%s", err, out)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// verify needs the ExecStart binary to exist: point it at sh.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "mcpgov-scan.service"), []byte(strings.ReplaceAll(service, "/usr/local/bin/mcpgov", "/bin/sh")), 0o644)
		os.WriteFile(filepath.Join(dir, "mcpgov-scan.timer"), []byte(timer), 0o644)
		if out, err := exec.Command(sa, "verify", "--man=no", filepath.Join(dir, "mcpgov-scan.service"), filepath.Join(dir, "mcpgov-scan.timer")).CombinedOutput(); err != nil || len(out) > 0 {
			// It reports unknown keys and bad values but exits 0.
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}
