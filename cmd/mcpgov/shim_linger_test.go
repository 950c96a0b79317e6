//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// lingerShim is `mcpgov shim --url --no-browser` started as an IDE
// starts it (a process group of its own, which the IDE kills whole), and
// driven by a raw client.
type lingerShim struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *syncBuffer
}

func (s *shimOAuthSandbox) startLingerShim(ctx context.Context, args ...string) *lingerShim {
	t := s.t
	cmd := s.command(ctx, nil, append([]string{"--no-browser"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	return &lingerShim{t: t, cmd: cmd, stdin: stdin, lines: lines, stderr: stderr}
}

func (l *lingerShim) send(msg string) string {
	l.t.Helper()
	if _, err := io.WriteString(l.stdin, msg+"\n"); err != nil {
		l.t.Fatal(err)
	}
	if !l.lines.Scan() {
		l.t.Fatalf("no answer to %s\n%s", msg, l.stderr)
	}
	return l.lines.Text()
}

const lingerInit = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// link initializes and returns the consent link the refusal carries.
func (l *lingerShim) link() string {
	l.t.Helper()
	answer := l.send(lingerInit)
	var refused struct {
		Error struct{ Message string } `json:"error"`
	}
	link := ""
	if json.Unmarshal([]byte(answer), &refused) == nil {
		link = consentLink.FindString(refused.Error.Message)
	}
	if link == "" {
		l.t.Fatalf("initialize without consent: %s\n%s", answer, l.stderr)
	}
	return link
}

var helperPid = regexp.MustCompile(`a helper process \(pid (\d+)\) keeps the redirect endpoint up`)

// helper is the pidfd of the keeper the shim says it started.
func (l *lingerShim) helper() int {
	l.t.Helper()
	var pid int
	await.Until(l.t, "the shim to name its redirect helper", func() bool {
		m := helperPid.FindStringSubmatch(l.stderr.String())
		if m != nil {
			pid, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		l.t.Fatalf("pidfd of the helper %d: %v", pid, err)
	}
	l.t.Cleanup(func() {
		if !exited(fd, 0) {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
		unix.Close(fd)
	})
	return fd
}

// kill kills the shim's whole process group with SIGKILL, as an IDE
// does, and reaps it.
func (l *lingerShim) kill() {
	l.t.Helper()
	if err := syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		l.t.Fatal(err)
	}
	// Wait returns once stderr closes too: the helper does not hold it.
	var exit *exec.ExitError
	if err := l.cmd.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		l.t.Fatalf("the shim after SIGKILL: %v", err)
	}
}

// exited reports whether the process of pidfd has exited, waiting up to
// ms milliseconds (-1: until it has).
func exited(pidfd, ms int) bool {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n == 1
	}
}

// awaitExit waits, within the test's deadline, for the process of pidfd
// to exit.
func awaitExit(t *testing.T, pidfd int, what string) {
	t.Helper()
	if !exited(pidfd, int(time.Until(await.Deadline(t)).Milliseconds())) {
		t.Fatalf("%s did not exit", what)
	}
}

func redirectPort(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil || r.Port() == "" {
		t.Fatalf("consent link without a loopback redirect_uri: %v", err)
	}
	return r.Port()
}

// credentialRecords are the audit trail's credential records of notes, by
// outcome (and reason).
func (s *shimOAuthSandbox) credentialRecords() (map[string]int, string) {
	s.t.Helper()
	query := exec.Command("mcpgov", "audit", "query", "--format", "jsonl")
	query.Env = s.env
	out, err := query.Output()
	if err != nil {
		s.t.Fatalf("audit query: %v", err)
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Kind, Outcome, Reason string
			Server                struct{ ID string }
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Kind == "credential" && r.Server.ID == "notes" {
			got[r.Outcome]++
			got[r.Reason]++
		}
	}
	return got, string(out)
}

func (s *shimOAuthSandbox) lingerLog() string {
	b, _ := os.ReadFile(filepath.Join(envValue(s.env, "XDG_STATE_HOME"), "mcpgov", "shim-oauth", "linger.log"))
	return string(b)
}

// TestShimOAuthLinkKilled: the client receives the consent link and kills
// the shim's process group with SIGKILL at once. The helper the shim
// started (a session of its own) answers the redirect when the link is
// followed, stores the grant in the Secret Service, records it, and
// exits; the client's next start calls the tool with no consent.
func TestShimOAuthLinkKilled(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	shim := s.startLingerShim(ctx)
	link := shim.link()
	helper := shim.helper()
	shim.kill()
	if exited(helper, 0) {
		t.Fatalf("the helper died with the shim's process group\nlog:\n%s", s.lingerLog())
	}

	status, page, err := oauthusertest.Consent(ctx, link)
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("consent after the shim was killed: %d %v\n%s\nhelper log:\n%s", status, err, page, s.lingerLog())
	}
	awaitExit(t, helper, "the helper, once the consent was granted")
	if item, err := s.keyringItem(); err != nil || !strings.Contains(item, "refresh_token") {
		t.Fatalf("no grant in the Secret Service after the helper: %v", err)
	}

	// The client's next start: the grant, no consent.
	cs, stderr, err := s.connect(nil, nil, "--no-browser")
	if err != nil {
		t.Fatalf("the next start: %v\n%s", err, stderr)
	}
	if who, isErr := whoami(t, cs); isErr || who != oauthusertest.User {
		t.Fatalf("whoami on the next start = %q\n%s", who, stderr)
	}
	if strings.Contains(stderr.String(), "needs your consent") {
		t.Errorf("the next start asked for a consent again:\n%s", stderr)
	}
	records, all := s.credentialRecords()
	if records["grant"] != 1 || strings.Contains(all, "eyJ") {
		t.Errorf("credential records %v: want the helper's one grant, and no token:\n%s", records, all)
	}
	log := s.lingerLog()
	if !strings.Contains(log, "authorized") || strings.Contains(log, "eyJ") || strings.Contains(log, "state=") {
		t.Errorf("the helper's log does not say it authorized, or holds a token or state:\n%s", log)
	}
}

// TestShimOAuthLinkKilledSecondShim: while the helper of a killed shim
// holds its redirect port, a second shim gets a consent link on another
// port, and its consent works (answered by that shim, which then stops
// its own helper); the first link still works through the helper.
func TestShimOAuthLinkKilledSecondShim(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	first := s.startLingerShim(ctx)
	linkA := first.link()
	helperA := first.helper()
	first.kill()

	second := s.startLingerShim(ctx)
	linkB := second.link()
	helperB := second.helper()
	if a, b := redirectPort(t, linkA), redirectPort(t, linkB); a == b {
		t.Fatalf("both consents redirect to port %s", a)
	}
	if status, page, err := oauthusertest.Consent(ctx, linkB); err != nil || status != http.StatusOK {
		t.Fatalf("the second shim's consent: %d %v\n%s\n%s", status, err, page, second.stderr)
	}
	awaitExit(t, helperB, "the second shim's helper, once its consent was answered by the shim")
	if answer := second.send(strings.Replace(lingerInit, `"id":1`, `"id":2`, 1)); !strings.Contains(answer, `"result"`) {
		t.Fatalf("the second shim's initialize after the consent: %s\n%s", answer, second.stderr)
	}
	if answer := second.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" + `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`); !strings.Contains(answer, oauthusertest.User) {
		t.Fatalf("whoami through the second shim: %s\n%s", answer, second.stderr)
	}
	if exited(helperA, 0) {
		t.Fatal("the first shim's helper exited before its consent")
	}
	if status, page, err := oauthusertest.Consent(ctx, linkA); err != nil || status != http.StatusOK {
		t.Fatalf("the first link, through the helper: %d %v\n%s\n%s", status, err, page, s.lingerLog())
	}
	awaitExit(t, helperA, "the first shim's helper, once its consent was granted")
	second.stdin.Close()
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("the second shim: %v\n%s", err, second.stderr)
	}
	if records, all := s.credentialRecords(); records["grant"] != 2 {
		t.Errorf("credential records %v: want two grants (the shim's, the helper's):\n%s", records, all)
	}
}

