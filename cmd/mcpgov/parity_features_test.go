//lint:file-ignore SA1019 sampling, roots and logging are deprecated as of protocol 2026-07-28 (SEP-2577) but IDEs and servers still use them; the shim must relay them unchanged.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// The feature-parity tests drive server-everything's client-facing features
// (sampling, elicitation, roots, progress, logging, cancellation, resource
// subscriptions) with a go-sdk client that has every client handler set,
// once directly and once through `mcpgov shim`, over stdio and over
// Streamable HTTP, and require the normalised observations to be equal.

// featureRecorder collects what the server sent to the client.
type featureRecorder struct {
	mu       sync.Mutex
	methods  map[string]bool // every method the client received (requests and notifications)
	sampling []string        // sampling/createMessage params as JSON
	elicit   []string        // elicitation/create params as JSON
	logs     chan *mcp.LoggingMessageParams
	progress chan *mcp.ProgressNotificationParams
	updated  chan string
}

func newFeatureClient(rec *featureRecorder) *mcp.Client {
	c := mcp.NewClient(&mcp.Implementation{Name: "parity", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			b, _ := json.Marshal(req.Params)
			rec.mu.Lock()
			rec.sampling = append(rec.sampling, string(b))
			rec.mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "parity-model", Content: &mcp.TextContent{Text: "parity reply"}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			b, _ := json.Marshal(req.Params)
			rec.mu.Lock()
			rec.elicit = append(rec.elicit, string(b))
			rec.mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Parity Tester"}}, nil
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			select {
			case rec.logs <- req.Params:
			default:
			}
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			select {
			case rec.progress <- req.Params:
			default:
			}
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			select {
			case rec.updated <- req.Params.URI:
			default:
			}
		},
	})
	c.AddRoots(&mcp.Root{URI: "file:///parity/a", Name: "parity-a"})
	c.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			rec.mu.Lock()
			rec.methods[method] = true
			rec.mu.Unlock()
			return next(ctx, method, req)
		}
	})
	return c
}

var (
	// The session id differs per run (HTTP: a random UUID; stdio: "undefined").
	sessionRE = regexp.MustCompile(`(?i)session(Id)? [0-9a-z-]+`)
	// Simulated log messages pick a random level; the text names that level.
	simLogRE = regexp.MustCompile(`^(Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency)[- ]level[- ]message`)
)

func normSession(s string) string { return sessionRE.ReplaceAllString(s, "session <id>") }

func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		} else {
			b, _ := json.Marshal(c)
			parts = append(parts, string(b))
		}
	}
	return fmt.Sprintf("isError=%v %s", res.IsError, strings.Join(parts, "\n"))
}

// waitLog returns the first log message whose data satisfies match, or
// false if none came by ctx's end.
func waitLog(ctx context.Context, rec *featureRecorder, match func(string) bool) (*mcp.LoggingMessageParams, bool) {
	for {
		select {
		case m := <-rec.logs:
			if s, _ := m.Data.(string); match(s) {
				return m, true
			}
		case <-ctx.Done():
			return nil, false
		}
	}
}

// observeFeatures drives the client features and returns normalised
// observations. spy reports whether the upstream received a
// notifications/cancelled.
func observeFeatures(t *testing.T, connect func(*mcp.Client) *mcp.ClientSession, spy func() bool) map[string]string {
	t.Helper()
	rec := &featureRecorder{
		methods:  map[string]bool{},
		logs:     make(chan *mcp.LoggingMessageParams, 64),
		progress: make(chan *mcp.ProgressNotificationParams, 64),
		updated:  make(chan string, 16),
	}
	client := newFeatureClient(rec)
	cs := connect(client)
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	seen := map[string]string{}
	call := func(key, name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		seen[key] = normSession(toolText(res))
		return res
	}
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatalf("logging/setLevel: %v", err)
	}

	// server-everything registers the capability-dependent tools after
	// initialization and announces them with tools/list_changed; wait for them.
	var names []string
	for deadline := await.Deadline(t); ; time.Sleep(50 * time.Millisecond) {
		lt, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = names[:0]
		for _, tool := range lt.Tools {
			names = append(names, tool.Name)
		}
		if slices.Contains(names, "trigger-sampling-request") && slices.Contains(names, "get-roots-list") && slices.Contains(names, "trigger-elicitation-request") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conditional tools never appeared: %v", names)
		}
	}
	slices.Sort(names)
	seen["tools"] = strings.Join(names, ",")

	// Sampling: server → client sampling/createMessage inside a tools/call.
	call("sampling result", "trigger-sampling-request", map[string]any{"prompt": "parity", "maxTokens": 7})
	// Elicitation: server → client elicitation/create inside a tools/call.
	call("elicitation result", "trigger-elicitation-request", map[string]any{})
	rec.mu.Lock()
	seen["sampling requests"] = strings.Join(rec.sampling, "\n")
	seen["elicitation requests"] = strings.Join(rec.elicit, "\n")
	rec.mu.Unlock()

	// Roots: the server fetches roots/list; after a change the client sends
	// notifications/roots/list_changed and the server re-fetches and logs it.
	call("roots (1)", "get-roots-list", map[string]any{})
	client.AddRoots(&mcp.Root{URI: "file:///parity/b", Name: "parity-b"})
	if _, ok := waitLog(ctx, rec, func(s string) bool { return strings.Contains(s, "2 root(s)") }); !ok {
		t.Fatal("the server never re-fetched roots after roots/list_changed")
	}
	seen["roots updated log"] = "2 root(s)"
	call("roots (2)", "get-roots-list", map[string]any{})

	// Progress: a short long-running operation with a progress token.
	drain(rec.progress)
	p := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 0.3, "steps": 3}}
	p.SetProgressToken("parity-progress")
	res, err := cs.CallTool(ctx, p)
	if err != nil {
		t.Fatalf("long-running operation: %v", err)
	}
	seen["progress result"] = toolText(res)
	// The go-sdk client may run notification handlers after the call has
	// returned (seen over HTTP: the last step arrives just after the
	// result), so the three steps are awaited, not just drained.
	var steps []string
	for len(steps) < 3 {
		select {
		case n := <-rec.progress:
			steps = append(steps, fmt.Sprintf("%v %v/%v", n.ProgressToken, n.Progress, n.Total))
		case <-ctx.Done():
			t.Errorf("only %d progress notifications", len(steps))
			goto done
		}
	}
