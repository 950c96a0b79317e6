package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayReload: a client stays connected to the gateway while its
// bundle changes. A bundle changed into one that cannot be used leaves the
// last good one serving, and /readyz and the log say why; a rule added to
// the catalog reaches the open session (tools/list_changed, the tool gone
// from the list, its call refused) and every new one; a server blocked by
// the catalog ends the sessions using it, and a new one is refused.
func TestGatewayReload(t *testing.T) {
	bundle := writeBundle(t)
	base, stderr := startGateway(t, bundle)
	ctx := await.Context(t)
	changed := make(chan struct{}, 4)
	client := mcp.NewClient(&mcp.Implementation{Name: "reload", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	// A session of 2025-11-25: list_changed reaches an open session; the
	// stateless revision would need subscriptions/listen.
	legacy := &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"}
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/fake/mcp"}, legacy)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr())
	}
	defer cs.Close()
	names := func(cs *mcp.ClientSession) []string {
		t.Helper()
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		return names
	}
	add := &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}}
	if got := names(cs); !slices.Contains(got, "add") {
		t.Fatalf("tools before the change: %v", got)
	}
	if res, err := cs.CallTool(ctx, add); err != nil || res.IsError {
		t.Fatalf("add before the change: %v %+v", err, res)
	}
	readyz := func() (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	catalogPath := filepath.Join(bundle, "catalog.toml")
	good, err := os.ReadFile(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, catalogPath, "[catalog\n")
	await.Until(t, "the gateway reports the unusable bundle", func() bool {
		return strings.Contains(stderr(), "mcpgov: warning: the changed governance bundle cannot be used")
	})
	if status, body := readyz(); status != 200 || !strings.Contains(body, "the changed governance bundle cannot be used") {
		t.Errorf("/readyz with an unusable bundle: %d %q", status, body)
	}
	if res, err := cs.CallTool(ctx, add); err != nil || res.IsError {
		t.Fatalf("add while the changed bundle is broken: %v %+v", err, res)
	}

	denied := strings.Replace(string(good), "[servers.fake]\nstatus = \"approved\"\n", "[servers.fake]\nstatus = \"approved\"\n[servers.fake.tools]\ndeny = [\"add\"]\n", 1)
	writeFileAtomic(t, catalogPath, denied)
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatalf("no notifications/tools/list_changed after the rule changed; stderr:\n%s", stderr())
	}
	if got := names(cs); slices.Contains(got, "add") || !slices.Contains(got, "echo") {
		t.Errorf("tools after the change: %v", got)
	}
	if _, err := cs.CallTool(ctx, add); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Errorf("add after the change: %v, want Unknown tool", err)
	}
	if status, body := readyz(); status != 200 || body != "ready\n" {
		t.Errorf("/readyz once a usable bundle is back: %d %q", status, body)
	}
	if !strings.Contains(stderr(), "mcpgov: reload: bundle revision ") {
		t.Errorf("stderr does not say the new revision governs:\n%s", stderr())
	}
	// A new session gets the new bundle too.
	cs2, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/fake/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(cs2); slices.Contains(got, "add") {
		t.Errorf("a new session lists the denied tool: %v", got)
	}
	cs2.Close()

	// Blocked: the open session ends, a new one is refused.
	writeFileAtomic(t, catalogPath, strings.Replace(denied, "[servers.fake]\nstatus = \"approved\"\n", "[servers.fake]\nstatus = \"blocked\"\n", 1))
	await.Until(t, "the session of the blocked server ends", func() bool {
		return strings.Contains(stderr(), "ended: the new bundle refuses server fake: MCP server fake is blocked by the catalog")
	})
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "x"}}); err == nil {
		t.Errorf("a call in the session of a blocked server succeeded")
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	if status, body, _ := rawPost(t, base+"/servers/fake/mcp", "", init); status != 403 || !strings.Contains(body, "blocked by the catalog") {
		t.Errorf("initialize of a blocked server: %d %s", status, body)
	}
}
