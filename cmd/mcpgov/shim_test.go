package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// writeBundle writes a bundle approving the servers the shim tests run.
func writeBundle(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	const cat = `[catalog]
name = "shim-tests"
mode = "enforce"

[servers.fake]
status = "approved"
[servers.fake.launch]
command = "fake-mcp-server"

[servers.everything]
status = "approved"
[servers.everything.launch]
command = "mcp-server-everything"
args = ["stdio"]
`
	if err := os.WriteFile(filepath.Join(dir, "catalog.toml"), []byte(cat), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// connect starts command as a stdio MCP server and returns a go-sdk client
// session on it.
func connect(tb testing.TB, command string, args ...string) *mcp.ClientSession {
	tb.Helper()
	path, err := exec.LookPath(command)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = sandboxEnv(tb)
	client := mcp.NewClient(&mcp.Implementation{Name: "parity", Version: "1"}, nil)
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(tb))
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		tb.Fatalf("connect %s %v: %v", command, args, err)
	}
	tb.Cleanup(func() { cs.Close() })
	return cs
}

func viaShim(bundle, command string, args ...string) (string, []string) {
	return "mcpgov", append([]string{"shim", "--bundle", bundle, "--", command}, args...)
}

// observe drives tools, resources and prompts and returns what the client
// saw, as JSON.
func observe(t *testing.T, cs *mcp.ClientSession) map[string]string {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	seen := map[string]string{}
	note := func(key string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		b, _ := json.Marshal(v)
		seen[key] = string(b)
	}
	init := cs.InitializeResult()
	note("initialize", init, nil)
	var tools []*mcp.Tool
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools: %v", err)
		}
		tools = append(tools, tool)
	}
	note("tools", tools, nil)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "parity"}})
	note("call echo", res, err)
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "no-such-tool"})
	seen["call unknown"] = ""
	if err != nil {
		seen["call unknown"] = err.Error()
	} else {
		note("call unknown", res, nil)
	}
	if init.Capabilities.Resources != nil {
		var resources []*mcp.Resource
		for r, err := range cs.Resources(ctx, nil) {
			if err != nil {
				t.Fatalf("resources: %v", err)
			}
			resources = append(resources, r)
		}
		note("resources", resources, nil)
		if len(resources) > 0 {
			rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: resources[0].URI})
			note("read "+resources[0].URI, rr, err)
		}
		var templates []*mcp.ResourceTemplate
		for r, err := range cs.ResourceTemplates(ctx, nil) {
			if err != nil {
				t.Fatalf("resource templates: %v", err)
			}
			templates = append(templates, r)
		}
		note("resource templates", templates, nil)
	}
	if init.Capabilities.Prompts != nil {
		var prompts []*mcp.Prompt
		for p, err := range cs.Prompts(ctx, nil) {
			if err != nil {
				t.Fatalf("prompts: %v", err)
			}
			prompts = append(prompts, p)
		}
		note("prompts", prompts, nil)
		for _, p := range prompts {
			if !slices.ContainsFunc(p.Arguments, func(a *mcp.PromptArgument) bool { return a.Required }) {
				gp, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: p.Name})
				note("prompt "+p.Name, gp, err)
				break
			}
		}
	}
	note("ping", nil, cs.Ping(ctx, nil))
	return seen
}

// TestShimParity drives the same session directly and through the shim; a
// go-sdk client must see exactly the same results.
func TestShimParity(t *testing.T) {
	assertParity(t, writeBundle(t))
}

// assertParity runs observe on the fake server and server-everything,
// directly and through the shim with bundle, and fails on any difference.
func assertParity(t *testing.T, bundle string) {
	t.Helper()
	servers := [][]string{{"fake-mcp-server"}}
	if ok, err := haveProgram("mcp-server-everything"); err != nil {
		t.Fatal(err)
	} else if ok {
		servers = append(servers, []string{"mcp-server-everything", "stdio"})
	} else {
		t.Log("mcp-server-everything is not installed; make test installs it into .cache/npm")
	}
	for _, srv := range servers {
		t.Run(srv[0], func(t *testing.T) {
			direct := observe(t, connect(t, srv[0], srv[1:]...))
			cmd, args := viaShim(bundle, srv[0], srv[1:]...)
			shimmed := observe(t, connect(t, cmd, args...))
			if !reflect.DeepEqual(direct, shimmed) {
				for k := range direct {
					if direct[k] != shimmed[k] {
						t.Errorf("%s differs:\n direct %s\n  shim  %s", k, direct[k], shimmed[k])
					}
				}
				t.Fatalf("observations differ (%d direct, %d through the shim)", len(direct), len(shimmed))
			}
			if len(direct) < 4 {
				t.Fatalf("observed too little: %v", direct)
			}
			keys := slices.Sorted(maps.Keys(direct))
			t.Logf("equal: %v", keys)
		})
	}
}