// TestShimOAuthLinkKilledExpired: a consent nobody follows ends the
// helper at its expiry (--oauth-consent-ttl), with a consent_failed
// record saying it expired.
func TestShimOAuthLinkKilledExpired(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	shim := s.startLingerShim(ctx, "--oauth-consent-ttl", "3s")
	link := shim.link()
	helper := shim.helper()
	shim.kill()
	awaitExit(t, helper, "the helper, once the consent expired")
	records, all := s.credentialRecords()
	if records["consent_failed"] != 1 || records["consent_failed oauth grant: expired"] != 1 || records["grant"] != 0 {
		t.Errorf("credential records %v: want one consent_failed (expired):\n%s", records, all)
	}
	if !strings.Contains(s.lingerLog(), "expired unanswered") {
		t.Errorf("the helper's log:\n%s", s.lingerLog())
	}
	// The port is free again: the link leads nowhere.
	if status, _, err := oauthusertest.Consent(ctx, link); err == nil && status == http.StatusOK {
		t.Errorf("an expired consent was granted")
	}
}

// TestShimOAuthLinkTerminated: a client that stops the shim's process
// group with SIGTERM: the shim closes its own listener, hands the pending
// consent over (its stderr says so) and exits; the helper, which the
// signal did not reach, answers the link.
func TestShimOAuthLinkTerminated(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	shim := s.startLingerShim(ctx)
	link := shim.link()
	helper := shim.helper()
	if err := syscall.Kill(-shim.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = shim.cmd.Wait() // stderr closed: the helper does not hold it
	if !strings.Contains(shim.stderr.String(), "keeps the redirect endpoint up: waiting up to") {
		t.Fatalf("the shim did not hand the consent over:\n%s", shim.stderr)
	}
	if exited(helper, 0) {
		t.Fatalf("the helper died with the shim's process group\nlog:\n%s", s.lingerLog())
	}
	if status, page, err := oauthusertest.Consent(ctx, link); err != nil || status != http.StatusOK {
		t.Fatalf("consent after SIGTERM: %d %v\n%s\nhelper log:\n%s", status, err, page, s.lingerLog())
	}
	awaitExit(t, helper, "the helper, once the consent was granted")
	if item, err := s.keyringItem(); err != nil || !strings.Contains(item, "refresh_token") {
		t.Fatalf("no grant in the Secret Service after the helper: %v", err)
	}
}

// TestShimOAuthLinkExpiresWhileShimRuns: a link nobody follows while the
// shim runs: the helper is stopped at the consent's expiry, not kept for
// as long as the shim runs, and records nothing (the shim is there).
func TestShimOAuthLinkExpiresWhileShimRuns(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	shim := s.startLingerShim(ctx, "--oauth-consent-ttl", "2s")
	shim.link()
	helper := shim.helper()
	shimfd, err := unix.PidfdOpen(shim.cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(shimfd)
	awaitExit(t, helper, "the helper of an expired link, the shim running")
	if exited(shimfd, 0) {
		t.Fatalf("the shim exited with its helper:\n%s", shim.stderr)
	}
	shim.stdin.Close()
	if err := shim.cmd.Wait(); err != nil {
		t.Fatalf("the shim: %v\n%s", err, shim.stderr)
	}
	if records, all := s.credentialRecords(); records["consent_failed"] != 0 {
		t.Errorf("the stopped helper recorded an expiry: %v\n%s", records, all)
	}
	if strings.Contains(shim.stderr.String(), "keeps the redirect endpoint up: waiting") {
		t.Errorf("the shim handed an expired consent over:\n%s", shim.stderr)
	}
}
