package oauthusertest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// StartRevokingIssuer runs testdata/idp/oidc-provider-revoke.mjs — node
// oidc-provider with dynamic client registration, refresh tokens,
// introspection and, when revocation is set, RFC 7009 revocation; every
// authorization request approved at once for "alice" — until the test
// ends, and returns its issuer. The script imports oidc-provider from
// .cache/oidc-provider (make e2e-deps); missing, the test skips, except
// under MCPGOV_E2E where it fails.
func StartRevokingIssuer(t testing.TB, revocation bool) string {
	t.Helper()
	modules := repoFile(filepath.Join(".cache", "oidc-provider", "node_modules"))
	if _, err := os.Stat(filepath.Join(modules, "oidc-provider")); err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatal("oidc-provider is not installed but MCPGOV_E2E is set\nhint: run make e2e-deps")
		}
		t.Skip("oidc-provider not installed (make e2e-deps)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	// Node resolves the import from the node_modules beside the script.
	dir := t.TempDir()
	src, err := os.ReadFile(repoFile(filepath.Join("testdata", "idp", "oidc-provider-revoke.mjs")))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "revoke.mjs")
	if err := os.WriteFile(script, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	if !revocation {
		cmd.Env = append(os.Environ(), "REVOCATION=off")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && log.String() != "" {
			t.Logf("oidc-provider-revoke:\n%s", log)
		}
	})
	issuer := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "issuer "); ok {
				issuer <- u
			}
		}
	}()
	return await.Recv(t, issuer, "oidc-provider-revoke's issuer line")
}
