package vet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/mcpgov/mcpgov/catalog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// fakeServerEnv switches a re-executed test binary into the fake server,
// the way os/exec's tests run helper processes.
const fakeServerEnv = "MCPGOV_CATALOG_FAKE_SERVER"

// TestFakeServerProcess is not a test: it is the fake MCP server when the
// test binary is re-executed with fakeServerEnv set.
func TestFakeServerProcess(t *testing.T) { catalogtest.RunIfHelperProcess(fakeServerEnv) }

// fakeServerArgs make the test binary run TestFakeServerProcess only.
var fakeServerArgs = catalogtest.HelperProcessArgs

func fakeEndpoint(args ...string) Endpoint {
	return Endpoint{
		Command: os.Args[0],
		Args:    append(slices.Clone(fakeServerArgs), args...),
		Env:     []string{fakeServerEnv + "=1"},
	}
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func vetFake(t *testing.T, opts Options, args ...string) *Report {
	t.Helper()
	var stderr bytes.Buffer
	opts.Stderr = &lockedWriter{w: &stderr}
	if opts.Timeout == 0 {
		opts.Timeout = await.Budget(t)
	}
	r, err := Run(context.Background(), fakeEndpoint(args...), opts)
	if err != nil {
		t.Fatalf("Vet %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return r
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func toolNames(r *Report) []string {
	var names []string
	for _, t := range r.Tools {
		names = append(names, t.Name)
	}
	return names
}

func pinsOf(r *Report) map[string]string {
	pins := map[string]string{}
	for _, t := range r.Tools {
		pins[t.Name] = t.Fingerprint
	}
	return pins
}

func TestVetFakeServer(t *testing.T) {
	r := vetFake(t, Options{})
	if r.Server.Name != catalogtest.ServerName || r.Server.Version != catalogtest.ServerVersion || r.Server.ProtocolVersion == "" {
		t.Errorf("server = %+v", r.Server)
	}
	// Three tools over two pages (the fake serves two per page).
	if got, want := toolNames(r), []string{catalogtest.ToolAdd, catalogtest.ToolEcho, catalogtest.ToolNotes}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	for _, tool := range r.Tools {
		if !digestRe.MatchString(tool.Fingerprint) || tool.Fingerprint != catalog.Fingerprint(tool.ToolDef) {
			t.Errorf("%s: fingerprint %q", tool.Name, tool.Fingerprint)
		}
		if review.MaxSeverity(tool.Findings).Rank() >= finding.SeverityMedium.Rank() {
			t.Errorf("%s: clean tool has findings %+v", tool.Name, tool.Findings)
		}
		if len(tool.InputSchema) == 0 {
			t.Errorf("%s: no input schema captured", tool.Name)
		}
	}
	if !slices.Equal(r.Prompts, []string{catalogtest.PromptName}) ||
		!slices.Equal(r.Resources, []string{catalogtest.ResourceURI}) ||
		!slices.Equal(r.ResourceTemplates, []string{catalogtest.ResourceTemplate}) {
		t.Errorf("prompts %v, resources %v, templates %v", r.Prompts, r.Resources, r.ResourceTemplates)
	}
	if len(r.PinChanges) != 3 || r.PinChanges[0].Kind != catalog.PinNew {
		t.Errorf("without pins every tool is new: %v", r.PinChanges)
	}
	if r.Duration <= 0 {
		t.Error("no duration")
	}

	// Vetting again gives the same fingerprints, no pin changes, the same
	// digest.
	again := vetFake(t, Options{Pins: pinsOf(r)})
	if len(again.PinChanges) != 0 {
		t.Errorf("second vet against the first one's pins: %v", again.PinChanges)
	}
	if !digestRe.MatchString(r.Digest()) || r.Digest() != again.Digest() {
		t.Errorf("digests %s and %s", r.Digest(), again.Digest())
	}
}

func TestVetFakeServerPinChanges(t *testing.T) {
	pins := pinsOf(vetFake(t, Options{}))

	drift := vetFake(t, Options{Pins: pins}, "--drift")
	if len(drift.PinChanges) != 1 || drift.PinChanges[0].Kind != catalog.PinDrift || drift.PinChanges[0].Tool != catalogtest.ToolEcho {
		t.Errorf("--drift: %v", drift.PinChanges)
	}

	renamed := vetFake(t, Options{Pins: pins}, "--rename")
	want := catalog.PinChange{Kind: catalog.PinRenamed, Tool: catalogtest.RenamedEcho, From: catalogtest.ToolEcho, Pinned: pins[catalogtest.ToolEcho]}
	if len(renamed.PinChanges) != 1 {
		t.Fatalf("--rename: %v", renamed.PinChanges)
	}
	got := renamed.PinChanges[0]
	got.Current = ""
	if got != want {
		t.Errorf("--rename: %+v, want %+v", renamed.PinChanges[0], want)
	}
}

func TestVetFakeServerPoison(t *testing.T) {
	clean := vetFake(t, Options{})
	r := vetFake(t, Options{Pins: pinsOf(clean)}, "--poison")
	if len(r.PinChanges) != 1 || r.PinChanges[0].Kind != catalog.PinDrift || r.PinChanges[0].Tool != catalogtest.ToolAdd {
		t.Errorf("pin changes %v", r.PinChanges)
	}
	if r.Digest() == clean.Digest() {
		t.Error("poisoned review has the clean review's digest")
	}
	var add *Tool
	for i := range r.Tools {
		if r.Tools[i].Name == catalogtest.ToolAdd {
			add = &r.Tools[i]
		}
	}
	if add == nil {
		t.Fatal("no add tool")
	}
	rules := map[string]finding.Severity{}
	for _, f := range add.Findings {
		if f.Severity.Rank() > rules[f.Rule].Rank() {
			rules[f.Rule] = f.Severity
		}
		for _, c := range f.Evidence + f.Message + f.Field {
			if review.IsInvisible(c) {
				t.Errorf("raw invisible character %U in finding %+v", c, f)
			}
		}
		if f.Rule == review.RuleHiddenUnicode && f.Severity == finding.SeverityCritical && !strings.Contains(f.Message, catalogtest.HiddenPoison) {
			t.Errorf("tag characters not decoded: %+v", f)
		}
	}
	for rule, min := range map[string]finding.Severity{
		review.RuleHiddenUnicode:    finding.SeverityCritical,
		review.RuleImperativeMarkup: finding.SeverityHigh,
		review.RuleSensitivePath:    finding.SeverityHigh,
		review.RuleConcealment:      finding.SeverityHigh,
	} {
		if rules[rule].Rank() < min.Rank() {
			t.Errorf("rule %s: got %q, want at least %s; findings:\n%+v", rule, rules[rule], min, add.Findings)
		}
	}
	// The hidden text itself is reviewed too.
	found := false
	for _, f := range add.Findings {
		found = found || (strings.HasPrefix(f.Message, "in the hidden text: ") && strings.Contains(f.Evidence, ".aws/credentials"))
	}
	if !found {
		t.Errorf("hidden text was not reviewed: %+v", add.Findings)
	}
}

func TestVetFakeServerExitsEarly(t *testing.T) {
	var stderr lockedWriter
	stderr.w = &bytes.Buffer{}
	_, err := Run(context.Background(), fakeEndpoint("--exit-early"), Options{Timeout: await.Budget(t), Stderr: &stderr})
	if !errors.Is(err, ErrServerExited) {
		t.Fatalf("err = %v, want ErrServerExited", err)
	}
	msg := err.Error()
	for _, want := range []string{"exited before answering initialize", "exit status 1", catalogtest.ExitEarlyMessage, "-test.run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if !strings.Contains(stderr.String(), catalogtest.ExitEarlyMessage) {
		t.Errorf("child stderr not passed on: %q", stderr.String())
	}
	var ve *Error
	if !errors.As(err, &ve) || ve.Hint() == "" {
		t.Errorf("no hint for %v", err)
	}
}

// TestVetFakeServerCrashesOnList: a server that dies after initialize is
// reported as exited, naming the call it did not answer. The exit, not the
// timeout, must end the wait: the timeout is the test's whole budget, so
// ErrServerExited (rather than ErrNoAnswer) shows that Vet noticed it.
func TestVetFakeServerCrashesOnList(t *testing.T) {
	_, err := Run(context.Background(), fakeEndpoint("--crash-on-list"), Options{Timeout: await.Budget(t)})
	if !errors.Is(err, ErrServerExited) {
		t.Fatalf("err = %v, want ErrServerExited", err)
	}
	for _, want := range []string{"exited before answering tools/list", "exit status 3", catalogtest.CrashMessage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestVetFakeServerHangs: a server that never answers is given up on at the
// timeout. It ignores stdin EOF and SIGTERM and has started a child: only
// killing the process group ends both, and Vet must go straight to that,
// not through the polite shutdown steps (stdin closed, SIGTERM, SIGKILL),
// so the server must never see a SIGTERM.
//
// What is checked needs the server to have started its child (and written
// both pids) before the timeout; on a machine slow enough that it had not,
// the run proves nothing about the group, so it is repeated with twice the
// timeout.
func TestVetFakeServerHangs(t *testing.T) {
	for timeout := time.Second; ; timeout *= 2 {
		dir := t.TempDir()
		pidFile, signalLog := filepath.Join(dir, "pids"), filepath.Join(dir, "signals")
		_, err := Run(context.Background(), fakeEndpoint("--hang", "--pidfile", pidFile, "--signal-log", signalLog), Options{Timeout: timeout})
		if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrNoAnswer", err)
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("no answer within %s from", timeout)) || !strings.Contains(msg, "waiting for initialize") {
			t.Errorf("error %q", msg)
		}
		pids, ok := readPIDs(pidFile)
		if !ok {
			if 2*timeout > await.Budget(t) {
				t.Fatalf("the fake server never started its child within a %v timeout", timeout)
			}
			t.Logf("the fake server had not started its child within %v; again with %v", timeout, 2*timeout)
			continue
		}
		if got, _ := os.ReadFile(signalLog); len(got) != 0 {
			t.Errorf("Vet went through the polite shutdown steps; the server got: %q", got)
		}
		assertProcessesGone(t, pids)
		return
	}
}

// TestVetFakeServerHangAfterCancel: cancelling the caller's context while
// the server hangs ends Vet with context.Canceled (not a timeout) and the
// server's process group with it.
func TestVetFakeServerHangAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pidFile := filepath.Join(t.TempDir(), "pids")
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, fakeEndpoint("--hang", "--pidfile", pidFile), Options{Timeout: await.Budget(t)})
		done <- err
	}()
	var pids [2]int
	await.Until(t, "the hanging server's pid file", func() bool {
		var ok bool
		pids, ok = readPIDs(pidFile)
		return ok
	})
	cancel()
	err := await.Recv(t, done, "Vet to return after the cancel")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoAnswer) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertProcessesGone(t, pids)
}

func TestVetCommandNotFound(t *testing.T) {
	for _, cmd := range []string{"mcpgov-no-such-server-zz9", filepath.Join(t.TempDir(), "no", "such", "server")} {
		_, err := Run(context.Background(), Endpoint{Command: cmd, Args: []string{"--stdio"}}, Options{Timeout: await.Budget(t)})
		if !errors.Is(err, ErrCommandNotFound) {
			t.Errorf("%s: err = %v, want ErrCommandNotFound", cmd, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("command %q not found", cmd)) {
			t.Errorf("error %q does not name the command", err)
		}
	}
}

func TestVetEndpointErrors(t *testing.T) {
	for _, ep := range []Endpoint{{}, {Command: "x", URL: "http://127.0.0.1:1/mcp"}} {
		if _, err := Run(context.Background(), ep, Options{}); err == nil {
			t.Errorf("Run(%+v) accepted the endpoint", ep)
		}
	}
}

func TestVetHTTP(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server {
		return catalogtest.NewServer(catalogtest.Options{PageSize: 2})
	}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	r, err := Run(context.Background(), Endpoint{URL: srv.URL + "/mcp", Headers: map[string]string{"Authorization": "Bearer t0ken"}}, Options{Timeout: await.Budget(t)})
	if err != nil {
		t.Fatal(err)
	}
	stdio := vetFake(t, Options{})
	if !slices.Equal(toolNames(r), toolNames(stdio)) {
		t.Fatalf("HTTP tools %v, stdio tools %v", toolNames(r), toolNames(stdio))
	}
	// A fingerprint depends on the definition, not on the transport.
	if len(catalog.ComparePins(pinsOf(stdio), toolsOf(r))) != 0 {
		t.Errorf("HTTP and stdio fingerprints differ: %v", catalog.ComparePins(pinsOf(stdio), toolsOf(r)))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) == 0 || slices.ContainsFunc(auth, func(a string) bool { return a != "Bearer t0ken" }) {
		t.Errorf("Authorization headers sent: %q", auth)
	}
}

func toolsOf(r *Report) []catalog.ToolDef {
	var defs []catalog.ToolDef
	for _, t := range r.Tools {
		defs = append(defs, t.ToolDef)
	}
	return defs
}

func TestVetHTTPConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/mcp"
	l.Close()
	_, err = Run(context.Background(), Endpoint{URL: url}, Options{Timeout: await.Budget(t)})
	if !errors.Is(err, ErrConnectionRefused) {
		t.Fatalf("err = %v, want ErrConnectionRefused", err)
	}
	if want := "connect to " + url + ": connection refused"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestVetHTTPSilentUpstream: a server that accepts connections and never
// answers must not hang Vet: it gives up at its timeout.
func TestVetHTTPSilentUpstream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Endpoint{URL: "http://" + l.Addr().String() + "/mcp"}, Options{Timeout: time.Second})
		done <- err
	}()
	if err := await.Recv(t, done, "Vet to give up on a silent server"); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("err = %v, want ErrNoAnswer", err)
	}
}

