// Package oauthusertest holds the real parts the per-user OAuth tests run
// against, on loopback: Dex as the authorization server (behind a proxy
// that counts and can hold refresh grants), an MCP server over Streamable
// HTTP that requires Dex-issued bearer tokens (go-sdk's auth middleware),
// and a scripted browser that consents through Dex's login form.
package oauthusertest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// Dex clients and user of testdata/idp/oauthuser.yaml.
const (
	ClientID       = "mcp-upstream"
	ClientSecret   = "upstream-secret"
	PublicClientID = "mcp-upstream-public"
	User           = "alice@example.com"
	Password       = "password"
)

// Dex is a running Dex behind a loopback proxy whose address is the
// issuer. The proxy counts refresh grants; HoldRefresh, when set, runs
// before a refresh grant is forwarded (a test blocks there until the
// concurrent callers it wants are waiting). It serves the per-user OAuth
// tests (StartDex) and the login tests of cmd/mcpgov (StartDexFrom with
// testdata/idp/dex.yaml).
type Dex struct {
	Issuer string
	Addr   string // the proxy's host:port
	Log    *logbuf.Buffer

	Refreshes   atomic.Int32
	HoldRefresh atomic.Pointer[func()]

	mu       sync.Mutex
	cmd      *exec.Cmd
	bin, cfg string
}

// Binary finds Dex: MCPGOV_DEX (set by make), else dex on PATH. Missing
// Dex skips the test, except under MCPGOV_E2E where it fails.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MCPGOV_DEX"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("MCPGOV_DEX=%s: %v\nhint: run make idp-deps", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("dex"); err == nil {
		return p
	}
	if os.Getenv("MCPGOV_E2E") != "" {
		t.Fatal("Dex is not installed but MCPGOV_E2E is set\nhint: run make idp-deps")
	}
	t.Skip("Dex not installed (make idp-deps builds it; set MCPGOV_DEX)")
	return ""
}

// repoFile returns a path in the repository, wherever the test runs from.
func repoFile(rel string) string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "..", rel)
}

// Listen reserves a loopback listener; its address is known before the
// server behind it exists (the redirect URL Dex must register).
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// StartDex runs Dex with testdata/idp/oauthuser.yaml until the test ends;
// redirectURL is registered for the confidential client. Access tokens
// live 10 minutes.
func StartDex(t testing.TB, redirectURL string) *Dex {
	t.Helper()
	return StartDexExpiry(t, redirectURL, "10m")
}

// StartDexExpiry is StartDex with access tokens that live tokenExpiry (a
// Go duration), for a test that waits for a real expiry.
func StartDexExpiry(t testing.TB, redirectURL, tokenExpiry string) *Dex {
	t.Helper()
	return StartDexFrom(t, "testdata/idp/oauthuser.yaml", map[string]string{"REDIRECT": redirectURL, "TOKEN_EXPIRY": tokenExpiry})
}

// StartDexFrom runs Dex until the test ends with the configuration
// template at config (a path in the repository), whose {{ISSUER}} and
// {{ADDR}} (the port Dex listens on) are filled in, and each {{KEY}} of
// vars with its value.
func StartDexFrom(t testing.TB, config string, vars map[string]string) *Dex {
	t.Helper()
	bin := Binary(t)
	tmpl, err := os.ReadFile(repoFile(config))
	if err != nil {
		t.Fatal(err)
	}
	proxyLn := Listen(t)
	dexLn := Listen(t)
	dexAddr := dexLn.Addr().String()
	dexLn.Close() // Dex binds it itself
	d := &Dex{Issuer: "http://" + proxyLn.Addr().String() + "/dex", Addr: proxyLn.Addr().String(), Log: &logbuf.Buffer{}}
	pairs := []string{"{{ISSUER}}", d.Issuer, "{{ADDR}}", dexAddr}
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	cfg := strings.NewReplacer(pairs...).Replace(string(tmpl))
	path := filepath.Join(t.TempDir(), "dex.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.bin, d.cfg = bin, path
	d.start(t)
	t.Cleanup(d.Stop)
	target, _ := url.Parse("http://" + dexAddr)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // Dex still starting, or stopped on purpose
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if form, _ := url.ParseQuery(string(body)); form.Get("grant_type") == "refresh_token" {
				d.Refreshes.Add(1)
				if hold := d.HoldRefresh.Load(); hold != nil {
					(*hold)()
				}
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(proxyLn)
	t.Cleanup(func() { srv.Close() })
	d.await(t)
	return d
}

func (d *Dex) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(d.bin, "serve", d.cfg)
	cmd.Stdout, cmd.Stderr = d.Log, d.Log
	cmd.Dir = filepath.Dir(d.cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.cmd = cmd
	d.mu.Unlock()
}

// Stop kills Dex (a test of an authorization server that is down uses it
// mid-test; the proxy then answers 502). Stopping twice is harmless.
func (d *Dex) Stop() {
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	if cmd != nil && cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func (d *Dex) await(t testing.TB) {
	t.Helper()
	await.Until(t, "Dex's discovery document", func() bool {
		resp, err := http.Get(d.Issuer + "/.well-known/openid-configuration")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Restart stops Dex and starts it again on the same address and issuer.
// Its storage is memory, so every grant is gone and its signing keys are
// new: every token it issued stops working (the access tokens fail
// verification, the refresh tokens are unknown), as when an
// authorization server revokes them.
func (d *Dex) Restart(t testing.TB) {
	t.Helper()
	d.Stop()
	d.start(t)
	d.await(t)
}

// String names the Dex for failure messages.
func (d *Dex) String() string { return fmt.Sprintf("dex at %s", d.Issuer) }

// StartBearerServer builds testdata/mcp-bearer and runs it as its own
// process (a remote server, as a shim fronts one) until the test ends,
// with extra flags (-introspect). It returns the server's MCP endpoint
// URL.
func StartBearerServer(t testing.TB, issuer, audience string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcp-bearer")
	build := exec.Command("go", "build", "-o", bin, "./testdata/mcp-bearer")
	build.Dir = repoFile(".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/mcp-bearer: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-issuer", issuer, "-audience", audience}, flags...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &logbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		var b []byte
		one := make([]byte, 1)
		for {
			if _, err := out.Read(one); err != nil || one[0] == '\n' {
				line <- string(b)
				return
			}
			b = append(b, one[0])
		}
	}()
	u := await.Recv(t, line, "mcp-bearer's URL on stdout")
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("mcp-bearer printed %q\n%s", u, stderr)
	}
	return u
}
