package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// headerTransport adds fixed headers to every request.
type headerTransport struct{ h http.Header }

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestGatewayOperations runs the gateway as it is operated: JSON logs,
// the full pipeline (starter policies, every guardrail) and an audit
// trail whose logging is header_controlled. Real clients call through it:
// X-Mcpgov-Logging selects full records or placeholders (a call's _meta
// wins), /metrics counts what the records say (calls, the denial and its
// rule, guardrail verdicts and durations, upstream latency per server and
// tool), and SIGTERM drains: a long call in flight finishes and is
// recorded while new requests get 503, then the gateway exits 0.
func TestGatewayOperations(t *testing.T) {
	needEverything(t)
	bundle := writeGuardedBundle(t)
	catalogPath := filepath.Join(bundle, "catalog.toml")
	cat, err := os.ReadFile(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, catalogPath, strings.Replace(string(cat), "[servers.fake]\nstatus = \"approved\"\n", "[servers.fake]\nstatus = \"approved\"\n[servers.fake.tools]\ndeny = [\"list_notes\"]\n", 1))
	dir := t.TempDir()
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, "[audit]\nlogging = \"header_controlled\"\n")
	auditDir := filepath.Join(dir, "audit")
	addr := freeAddr(t)
	g := runGateway(t, sandboxEnv(t, "MCPGOV_CONFIG="+config, "MCPGOV_AUDIT_DIR="+auditDir),
		"--bundle", bundle, "--listen", addr, "--allow-anonymous", "--log-format", "json")
	base := "http://" + addr
	ctx := await.Context(t)

	connect := func(endpoint string, logging string, opts *mcp.ClientOptions) *mcp.ClientSession {
		t.Helper()
		hc := http.DefaultClient
		if logging != "" {
			hc = &http.Client{Transport: headerTransport{http.Header{"X-Mcpgov-Logging": {logging}}}}
		}
		client := mcp.NewClient(&mcp.Implementation{Name: "ops", Version: "1"}, opts)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + endpoint, HTTPClient: hc}, nil)
		if err != nil {
			t.Fatalf("connect: %v\n%s", err, g.stderr())
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	add := func(cs *mcp.ClientSession, meta mcp.Meta) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}, Meta: meta})
		if err != nil || res.IsError {
			t.Fatalf("add: %v %+v", err, res)
		}
	}
	on := connect("/servers/fake/mcp", "on", nil)
	add(on, nil)
	if _, err := on.CallTool(ctx, &mcp.CallToolParams{Name: "list_notes", Arguments: map[string]any{}}); err == nil {
		t.Errorf("the denied tool was callable")
	}
	add(connect("/servers/fake/mcp", "", nil), nil)
	add(connect("/servers/fake/mcp", "off", nil), mcp.Meta{"io.mcpgov/logging": "on"})
	if status, body, _ := rawPost(t, base+"/servers/fake/mcp", "", `{}`, http.Header{"X-Mcpgov-Logging": {"verbose"}}); status != 400 || !strings.Contains(body, `invalid X-Mcpgov-Logging "verbose": want on or off`) {
		t.Errorf("an invalid X-Mcpgov-Logging: %d %s", status, body)
	}

	kinds := func() map[string]int {
		out, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--format", "jsonl").CombinedOutput()
		if err != nil {
			t.Fatalf("audit query: %v\n%s", err, out)
		}
		n := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var r struct{ Kind, Tool, Outcome string }
			if json.Unmarshal([]byte(line), &r) == nil && r.Tool != "" {
				n[r.Kind+" "+r.Tool+" "+r.Outcome]++
			}
		}
		return n
	}
	got := kinds()
	for key, want := range map[string]int{"tool_call add allowed": 2, "placeholder add allowed": 1, "tool_call list_notes denied": 1} {
		if got[key] != want {
			t.Errorf("%d records %q, want %d (all: %v)", got[key], key, want, got)
		}
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`mcpgov_gateway_calls_total{outcome="allowed",server="fake",tool="add"} 3`,
		`mcpgov_gateway_calls_total{outcome="denied",server="fake",tool="list_notes"} 1`,
		`mcpgov_gateway_denials_total{enforced="true",rule="catalog-tools",server="fake",tool="list_notes"} 1`,
		`mcpgov_gateway_upstream_duration_seconds_count{server="fake",tool="add"} 3`,
		`mcpgov_gateway_policy_duration_seconds_count{server="fake",tool="add"} 3`,
		// The three clients speak the stateless revision as one caller
		// with one clientInfo: one pooled upstream session serves them.
		`mcpgov_gateway_sessions 1`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, re := range []string{
		`mcpgov_gateway_guardrail_verdicts_total\{guardrail="[a-z]+",hook="pre",server="fake",verdict="pass"\} [1-9]`,
		`mcpgov_gateway_guardrail_duration_seconds_count\{guardrail="[a-z]+",hook="post",server="fake"\} [1-9]`,
		`mcpgov_gateway_http_requests_total\{code="400",endpoint="server",method="POST"\} [1-9]`,
		`mcpgov_gateway_http_requests_total\{code="200",endpoint="server",method="POST"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).Match(metrics) {
			t.Errorf("/metrics lacks a line matching %s", re)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}

	// Drain: a long call in flight when SIGTERM comes finishes.
	progressed := make(chan struct{}, 16)
	long := connect("/servers/everything/mcp", "on", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progressed <- struct{}{} },
	})
	type result struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := long.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-long-running-operation",
			Arguments: map[string]any{"duration": 2, "steps": 4}, Meta: mcp.Meta{"progressToken": "drain"}})
		done <- result{res, err}
	}()
	select {
	case <-progressed:
	case <-ctx.Done():
		t.Fatalf("no progress from the long call\n%s", g.stderr())
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "/readyz failing while draining", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	select {
	case r := <-done:
		t.Fatalf("the long call ended before the drain was checked: %+v %v", r.res, r.err)
	default:
		if status, body, _ := rawPost(t, base+"/servers/fake/mcp", "", init); status != 503 || !strings.Contains(body, "shutting down") {
			t.Errorf("a new session while draining: %d %s", status, body)
		}
	}
	r := <-done
	if r.err != nil || r.res.IsError || len(r.res.Content) == 0 {
		t.Fatalf("the call in flight did not finish: %+v %v\n%s", r.res, r.err, g.stderr())
	}
	<-g.copied
	err = g.cmd.Wait()
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the gateway exited %d (%v) after draining", code, err)
	}
	if got := kinds(); got["tool_call trigger-long-running-operation allowed"] != 1 {
		t.Errorf("the drained call has no record: %v", got)
	}
	// Every stderr line is one JSON object.
	var levels []string
	for _, line := range strings.Split(strings.TrimSpace(g.stderr()), "\n") {
		var l struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Level == "" {
			t.Errorf("stderr line is not a log object: %s", line)
			continue
		}
		levels = append(levels, l.Level+" "+l.Msg)
	}
	if !strings.Contains(strings.Join(levels, "\n"), "INFO gateway stopped") {
		t.Errorf("stderr does not end with the gateway stopped:\n%s", strings.Join(levels, "\n"))
	}
}
