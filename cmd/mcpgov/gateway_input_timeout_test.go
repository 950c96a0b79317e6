package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayInputTimeoutErrors: a bad --input-timeout is a usage error
// (exit 2); a bad [gateway] input_timeout stops the gateway before it
// listens (exit 1), naming the key.
func TestGatewayInputTimeoutErrors(t *testing.T) {
	cmd := exec.Command("mcpgov", "gateway", "serve", "--input-timeout", "0s", "--allow-anonymous")
	cmd.Env = sandboxEnv(t)
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "invalid --input-timeout 0s: want a positive duration") {
		t.Errorf("--input-timeout 0s: %v\n%s", err, out)
	}
	config := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, config, "[gateway]\ninput_timeout = \"later\"\n")
	cmd = exec.Command("mcpgov", "gateway", "serve", "--bundle", writeBundle(t), "--listen", freeAddr(t), "--allow-anonymous")
	cmd.Env = sandboxEnv(t, "MCPGOV_CONFIG="+config)
	out, err = cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), `invalid [gateway] input_timeout "later": want a duration like 10m`) {
		t.Errorf("input_timeout later: %v\n%s", err, out)
	}
}
