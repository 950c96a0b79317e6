package fleet

import (
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
)

// LocalMachineID returns this machine's fleet id: MachineID of the OS's
// stable machine identifier, or of hostname when the OS offers none.
func LocalMachineID(hostname string) string {
	if raw := osMachineID(); raw != "" {
		return MachineID(raw)
	}
	return MachineID("host:" + hostname)
}

var ioregUUID = regexp.MustCompile(`"IOPlatformUUID" = "([0-9A-Fa-f-]+)"`)

// osMachineID reads the identifier each OS keeps for the life of its
// installation.
func osMachineID() string {
	switch runtime.GOOS {
	case "darwin":
		out, err := exec.Command("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
		if m := ioregUUID.FindSubmatch(out); err == nil && m != nil {
			return string(m[1])
		}
	case "windows":
		out, err := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid").Output()
		if err == nil {
			if f := strings.Fields(string(out)); len(f) > 0 {
				return f[len(f)-1]
			}
		}
	default:
		for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
			if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
				return strings.TrimSpace(string(b))
			}
		}
	}
	return ""
}
