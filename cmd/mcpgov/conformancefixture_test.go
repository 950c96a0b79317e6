package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// conformanceSuite is the installed npm @modelcontextprotocol/conformance
// run by Node: its entry script and the loader that lets 0.1.16, which
// imports fs.globSync (Node >= 22), run on Node 20.
type conformanceSuite struct {
	entry, loader string
}

// needConformance finds the suite; the test skips when it is not
// installed (make test installs it into .cache/npm).
func needConformance(t *testing.T) conformanceSuite {
	t.Helper()
	if ok, err := haveProgram("conformance"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("@modelcontextprotocol/conformance is not installed; make test installs it into .cache/npm")
	}
	return conformanceSuite{entry: conformanceEntry(t), loader: conformanceLoader(t)}
}

// conformanceEntry is the suite's entry script (the conformance command
// on PATH, resolved).
func conformanceEntry(t *testing.T) string {
	t.Helper()
	bin, _ := exec.LookPath("conformance")
	entry, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	return entry
}

// conformanceLoader is the Node 20 loader (testdata/e2e/conformance-node20).
func conformanceLoader(t *testing.T) string {
	t.Helper()
	loader, err := filepath.Abs(filepath.Join("..", "..", "testdata", "e2e", "conformance-node20", "register.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return loader
}

// clientScenario runs one client scenario with ideemu (this test binary)
// as the client, the harness's --timeout and ideemu both bounded by the
// test's deadline (the harness's 30 s default fails a slow machine), and
// returns the checks it wrote (summariseChecks), its output and its error
// (failing scenarios make it exit 1; the checks say which).
func (c conformanceSuite) clientScenario(t *testing.T, scenario string) (checks string, out []byte, err error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	deadline := await.Deadline(t)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--import", c.loader, c.entry,
		"client", "--command", self, "--scenario", scenario, "--timeout", strconv.FormatInt(time.Until(deadline).Milliseconds(), 10), "-o", dir)
	cmd.Env = sandboxEnv(t, ideemuEnv+"="+deadline.Format(time.RFC3339Nano))
	out, err = cmd.CombinedOutput()
	return summariseChecks(t, dir), out, err
}