func TestEndpointStringRedacts(t *testing.T) {
	ep := Endpoint{URL: "https://user:hunter2@mcp.example.com/mcp?api_key=s3cret#frag", Headers: map[string]string{"Authorization": "Bearer zzz"}}
	s := ep.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cret") || strings.Contains(s, "zzz") || !strings.Contains(s, "mcp.example.com/mcp") {
		t.Errorf("String() = %q", s)
	}
	ep = Endpoint{Command: "npx", Args: []string{"-y", "@x/server"}, Env: []string{"TOKEN=s3cret"}}
	if s := ep.String(); s != `"npx -y @x/server"` {
		t.Errorf("String() = %q", s)
	}
}

func TestStderrTail(t *testing.T) {
	var sink bytes.Buffer
	s := newStderrTail(&sink)
	in := "one\n\ntwo\r\nthree \x1b[8mhidden\x1b[0m\n"
	for i := 0; i < stderrKeepLines+3; i++ {
		in += fmt.Sprintf("line %d\n", i)
	}
	in += "partial"
	// Byte by byte, as a pipe may deliver it.
	for i := range len(in) {
		if n, err := s.Write([]byte{in[i]}); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if sink.String() != in {
		t.Error("stderr not passed on unchanged")
	}
	lines := s.lines()
	if len(lines) != stderrKeepLines || lines[len(lines)-1] != "partial" {
		t.Errorf("lines = %q", lines)
	}
	s2 := newStderrTail(nil)
	s2.Write([]byte("a \x1b[8mb\n"))
	if got := s2.lines(); len(got) != 1 || got[0] != "a <U+001B>[8mb" {
		t.Errorf("escape not rendered: %q", got)
	}
}

// readPIDs reads the pids of the hanging fake server and of its child
// from pidFile; false until the file holds both.
func readPIDs(pidFile string) (pids [2]int, ok bool) {
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return pids, false
	}
	n, _ := fmt.Sscan(string(raw), &pids[0], &pids[1])
	return pids, n == 2 && strings.HasSuffix(string(raw), "\n")
}