done:
	slices.Sort(steps)
	seen["progress notifications"] = strings.Join(steps, "; ")

	// Logging: simulated logging sends one message at once, then every 5 s.
	call("logging on", "toggle-simulated-logging", map[string]any{})
	m, ok := waitLog(ctx, rec, func(s string) bool { return simLogRE.MatchString(s) })
	if !ok {
		t.Fatal("no simulated log message arrived")
	}
	data, _ := m.Data.(string)
	// The level is random; what must hold is that the text names the level.
	seen["simulated log"] = fmt.Sprintf("level matches text: %v", strings.EqualFold(simLogRE.FindStringSubmatch(data)[1], string(m.Level)))
	call("logging off", "toggle-simulated-logging", map[string]any{})

	// Resource subscriptions.
	lr, err := cs.ListResources(ctx, nil)
	if err != nil || len(lr.Resources) == 0 {
		t.Fatalf("resources/list: %v (%d)", err, len(lr.Resources))
	}
	uri := lr.Resources[0].URI
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("resources/subscribe: %v", err)
	}
	call("subscriber updates on", "toggle-subscriber-updates", map[string]any{})
	select {
	case got := <-rec.updated:
		seen["resource updated"] = fmt.Sprintf("subscribed uri updated: %v", got == uri)
	case <-ctx.Done():
		t.Fatal("no notifications/resources/updated after subscribing")
	}
	if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uri}); err != nil {
		t.Fatalf("resources/unsubscribe: %v", err)
	}
	call("subscriber updates off", "toggle-subscriber-updates", map[string]any{})

	// Cancellation: cancel a long operation after its first progress step;
	// the cancel must reach the upstream and the session must stay usable.
	drain(rec.progress)
	cctx, ccancel := context.WithCancel(ctx)
	p = &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 20, "steps": 40}}
	p.SetProgressToken("parity-cancel")
	done := make(chan error, 1)
	go func() { _, err := cs.CallTool(cctx, p); done <- err }()
	await.Recv(t, rec.progress, "progress from the operation to cancel")
	ccancel()
	err = await.Recv(t, done, "the cancelled call to return")
	seen["cancelled call"] = fmt.Sprintf("context.Canceled: %v", errors.Is(err, context.Canceled))
	await.Until(t, "notifications/cancelled at the upstream", spy)
	seen["cancel reached upstream"] = "true"
	call("echo after cancel", "echo", map[string]any{"message": "still here"})

	// Guard against vacuous equality: each feature must really have happened.
	for key, want := range map[string]string{
		"sampling requests":    "parity",
		"sampling result":      "parity reply",
		"elicitation requests": "requestedSchema",
		"elicitation result":   "Parity Tester",
		"roots (1)":            "file:///parity/a",
		"roots (2)":            "file:///parity/b",
		"echo after cancel":    "still here",
	} {
		if !strings.Contains(seen[key], want) {
			t.Errorf("%s: want %q in %s", key, want, seen[key])
		}
	}
	rec.mu.Lock()
	seen["methods received"] = strings.Join(slices.Sorted(maps.Keys(rec.methods)), ",")
	rec.mu.Unlock()
	return seen
}

func drain[T any](c chan T) {
	for len(c) > 0 {
		<-c
	}
}

func compareObservations(t *testing.T, direct, shimmed map[string]string) {
	t.Helper()
	for k := range direct {
		if direct[k] != shimmed[k] {
			t.Errorf("%s differs:\n direct %s\n  shim  %s", k, direct[k], shimmed[k])
		}
	}
	for k := range shimmed {
		if _, ok := direct[k]; !ok {
			t.Errorf("%s only through the shim: %s", k, shimmed[k])
		}
	}
	if !t.Failed() {
		t.Logf("equal: %v", slices.Sorted(maps.Keys(direct)))
	}
}

