package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// startTokenServer runs oidc-provider-cc (node oidc-provider with one
// client-credentials client, installed by make e2e-deps) and returns its
// issuer and the count of tokens it issued.
func startTokenServer(t *testing.T, client, secret string) (issuer string, issued *atomic.Int32) {
	t.Helper()
	bin, err := exec.LookPath("oidc-provider-cc")
	if err != nil {
		bin = filepath.Join("..", "..", ".cache", "oidc-provider", "bin", "oidc-provider-cc")
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("MCPGOV_E2E") != "" {
				t.Fatal("oidc-provider-cc is not installed but MCPGOV_E2E is set; run make e2e-deps")
			}
			t.Skip("oidc-provider-cc not installed (make e2e-deps)")
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CC_CLIENT_ID="+client, "CC_CLIENT_SECRET="+secret)
	return oauthusertest.StartIssuer(t, "oidc-provider-cc", cmd, "token ")
}

// TestGatewayReplicasShareVault: two replicas on one real Redis, a stdio
// server whose credentials are an OAuth client-credentials grant at a
// real authorization server (node oidc-provider). A session through the
// first replica obtains the token, which the vault keeps in Redis; a
// session through the second replica is launched with that same token
// and the authorization server issues no second one. Neither replica
// writes a vault file, and a dump of Redis (`redis-cli --scan`, GET and
// HGETALL of every key) holds neither the token nor its payload.
func TestGatewayReplicasShareVault(t *testing.T) {
	redis := statetest.Start(t)
	const client, secret = "notes-gateway", "cc-secret-4f1e9a7b"
	issuer, issued := startTokenServer(t, client, secret)
	seen := filepath.Join(t.TempDir(), "tokens")
	bundle := t.TempDir()
	cat := `[catalog]
mode = "enforce"

[servers.notes]
status = "approved"
[servers.notes.launch]
command = "env-mcp-server"
args = ["recordenv:NOTES_TOKEN:` + seen + `"]
[servers.notes.auth]
type = "oauth_client"
issuer = "` + issuer + `"
client_id = "` + client + `"
client_secret = "env:CC_SECRET"
scopes = ["notes:read"]
resource = "https://notes.example"
env = "NOTES_TOKEN"
`
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	kek := vault.NewKey()
	var bases []string
	var logs []func() string
	var states []string
	for range 2 {
		env := sandboxEnv(t, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+kek, "CC_SECRET="+secret)
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "XDG_STATE_HOME="); ok {
				states = append(states, v)
			}
		}
		base, log := serveGateway(t, env, "--bundle", bundle, "--allow-anonymous", "--store", redis.URL())
		bases, logs = append(bases, base), append(logs, log)
	}
	ctx := await.Context(t)
	mc := mcp.NewClient(&mcp.Implementation{Name: "vault", Version: "1"}, nil)
	for i, base := range bases {
		cs, err := mc.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/notes/mcp"}, nil)
		if err != nil {
			t.Fatalf("connect to replica %d: %v\n%s", i, err, logs[i]())
		}
		if text, isErr := callText(t, cs, "echo", map[string]any{"message": "hi"}); isErr || text != "hi" {
			t.Fatalf("replica %d: %q (error %v)\n%s", i, text, isErr, logs[i]())
		}
		cs.Close()
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	tokens := strings.Fields(string(b))
	if len(tokens) != 2 || tokens[0] != tokens[1] || !strings.HasPrefix(tokens[0], "ey") {
		t.Fatalf("the two replicas' servers were launched with %d tokens (same: %v); want one JWT, twice", len(tokens), len(tokens) == 2 && tokens[0] == tokens[1])
	}
	if n := issued.Load(); n != 1 {
		t.Fatalf("the authorization server issued %d tokens for two replicas, want 1", n)
	}
	for i, dir := range states {
		if _, err := os.Stat(filepath.Join(dir, "mcpgov", "vault.json")); !os.IsNotExist(err) {
			t.Fatalf("replica %d wrote a vault file (%v); the grant belongs in the shared store", i, err)
		}
	}
	d := redisDump(t, redis)
	if !strings.Contains(d, "mcpgov:vault") {
		t.Fatalf("no vault in the store:\n%s", d)
	}
	payload := strings.Split(tokens[0], ".")[1]
	if strings.Contains(d, tokens[0]) || strings.Contains(d, payload) {
		t.Fatalf("the store holds the token in the clear:\n%s", d)
	}
}

// redisDump is what redis-cli shows of every key: --scan, then GET or
// HGETALL by type.
func redisDump(t *testing.T, srv *statetest.Server) string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found (apt-get install redis-tools; make scale-deps installs it with redis-server)")
	}
	run := func(args ...string) string {
		out, err := exec.Command(cli, append([]string{"-s", srv.Sock}, args...)...).Output()
		if err != nil {
			t.Fatalf("redis-cli %v: %v", args, err)
		}
		return string(out)
	}
	var b strings.Builder
	for _, k := range strings.Fields(run("--scan")) {
		b.WriteString(k + "\n")
		switch strings.TrimSpace(run("TYPE", k)) {
		case "string":
			b.WriteString(run("GET", k))
		case "hash":
			b.WriteString(run("HGETALL", k))
		}
	}
	return b.String()
}
