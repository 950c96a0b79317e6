package oauthusertest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
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
	cmd := OIDCProviderScript(t, "oidc-provider-revoke.mjs")
	if !revocation {
		cmd.Env = append(os.Environ(), "REVOCATION=off")
	}
	issuer, _ := StartIssuer(t, "oidc-provider-revoke", cmd, "")
	return issuer
}

// OIDCProviderScript is the node command that runs testdata/idp/script,
// a node oidc-provider server, with the oidc-provider of
// .cache/oidc-provider (make e2e-deps); missing, or node missing, the
// test skips, except under MCPGOV_E2E where it fails.
func OIDCProviderScript(t testing.TB, script string) *exec.Cmd {
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
	src, err := os.ReadFile(repoFile(filepath.Join("testdata", "idp", script)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, script)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return exec.Command("node", path)
}

// StartIssuer starts cmd, an authorization server called name that
// prints "issuer URL" once it listens, until the test ends (its stderr
// shown when the test failed). It returns the issuer and the count of
// the lines it prints that start with counted (each token issued, each
// client registered; nil when counted is "").
func StartIssuer(t testing.TB, name string, cmd *exec.Cmd, counted string) (issuer string, n *atomic.Int32) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &logbuf.Buffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && log.String() != "" {
			t.Logf("%s:\n%s", name, log)
		}
	})
	if counted != "" {
		n = &atomic.Int32{}
	}
	issuers := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "issuer "); ok {
				issuers <- u
			}
			if n != nil && strings.HasPrefix(sc.Text(), counted) {
				n.Add(1)
			}
		}
	}()
	return await.Recv(t, issuers, name+"'s issuer line"), n
}
