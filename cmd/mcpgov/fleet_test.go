//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fleetInventory is the part of `mcpgov gateway inventory --json` and GET
// /inventory the fleet test reads.
type fleetInventory struct {
	Servers []struct {
		Identity  string    `json:"identity"`
		Shadow    bool      `json:"shadow"`
		Machines  int       `json:"machines"`
		Ever      int       `json:"ever"`
		FirstSeen time.Time `json:"firstSeen"`
		LastSeen  time.Time `json:"lastSeen"`
	} `json:"servers"`
	Machines []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Servers  int    `json:"servers"`
		Uploader struct {
			Subject string   `json:"subject"`
			Method  string   `json:"method"`
			Groups  []string `json:"groups"`
		} `json:"uploader"`
	} `json:"machines"`
	Teams []struct {
		Team     string `json:"team"`
		Machines int    `json:"machines"`
		Shadow   int    `json:"shadow"`
	} `json:"teams"`
}

// TestFleetUpload: two machines upload their scans to a gateway with
// inbound authentication (a Dex JWT for one, a service token for the
// other); the gateway keeps first- and last-seen per server and machine,
// a server dropped from a machine shows as gone there while its first
// sighting survives re-uploads, shadow servers are counted per team, and
// only the groups in inventory_readers may read the inventory over HTTP.
func TestFleetUpload(t *testing.T) {
	g := startAuthGateway(t)
	dexTok := passwordToken(t, g.Dex, "mcpgov-cli", "openid profile email groups "+gatewayScope)["access_token"].(string)
	svcTok, svcID := g.token(t, "--service", "ci-scan", "--groups", "ops", "--expires", "1d")

	// The machines' own catalog: the filesystem server is approved, the
	// rest are shadow.
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), `[catalog]
name = "fleet"
[servers.fs]
status = "approved"
[servers.fs.launch]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem"]
`)
	laptop := sandboxEnv(t, "MCPGOV_MACHINE_ID=asset-0001", "MCPGOV_BUNDLE="+bundle)
	claude := func(env []string, servers string) {
		writeFile(t, filepath.Join(envValue(env, "HOME"), ".claude.json"), `{"mcpServers": {`+servers+`}}`)
	}
	fs := `"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]}`
	gh := `"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]}`
	notes := `"notes": {"type": "http", "url": "https://notes.example.com/mcp"}`
	claude(laptop, fs+","+gh+","+notes)

	upload := func(env []string, token string, extra ...string) (string, error) {
		cmd := exec.Command("mcpgov", append([]string{"scan", "--upload", "--gateway", g.Base, "--json"}, extra...)...)
		cmd.Env = append(env, "MCPGOV_TOKEN="+token)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if testing.Verbose() {
			t.Logf("scan: %s", out)
		}
		return stderr.String(), err
	}
	read := func() fleetInventory {
		t.Helper()
		var inv fleetInventory
		if err := json.Unmarshal([]byte(g.mcpgov(t, "gateway", "inventory", "--json")), &inv); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	server := func(inv fleetInventory, prefix string) (i int) {
		t.Helper()
		for i, s := range inv.Servers {
			if strings.HasPrefix(s.Identity, prefix) {
				return i
			}
		}
		t.Fatalf("no server %s* in the inventory: %+v", prefix, inv.Servers)
		return -1
	}

	stderr, err := upload(laptop, dexTok)
	if err != nil || !strings.Contains(stderr, "uploaded 3 servers") || !strings.Contains(stderr, "(3 new)") {
		t.Fatalf("first upload: %v\n%s", err, stderr)
	}
	first := read()
	if len(first.Machines) != 1 || first.Machines[0].Servers != 3 || first.Machines[0].Uploader.Method != "jwt" ||
		!strings.Contains(strings.Join(first.Machines[0].Uploader.Groups, ","), "mcp-admins") {
		t.Fatalf("machines after the first upload = %+v; want one with 3 servers uploaded by a Dex JWT of group mcp-admins", first.Machines)
	}
	if strings.Contains(first.Machines[0].ID, "asset-0001") || len(first.Machines[0].ID) != 32 {
		t.Errorf("machine id %q: want a 32-hex HMAC, never the raw MCPGOV_MACHINE_ID", first.Machines[0].ID)
	}
	ghFirst := first.Servers[server(first, "npm:@modelcontextprotocol/server-github")].FirstSeen
	if s := first.Servers[server(first, "npm:@modelcontextprotocol/server-filesystem")]; s.Shadow {
		t.Errorf("the approved filesystem server was reported as shadow: %+v", s)
	}

	// A re-upload without the notes server: github's first sighting
	// survives, its last sighting moves on, notes is gone from the laptop.
	claude(laptop, fs+","+gh)
	if stderr, err := upload(laptop, dexTok); err != nil || !strings.Contains(stderr, "(0 new)") {
		t.Fatalf("second upload: %v\n%s", err, stderr)
	}
	second := read()
	gs := second.Servers[server(second, "npm:@modelcontextprotocol/server-github")]
	if !gs.FirstSeen.Equal(ghFirst) || !gs.LastSeen.After(ghFirst) || gs.Machines != 1 {
		t.Errorf("github after a re-upload = %+v; want first seen kept at %s, last seen later, on 1 machine", gs, ghFirst)
	}
	if !gs.Shadow {
		t.Errorf("github (not in the machines' catalog) is not shadow: %+v", gs)
	}
	if ns := second.Servers[server(second, "https://notes.example.com")]; ns.Machines != 0 || ns.Ever != 1 {
		t.Errorf("the removed notes server = %+v; want on 0 machines now, 1 ever", ns)
	}

	// The MDM recipe's script, on the laptop, to the login profile's
	// gateway_url (no --gateway).
	if err := os.MkdirAll(filepath.Join(envValue(laptop, "HOME"), ".config", "mcpgov"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(envValue(laptop, "HOME"), ".config", "mcpgov", "config.toml"), "[profiles.default]\ngateway_url = \""+g.Base+"/mcp\"\n")
	script := exec.Command("sh", filepath.Join("..", "..", "scan", "fleet", "mdm", "mcpgov-scan-upload.sh"))
	mcpgovPath, _ := exec.LookPath("mcpgov")
	script.Env = append(laptop, "MCPGOV_TOKEN="+dexTok, "MCPGOV="+mcpgovPath)
	if out, err := script.CombinedOutput(); err != nil || !strings.Contains(string(out), "uploaded 2 servers to "+g.Base) {
		t.Fatalf("the MDM upload script: %v\n%s", err, out)
	}

	// A second machine, scanned by a CI job with a service token of ops.
	ci := sandboxEnv(t, "MCPGOV_MACHINE_ID=ci-runner-7", "MCPGOV_BUNDLE="+bundle)
	claude(ci, gh)
	if stderr, err := upload(ci, svcTok, "--host-name", "runner-7"); err != nil {
		t.Fatalf("CI upload: %v\n%s", err, stderr)
	}
	third := read()
	if gs := third.Servers[server(third, "npm:@modelcontextprotocol/server-github")]; gs.Machines != 2 || !gs.Shadow {
		t.Errorf("github after the CI upload = %+v; want shadow, on 2 machines", gs)
	}
	teams := map[string]int{}
	for _, tm := range third.Teams {
		teams[tm.Team] = tm.Shadow
	}
	if teams["ops"] != 1 || teams["mcp-admins"] != 1 || teams["eng"] != 1 {
		t.Errorf("shadow servers per team = %v; want ops 1 (github on the runner), eng and mcp-admins 1 each (github on the laptop; notes is gone)", teams)
	}

	// Reading over HTTP: mcp-admins may, ops may not, nobody anonymous.
	get := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, g.Base+"/inventory", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(dexTok); code != 200 || !strings.Contains(body, `"firstSeen"`) {
		t.Errorf("GET /inventory with an mcp-admins JWT: %d %s", code, body)
	}
	if code, body := get(svcTok); code != http.StatusForbidden || !strings.Contains(body, "inventory_readers") {
		t.Errorf("GET /inventory with an ops service token: %d %s; want 403 naming inventory_readers", code, body)
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("GET /inventory without a token: %d, want 401", code)
	}

	// A revoked token cannot upload: exit 4 (authentication required).
	g.mcpgov(t, "gateway", "token", "revoke", svcID)
	stderr, err = upload(ci, svcTok)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(stderr, "mcpgov: hint:") {
		t.Errorf("upload with a revoked token: %v\n%s\nwant exit 4 with a hint", err, stderr)
	}
	if strings.Contains(stderr, svcTok) || strings.Contains(stderr, dexTok) {
		t.Errorf("a token appears in the upload's stderr:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(g.Home, ".local", "state", "mcpgov", "gateway", "inventory.json")); err != nil {
		t.Errorf("the embedded store: %v", err)
	}
}
