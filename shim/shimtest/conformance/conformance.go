// Package conformance runs npm @modelcontextprotocol/conformance, the MCP
// conformance suite, for the tests that hold mcpgov's clients and servers
// to it: the test binary as a scenario's client command, or the suite
// against a server, and the checks it wrote.
package conformance

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Suite is the installed suite run by Node: its entry script and the
// loader that lets 0.1.16, which imports fs.globSync (Node >= 22), run on
// Node 20.
type Suite struct {
	Entry, Loader string
}

// Need finds the suite (the conformance command on PATH, resolved). The
// test skips when it is not installed, and fails when MCPGOV_E2E is set.
func Need(t testing.TB) Suite {
	t.Helper()
	bin, err := exec.LookPath("conformance")
	if err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatal("@modelcontextprotocol/conformance is not on PATH but MCPGOV_E2E is set\nhint: run make e2e-deps and put .cache/npm/node_modules/.bin on PATH")
		}
		t.Skip("@modelcontextprotocol/conformance is not installed; make test installs it into .cache/npm")
	}
	entry, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	_, self, _, _ := runtime.Caller(0)
	loader := filepath.Join(filepath.Dir(self), "..", "..", "..", "testdata", "e2e", "conformance-node20", "register.mjs")
	return Suite{Entry: entry, Loader: loader}
}

// Command runs the suite with args (client …, server …) until ctx ends.
func (s Suite) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "node", append([]string{"--import", s.Loader, s.Entry}, args...)...)
}

// Client runs one client scenario with this test binary as the client
// command, env its environment (which tells the binary to act as the
// client). The harness's --timeout and its process end at deadline (the
// harness's 30 s default fails a slow machine). It returns the checks it
// wrote (Checks), its output and its error: failing scenarios make it
// exit 1, and the checks say which.
func (s Suite) Client(t testing.TB, deadline time.Time, scenario string, env []string) (checks string, out []byte, err error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := s.Command(ctx, "client", "--command", self, "--scenario", scenario,
		"--timeout", strconv.FormatInt(time.Until(deadline).Milliseconds(), 10), "-o", dir)
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	return Checks(t, dir), out, err
}

// Checks reads every checks.json the suite wrote under dir (a scenario
// writes <dir>/<scenario>-<time>/checks.json, auth/x nested one deeper)
// and returns "id=STATUS" for each check, separated by spaces; INFO
// entries are traces, not verdicts, and are left out.
func Checks(t testing.TB, dir string) string {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "checks.json" {
			files = append(files, path)
		}
		return nil
	})
	var parts []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		var checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, c := range checks {
			if c.Status != "INFO" {
				parts = append(parts, c.ID+"="+c.Status)
			}
		}
	}
	return strings.Join(parts, " ")
}
