//go:build unix

package main

// Helpers of the login end-to-end tests: a real Dex on loopback (built by
// `make idp-deps`, path in MCPGOV_DEX), an HTTP client that approves device
// codes and loopback logins through Dex's own HTML forms, and a sandbox in
// which the real mcpgov binary runs without seeing the user's home, config
// or keyring.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

const (
	dexUser     = "alice@example.com"
	dexPassword = "password"
	// gatewayScope puts the gateway's client ID into the tokens' aud.
	gatewayScope = "audience:server:client_id:mcpgov-gateway"
)

// loginScopes are the scopes the tests log in with.
var loginScopes = "openid,profile,email,groups,offline_access," + gatewayScope

// dex is a running Dex behind a loopback reverse proxy
// (oauthusertest.Dex, shared with the per-user OAuth tests). The issuer is
// the proxy's address; the proxy counts refresh-token grants and can hold
// them back (HoldRefresh) so concurrent refreshes really overlap.
type dex = oauthusertest.Dex

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDex runs Dex with testdata/idp/dex.yaml on a free loopback port until
// the test ends. deviceExpiry is how long a device code lives.
func startDex(t testing.TB, deviceExpiry string) *dex {
	t.Helper()
	return startDexExpiry(t, deviceExpiry, "10m")
}

// startDexExpiry is startDex with the lifetime of the tokens Dex signs.
func startDexExpiry(t testing.TB, deviceExpiry, idTokens string) *dex {
	t.Helper()
	return oauthusertest.StartDexFrom(t, "testdata/idp/dex.yaml", map[string]string{"DEVICE_EXPIRY": deviceExpiry, "ID_TOKENS": idTokens})
}

var formAction = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*)"`)

// browserLogin plays the person in the browser: with a cookie jar it
// follows Dex from start (a GET URL, or a POST of form values) to the
// local login form, and submits the password. It returns the last page.
func browserLogin(t testing.TB, d *dex, start string, form url.Values) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: await.Budget(t)}
	var resp *http.Response
	var err error
	if form != nil {
		resp, err = c.PostForm(start, form)
	} else {
		resp, err = c.Get(start)
	}
	if err != nil {
		t.Fatalf("open %s: %v", start, err)
	}
	page := readBody(t, resp)
	m := formAction.FindStringSubmatch(page)
	if m == nil || !strings.Contains(m[1], "/auth/local/login") {
		t.Fatalf("no login form at %s:\n%s", start, page)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.PostForm(action.String(), url.Values{"login": {dexUser}, "password": {dexPassword}})
	if err != nil {
		t.Fatalf("post credentials: %v", err)
	}
	return readBody(t, resp)
}

