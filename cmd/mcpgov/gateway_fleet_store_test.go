package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
)

// TestGatewayReplicasShareFleet: two replicas whose config names one real
// Redis. A service token made with `mcpgov gateway token create` (kept in
// Redis through the config) uploads a machine's scan to the first
// replica; the second replica serves it on GET /inventory, and `mcpgov
// gateway inventory --store` reads it from another machine with no state
// of its own. Neither replica writes an inventory file.
func TestGatewayReplicasShareFleet(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	config := func(env []string) []string {
		writeUserConfig(t, env, "[gateway]\nstore = \""+redis.URL()+"\"\ninventory_readers = [\"ops\"]\n")
		return env
	}
	admin := config(sandboxEnv(t))
	run := func(env []string, args ...string) string { t.Helper(); return runMcpgov(t, env, args...) }
	var created struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(run(admin, "gateway", "token", "create", "--json", "--service", "ci-scan", "--groups", "ops", "--expires", "1d")), &created); err != nil {
		t.Fatal(err)
	}
	var bases []string
	var states []string
	for range 2 {
		env := config(sandboxEnv(t))
		states = append(states, envValue(env, "XDG_STATE_HOME"))
		base, _ := serveGateway(t, env, "--bundle", bundle)
		bases = append(bases, base)
	}

	laptop := sandboxEnv(t, "MCPGOV_MACHINE_ID=asset-0042", "MCPGOV_BUNDLE="+bundle, "MCPGOV_TOKEN="+created.Token)
	writeFile(t, filepath.Join(envValue(laptop, "HOME"), ".claude.json"),
		`{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]}, "notes": {"type": "http", "url": "https://notes.example.com/mcp"}}}`)
	cmd := exec.Command("mcpgov", "scan", "--upload", "--gateway", bases[0], "--json")
	cmd.Env = laptop
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "uploaded 2 servers") {
		t.Fatalf("upload to replica 0: %v\n%s", err, out)
	}

	req, _ := http.NewRequest(http.MethodGet, bases[1]+"/inventory", nil)
	req.Header.Set("Authorization", "Bearer "+created.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var inv fleetInventory
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &inv) != nil || len(inv.Machines) != 1 || inv.Machines[0].Servers != 2 || inv.Machines[0].Uploader.Subject == "" {
		t.Fatalf("GET /inventory on replica 1: %d %s", resp.StatusCode, body)
	}

	elsewhere := sandboxEnv(t)
	var read fleetInventory
	if err := json.Unmarshal([]byte(run(elsewhere, "gateway", "inventory", "--json", "--store", redis.URL())), &read); err != nil {
		t.Fatal(err)
	}
	if len(read.Machines) != 1 || len(read.Servers) != 2 {
		t.Fatalf("gateway inventory --store: %+v", read)
	}
	for i, dir := range states {
		if _, err := os.Stat(filepath.Join(dir, "mcpgov", "gateway", "inventory.json")); !os.IsNotExist(err) {
			t.Fatalf("replica %d wrote an inventory file (%v); uploads belong in the shared store", i, err)
		}
	}
}