// assertProcessesGone waits for pids to be gone (a killed process is
// reaped a moment later). One that outlives the test's deadline is an
// error, and is killed when the test ends.
func assertProcessesGone(t *testing.T, pids [2]int) {
	t.Helper()
	for _, pid := range pids {
		t.Cleanup(func() {
			if processAlive(pid) {
				killPID(pid)
			}
		})
		await.Until(t, fmt.Sprintf("process %d gone after Vet returned", pid), func() bool { return !processAlive(pid) })
	}
}

// e2eBinary finds an npm-installed server for the end-to-end tests: in
// .cache/npm (make e2e-deps) or on PATH. Without it the test skips, unless
// MCPGOV_E2E is set (make test), where it fails.
func e2eBinary(t *testing.T, name string) string {
	t.Helper()
	local, _ := filepath.Abs(filepath.Join("..", ".cache", "npm", "node_modules", ".bin", name))
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("MCPGOV_E2E") != "" {
		t.Fatalf("%s not found in .cache/npm or on PATH; run make e2e-deps", name)
	}
	t.Skipf("%s not installed; run make e2e-deps (or make test) to vet the real server", name)
	return ""
}

// TestVetServerEverything vets the real reference server over stdio.
func TestVetServerEverything(t *testing.T) {
	bin := e2eBinary(t, "mcp-server-everything")
	vet := func() *Report {
		var stderr lockedWriter
		stderr.w = &bytes.Buffer{}
		r, err := Run(context.Background(), Endpoint{Command: bin, Args: []string{"stdio"}}, Options{Timeout: await.Budget(t), Stderr: &stderr})
		if err != nil {
			t.Fatalf("Vet: %v\nstderr:\n%s", err, stderr.String())
		}
		return r
	}
	first := vet()
	second := vet()

	t.Logf("server-everything: %s %s, protocol %s, %d tools, %d prompts, %d resources, %d templates; vet took %v and %v",
		first.Server.Name, first.Server.Version, first.Server.ProtocolVersion, len(first.Tools), len(first.Prompts),
		len(first.Resources), len(first.ResourceTemplates), first.Duration.Round(time.Millisecond), second.Duration.Round(time.Millisecond))
	if len(first.Tools) == 0 {
		t.Fatal("no tools")
	}
	if !slices.Contains(toolNames(first), "echo") {
		t.Errorf("no echo tool among %v", toolNames(first))
	}
	for _, tool := range first.Tools {
		if !digestRe.MatchString(tool.Fingerprint) {
			t.Errorf("%s: fingerprint %q", tool.Name, tool.Fingerprint)
		}
		for _, f := range tool.Findings {
			t.Logf("finding on %s: %s %s at %s: %s", tool.Name, f.Severity, f.Rule, f.Field, f.Evidence)
		}
	}
	if !slices.Equal(toolNames(first), toolNames(second)) {
		t.Fatalf("tools differ between two vets: %v and %v", toolNames(first), toolNames(second))
	}
	if changes := catalog.ComparePins(pinsOf(first), toolsOf(second)); len(changes) != 0 {
		t.Errorf("fingerprints differ between two vets: %v", changes)
	}
	if first.Digest() != second.Digest() {
		t.Error("review digests differ between two vets")
	}
}
