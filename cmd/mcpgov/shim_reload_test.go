package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestShimReload: a connected client keeps its shim while the bundle
// changes. A rule added to the catalog reaches the running connection —
// the client is told the tool list changed, the tool disappears from it
// and a call of it is refused — and a bundle changed into one that cannot
// be used leaves the last good one governing.
func TestShimReload(t *testing.T) {
	bundle := writeBundle(t)
	changed := make(chan struct{}, 4)
	client := mcp.NewClient(&mcp.Implementation{Name: "reload", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	path, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "shim", "--bundle", bundle, "--", "fake-mcp-server")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cmd.Env = sandboxEnv(t)
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	names := func() []string {
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
	if got := names(); !slices.Contains(got, "add") {
		t.Fatalf("tools before the change: %v", got)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}}); err != nil || res.IsError {
		t.Fatalf("add before the change: %v %+v", err, res)
	}

	// A broken catalog first: reported, not applied.
	catalogPath := filepath.Join(bundle, "catalog.toml")
	good, err := os.ReadFile(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, catalogPath, "[catalog\n")
	await.Until(t, "the shim reports the unusable bundle", func() bool {
		return strings.Contains(stderr.String(), "the changed governance bundle cannot be used")
	})
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}}); err != nil || res.IsError {
		t.Fatalf("add while the changed bundle is broken: %v %+v", err, res)
	}

	// Then a rule: fake may no longer run add.
	writeFileAtomic(t, catalogPath, strings.Replace(string(good), "[servers.fake]\nstatus = \"approved\"\n", "[servers.fake]\nstatus = \"approved\"\n[servers.fake.tools]\ndeny = [\"add\"]\n", 1))
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatalf("no notifications/tools/list_changed after the rule changed; stderr:\n%s", stderr.String())
	}
	if got := names(); slices.Contains(got, "add") || !slices.Contains(got, "echo") {
		t.Errorf("tools after the change: %v", got)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}})
	if err == nil || !strings.Contains(err.Error(), "Unknown tool") {
		t.Errorf("add after the change: %v, want Unknown tool", err)
	}
	if !strings.Contains(stderr.String(), "mcpgov: reload: bundle revision ") {
		t.Errorf("stderr does not say the new revision governs:\n%s", stderr.String())
	}
}

// writeFileAtomic replaces path's content in one rename, as editors and
// sync tools do, so the watcher never reads half a file.
func writeFileAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