// benchEcho makes sequential echo calls and reports their p50 and p99.
func benchEcho(b *testing.B, command string, args ...string) {
	cs := connect(b, command, args...)
	ctx := context.Background()
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hello"}}
	for range 50 { // warm up
		if _, err := cs.CallTool(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := cs.CallTool(ctx, params); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkShimEcho and BenchmarkDirectEcho: the same sequential echo calls
// through `mcpgov shim` and straight to the fake server (make bench reports
// the ratio; -benchtime 2000x matches the measurement).
func BenchmarkShimEcho(b *testing.B) {
	cmd, args := viaShim(writeBundle(b), "fake-mcp-server")
	benchEcho(b, cmd, args...)
}

func BenchmarkDirectEcho(b *testing.B) { benchEcho(b, "fake-mcp-server") }

// needEverything returns the path of mcp-server-everything; without it
// the test is skipped (haveProgram: it fails under MCPGOV_E2E).
func needEverything(tb testing.TB) string {
	tb.Helper()
	if ok, err := haveProgram("mcp-server-everything"); err != nil {
		tb.Fatal(err)
	} else if !ok {
		tb.Skip("mcp-server-everything is not installed; make test installs it into .cache/npm")
	}
	p, _ := exec.LookPath("mcp-server-everything")
	return p
}

// catalogBundle writes a bundle whose catalog.toml is catalog and
// returns its directory.
func catalogBundle(t *testing.T, catalog string) string {
	t.Helper()
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), catalog)
	return bundle
}

// BenchmarkShimEchoEverything and BenchmarkDirectEchoEverything: the same
// against server-everything (Node).
func BenchmarkShimEchoEverything(b *testing.B) {
	needEverything(b)
	cmd, args := viaShim(writeBundle(b), "mcp-server-everything", "stdio")
	benchEcho(b, cmd, args...)
}

func BenchmarkDirectEchoEverything(b *testing.B) {
	needEverything(b)
	benchEcho(b, "mcp-server-everything", "stdio")
}

// benchStartup measures start-up to the first answer: start, initialize,
// list tools, close.
func benchStartup(b *testing.B, command string, args ...string) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	for range b.N {
		start := time.Now()
		path, err := exec.LookPath(command)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(path, args...)
		cmd.Stderr = os.Stderr
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).
			Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cs.ListTools(ctx, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		cs.Close()
		b.StartTimer()
	}
	reportPercentiles(b, lat)
}

// BenchmarkShimStartup and BenchmarkDirectStartup: time to the first
// tools/list answer, through the shim (bundle loading included) and direct.
func BenchmarkShimStartup(b *testing.B) {
	cmd, args := viaShim(writeBundle(b), "fake-mcp-server")
	benchStartup(b, cmd, args...)
}

func BenchmarkDirectStartup(b *testing.B) { benchStartup(b, "fake-mcp-server") }

// TestShimHTTPParity: `mcpgov shim --url` relays a Streamable HTTP server;
// a go-sdk client sees the same as when it talks HTTP directly.
func TestShimHTTPParity(t *testing.T) {
	srv := catalogtest.NewServer(catalogtest.Options{})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(ts.Close) // after the clients' cleanups: the shim holds a GET stream open
	bundle := t.TempDir()
	cat := "[servers.remote]\nstatus = \"approved\"\n[servers.remote.launch]\nurl = \"" + ts.URL + "/\"\n"
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "parity", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: ts.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	direct := observe(t, cs)
	shimmed := observe(t, connect(t, "mcpgov", "shim", "--bundle", bundle, "--url", ts.URL+"/"))
	for k := range direct {
		if direct[k] != shimmed[k] {
			t.Errorf("%s differs:\n direct %s\n  shim  %s", k, direct[k], shimmed[k])
		}
	}
	if len(direct) != len(shimmed) {
		t.Fatalf("observations differ (%d direct, %d through the shim)", len(direct), len(shimmed))
	}
}