// approveDevice enters userCode on Dex's device page and logs in.
func approveDevice(t testing.TB, d *dex, userCode string) {
	t.Helper()
	page := browserLogin(t, d, d.Issuer+"/device/auth/verify_code", url.Values{"user_code": {userCode}})
	if !strings.Contains(page, "Login Successful") {
		t.Fatalf("device approval did not succeed:\n%s", page)
	}
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// passwordToken gets tokens straight from Dex (password grant) for tests
// that need a token but are not about the login flow.
func passwordToken(t testing.TB, d *dex, clientID, scope string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(d.Issuer+"/token", url.Values{
		"grant_type": {"password"}, "client_id": {clientID}, "username": {dexUser},
		"password": {dexPassword}, "scope": {scope},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(readBody(t, resp)), &tok); err != nil || tok["access_token"] == nil {
		t.Fatalf("password grant: %v %v", err, tok)
	}
	return tok
}

// loginSandbox is a private home for mcpgov: its own HOME, XDG dirs, config
// files and no session bus (so the OS keyring is never touched unless a
// test starts its own Secret Service).
type loginSandbox struct {
	t    testing.TB
	Home string
	Env  []string
}

func newSandbox(t testing.TB) *loginSandbox {
	t.Helper()
	home := t.TempDir()
	run := filepath.Join(home, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MCPGOV_") || strings.HasPrefix(k, "XDG_") || k == "HOME" ||
			k == "DBUS_SESSION_BUS_ADDRESS" || k == "DISPLAY" || k == "WAYLAND_DISPLAY" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_RUNTIME_DIR="+run, "MCPGOV_MANAGED_CONFIG="+filepath.Join(home, "managed.toml"))
	return &loginSandbox{t: t, Home: home, Env: env}
}

// config writes the user's config.toml.
func (s *loginSandbox) config(text string) {
	s.t.Helper()
	p := filepath.Join(s.Home, ".config", "mcpgov", "config.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *loginSandbox) sessionFile(profile string) string {
	return filepath.Join(s.Home, ".local", "state", "mcpgov", "login", profile+".json")
}

type result struct {
	Stdout, Stderr string
	Code           int
}

func (s *loginSandbox) command(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	path, err := exec.LookPath("mcpgov")
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = s.Env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs mcpgov to completion.
func (s *loginSandbox) run(stdin string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(s.t))
	defer cancel()
	cmd := s.command(ctx, stdin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("mcpgov %v: %v", args, err)
	}
	return r
}

// must runs mcpgov and fails the test unless it exits 0.
func (s *loginSandbox) must(stdin string, args ...string) result {
	s.t.Helper()
	r := s.run(stdin, args...)
	if r.Code != 0 {
		s.t.Fatalf("mcpgov %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// wantExit checks an exit code and that stderr contains every want.
func (r result) wantExit(t testing.TB, code int, wants ...string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstderr:\n%s", r.Code, code, r.Stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
}

// lineWatcher is an io.Writer that keeps what it got and signals when a
// regexp first matches it.
type lineWatcher struct {
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan []string
}

func newLineWatcher(re string) *lineWatcher {
	return &lineWatcher{re: regexp.MustCompile(re), match: make(chan []string, 1)}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	before := w.re.FindStringSubmatch(w.buf.String())
	w.buf.Write(p)
	if before == nil {
		if m := w.re.FindStringSubmatch(w.buf.String()); m != nil {
			w.match <- m
		}
	}
	return len(p), nil
}

// startLogin starts `mcpgov login ARGS...` and returns once it printed
// what matches re (the device code, the browser URL); wait ends it.
func (s *loginSandbox) startLogin(re string, args ...string) (match []string, wait func() result) {
	s.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(s.t))
	cmd := s.command(ctx, "", append([]string{"login"}, args...)...)
	w := newLineWatcher(re)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, w
	if err := cmd.Start(); err != nil {
		cancel()
		s.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finish := func(err error) result {
		defer cancel()
		r := result{Stdout: out.String(), Stderr: w.buf.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else if err != nil {
			s.t.Fatalf("mcpgov login: %v", err)
		}
		return r
	}
	select {
	case m := <-w.match:
		return m, func() result { return finish(<-done) }
	case err := <-done:
		r := finish(err)
		s.t.Fatalf("mcpgov login ended before printing %s: exit %d\n%s", re, r.Code, r.Stderr)
	}
	return nil, nil
}

// status runs `auth status --json` and decodes it.
func (s *loginSandbox) status(args ...string) (map[string]any, result) {
	s.t.Helper()
	r := s.run("", append([]string{"auth", "status", "--json"}, args...)...)
	var st map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		s.t.Fatalf("auth status --json: %v\n%s\n%s", err, r.Stdout, r.Stderr)
	}
	return st, r
}

// expire rewrites the session's access-token expiry into the past, as if
// the token had run out: the next use must refresh.
func (s *loginSandbox) expire(profile string) {
	s.t.Helper()
	p := s.sessionFile(profile)
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	var sess map[string]any
	if err := json.Unmarshal(b, &sess); err != nil {
		s.t.Fatal(err)
	}
	sess["expiry"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	b, _ = json.Marshal(sess)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *loginSandbox) session(profile string) map[string]any {
	s.t.Helper()
	b, err := os.ReadFile(s.sessionFile(profile))
	if err != nil {
		s.t.Fatal(err)
	}
	var sess map[string]any
	if err := json.Unmarshal(b, &sess); err != nil {
		s.t.Fatal(err)
	}
	return sess
}

func dexProfile(d *dex) string {
	return fmt.Sprintf(`[profiles.default]
issuer = %q
client_id = "mcpgov-cli"
scopes = [%s]
gateway_audience = "mcpgov-gateway"
`, d.Issuer, quoteList(loginScopes))
}

func quoteList(csv string) string {
	var q []string
	for _, s := range strings.Split(csv, ",") {
		q = append(q, fmt.Sprintf("%q", s))
	}
	return strings.Join(q, ", ")
}