// runBoth runs the direct and the shimmed observation side by side.
func runBoth(t *testing.T, run func(*testing.T, string, bool) map[string]string) (direct, shimmed map[string]string) {
	t.Run("sides", func(t *testing.T) {
		t.Run("direct", func(t *testing.T) { t.Parallel(); direct = run(t, "direct", false) })
		t.Run("shim", func(t *testing.T) { t.Parallel(); shimmed = run(t, "shim", true) })
	})
	return direct, shimmed
}

// TestShimFeatureParityStdio: server-everything over stdio, directly and
// through the shim. The upstream runs behind `tee` so the test can see that
// the shim forwards notifications/cancelled.
func TestShimFeatureParityStdio(t *testing.T) {
	t.Parallel()
	needEverything(t)
	dir := t.TempDir()
	run := func(t *testing.T, name string, viaShim bool) map[string]string {
		spyFile := filepath.Join(dir, name+".in")
		script := fmt.Sprintf("tee %s | mcp-server-everything stdio", spyFile)
		bundle := filepath.Join(dir, name+"-bundle")
		if err := os.MkdirAll(bundle, 0o755); err != nil {
			t.Fatal(err)
		}
		cat := fmt.Sprintf("[catalog]\nname = \"parity\"\nmode = \"enforce\"\n\n[servers.everything]\nstatus = \"approved\"\n[servers.everything.launch]\ncommand = \"sh\"\nargs = [\"-c\", %q]\n", script)
		if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
			t.Fatal(err)
		}
		connect := func(c *mcp.Client) *mcp.ClientSession {
			var cmd *exec.Cmd
			if viaShim {
				cmd = exec.Command("mcpgov", "shim", "--bundle", bundle, "--", "sh", "-c", script)
			} else {
				cmd = exec.Command("sh", "-c", script)
			}
			cmd.Stderr = os.Stderr
			cmd.Env = sandboxEnv(t)
			// sh, tee and node (or the shim and its upstream) form one process
			// group; kill it all at the end so no server outlives the test.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			t.Cleanup(func() {
				if cmd.Process != nil {
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
			})
			ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
			defer cancel()
			cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
			if err != nil {
				t.Fatalf("connect (%s): %v", name, err)
			}
			t.Cleanup(func() { cs.Close() })
			return cs
		}
		spy := func() bool {
			b, _ := os.ReadFile(spyFile)
			return bytes.Contains(b, []byte(`"notifications/cancelled"`))
		}
		return observeFeatures(t, connect, spy)
	}
	direct, shimmed := runBoth(t, run)
	if t.Failed() {
		return
	}
	compareObservations(t, direct, shimmed)
}

// startEverythingHTTP runs server-everything's Streamable HTTP transport on
// a free loopback port and returns its /mcp URL.
func startEverythingHTTP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	path, err := exec.LookPath("mcp-server-everything")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "streamableHttp")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := await.Deadline(t); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything did not listen on %s", addr)
		}
	}
	return "http://" + addr + "/mcp"
}

// spyProxy is a reverse proxy in front of the upstream that notes whether a
// POST body carried notifications/cancelled.
type spyProxy struct {
	mu        sync.Mutex
	cancelled bool
}

func (s *spyProxy) handler(upstream string) http.Handler {
	u, _ := url.Parse(upstream)
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // SSE
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte(`"notifications/cancelled"`)) {
				s.mu.Lock()
				s.cancelled = true
				s.mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	})
}

func (s *spyProxy) sawCancel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// TestShimFeatureParityHTTP: server-everything over Streamable HTTP; a
// go-sdk client connecting directly vs through `mcpgov shim --url` (stdio
// toward the client). Each side goes through its own spy proxy.
func TestShimFeatureParityHTTP(t *testing.T) {
	t.Parallel()
	needEverything(t)
	upstream := startEverythingHTTP(t)
	run := func(t *testing.T, name string, viaShim bool) map[string]string {
		spy := &spyProxy{}
		ps := httptest.NewServer(spy.handler(upstream))
		t.Cleanup(ps.Close)
		endpoint := ps.URL + "/mcp"
		connect := func(c *mcp.Client) *mcp.ClientSession {
			ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
			defer cancel()
			var tr mcp.Transport
			if viaShim {
				bundle := filepath.Join(t.TempDir(), "bundle")
				os.MkdirAll(bundle, 0o755)
				cat := "[servers.remote]\nstatus = \"approved\"\n[servers.remote.launch]\nurl = \"" + endpoint + "\"\n"
				if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--url", endpoint)
				cmd.Stderr = os.Stderr
				cmd.Env = sandboxEnv(t)
				tr = &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
			} else {
				tr = &mcp.StreamableClientTransport{Endpoint: endpoint}
			}
			cs, err := c.Connect(ctx, tr, nil)
			if err != nil {
				t.Fatalf("connect (%s): %v", name, err)
			}
			t.Cleanup(func() { cs.Close() })
			return cs
		}
		return observeFeatures(t, connect, spy.sawCancel)
	}
	direct, shimmed := runBoth(t, run)
	if t.Failed() {
		return
	}
	compareObservations(t, direct, shimmed)
}
