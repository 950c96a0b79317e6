package main

import (
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
)

// clientScenario runs one client scenario with this test binary as the
// client: the emulator whose variable emu names (ideemuEnv, gwemuEnv),
// its value the test's deadline, which bounds the harness and the client
// both; env is added to the sandbox environment. It returns the checks
// the harness wrote, its output and its error (conformance.Suite.Client).
func clientScenario(t *testing.T, suite conformance.Suite, scenario, emu string, env ...string) (checks string, out []byte, err error) {
	t.Helper()
	deadline := await.Deadline(t)
	return suite.Client(t, deadline, scenario, sandboxEnv(t, append([]string{emu + "=" + deadline.Format(time.RFC3339Nano)}, env...)...))
}
