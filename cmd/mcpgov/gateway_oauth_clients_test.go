//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// startRegistrationServer runs testdata/idp/oidc-provider-dcr.mjs (node
// oidc-provider with open RFC 7591 registration, from make e2e-deps'
// .cache/oidc-provider) and returns its issuer and the count of clients
// it registered.
func startRegistrationServer(t *testing.T) (issuer string, registered *atomic.Int32) {
	t.Helper()
	modules, err := filepath.Abs(filepath.Join("..", "..", ".cache", "oidc-provider", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, "oidc-provider")); err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatal("oidc-provider is not installed but MCPGOV_E2E is set; run make e2e-deps")
		}
		t.Skip("oidc-provider not installed (make e2e-deps)")
	}
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "testdata", "idp", "oidc-provider-dcr.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "dcr.mjs"), string(script))
	cmd := exec.Command("node", filepath.Join(dir, "dcr.mjs"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	registered = &atomic.Int32{}
	issuers := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "issuer "); ok {
				issuers <- u
			}
			if strings.HasPrefix(sc.Text(), "registered ") {
				registered.Add(1)
			}
		}
	}()
	return await.Recv(t, issuers, "oidc-provider-dcr's issuer line"), registered
}

// TestGatewayOAuthUserSharedClient: an oauth_user server with no client
// id, whose authorization server (node oidc-provider) takes RFC 7591
// registrations. Two gateway replicas on one real Redis: alice's
// initialize on A registers mcpgov once, and her initialize on B gets a
// consent link for the same client (B read A's registration from the
// store, sealed there: no client id in the clear). The same two replicas
// without the shared store, in the same run: each registers its own
// client, so a grant one got could not be refreshed by the other.
func TestGatewayOAuthUserSharedClient(t *testing.T) {
	issuer, registered := startRegistrationServer(t)
	redis := statetest.Start(t)
	gov := t.TempDir()
	writeFile(t, filepath.Join(gov, "catalog.toml"), fmt.Sprintf(`[catalog]
mode = "enforce"
[servers.notes]
status = "approved"
[servers.notes.launch]
url = "http://127.0.0.1:9/mcp"
[servers.notes.auth]
type = "oauth_user"
issuer = %q
scopes = ["openid"]
`, issuer))
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`
	// linkClients starts replicas A and B (on the shared store when
	// store is set) and returns the client ids of alice's consent links
	// on each.
	linkClients := func(store string) (string, string) {
		env := sandboxEnv(t, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+vault.NewKey())
		if store != "" {
			configDir := filepath.Join(envValue(env, "XDG_CONFIG_HOME"), "mcpgov")
			if err := os.MkdirAll(configDir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(configDir, "config.toml"), fmt.Sprintf("[gateway]\nstore = %q\n", store))
		}
		cmd := exec.Command("mcpgov", "gateway", "token", "create", "--user", "alice@example.com", "--expires", "1d", "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("token create: %v", err)
		}
		var issued struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(out, &issued); err != nil {
			t.Fatal(err)
		}
		publicURL := "http://" + freeAddr(t)
		var ids []string
		for _, replica := range []string{"A", "B"} {
			addr := freeAddr(t)
			_, log := serveGatewayAt(t, addr, env, "--bundle", gov, "--public-url", publicURL)
			_, answer, _ := authPost(t, "http://"+addr+"/servers/notes/mcp", issued.Token, initialize)
			var refused struct {
				Error struct {
					Code int `json:"code"`
					Data struct {
						Elicitations []struct{ URL string } `json:"elicitations"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(sseData(answer)), &refused); err != nil || refused.Error.Code != -32042 || len(refused.Error.Data.Elicitations) != 1 {
				t.Fatalf("alice's initialize on %s: %s\n%s:\n%s", replica, answer, replica, log())
			}
			u, err := url.Parse(refused.Error.Data.Elicitations[0].URL)
			if err != nil || !strings.HasPrefix(u.String(), issuer) || u.Query().Get("client_id") == "" {
				t.Fatalf("the consent link on %s is not for a registered client at %s: %v", replica, issuer, err)
			}
			ids = append(ids, u.Query().Get("client_id"))
		}
		return ids[0], ids[1]
	}

	a, b := linkClients(redis.URL())
	if a != b || registered.Load() != 1 {
		t.Fatalf("with the shared store: A's link names client %q, B's %q, after %d registrations; want one client, registered once", a, b, registered.Load())
	}
	opt, err := goredis.ParseURL(redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(opt)
	defer raw.Close()
	keys := raw.Keys(await.Context(t), state.Prefix+"oauth-client:*").Val()
	if len(keys) != 1 {
		t.Fatalf("registered clients in the store: %q", keys)
	}
	if v := raw.Get(await.Context(t), keys[0]).Val(); strings.Contains(v, a) || !strings.Contains(v, `"sealed"`) {
		t.Fatalf("the registration in the store is not sealed (%d bytes, the client id in the clear: %v)", len(v), strings.Contains(v, a))
	}

	// The same run without the shared store: two registrations.
	before := registered.Load()
	a2, b2 := linkClients("")
	if a2 == b2 || registered.Load()-before != 2 {
		t.Fatalf("without the shared store: clients %q and %q after %d registrations; want two of each", a2, b2, registered.Load()-before)
	}
	t.Logf("shared store: 1 registration, one client on both replicas; without it: %d registrations, two clients", registered.Load()-before)
}
