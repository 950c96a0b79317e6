//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayJWTLifecycle: with Dex as the identity provider, a token is
// refused once it expires (clock_skew 0s), and when Dex starts signing with
// new keys (a restart of its in-memory storage: old keys gone at once) the
// gateway fetches the new key set for a token that names an unknown key,
// accepts the new tokens and refuses the old ones. Each refusal is a 401
// with error="invalid_token" saying why.
func TestGatewayJWTLifecycle(t *testing.T) {
	short := startDexExpiry(t, "5m", "3s") // for expiry
	d := startDex(t, "5m")                 // for the rotation, with tokens that outlive it
	gov := t.TempDir()
	writeFile(t, filepath.Join(gov, "catalog.toml"), `[catalog]
mode = "enforce"
[servers.lenient]
status = "approved"
[servers.lenient.launch]
command = "lenient-mcp-server"
`)
	env := sandboxEnv(t, "MCPGOV_AUDIT_DIR="+filepath.Join(t.TempDir(), "audit"))
	home := envValue(env, "HOME")
	if err := os.MkdirAll(filepath.Join(home, ".config", "mcpgov"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".config", "mcpgov", "config.toml"), fmt.Sprintf(`[gateway]
clock_skew = "0s"
[[gateway.issuers]]
url = %q
audience = "mcpgov-gateway"
[[gateway.issuers]]
url = %q
audience = "mcpgov-gateway"
`, short.Issuer, d.Issuer))
	base, _ := serveGateway(t, env, "--bundle", gov)
	url := base + "/servers/lenient/mcp"
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	token := func(d *dex) string {
		return passwordToken(t, d, "mcpgov-cli", "openid profile email groups "+gatewayScope)["access_token"].(string)
	}
	initialize := func(tok string) (int, string, string) {
		status, body, hdr := authPost(t, url, tok, init)
		return status, body, hdr.Get("WWW-Authenticate")
	}

	// Expiry: accepted now, refused once its 3 s are up.
	old := token(short)
	if status, body, _ := initialize(old); status != 200 {
		t.Fatalf("a fresh Dex token: %d %s", status, body)
	}
	var challenge string
	await.Until(t, "the 3 s token refused as expired", func() bool {
		status, _, c := initialize(old)
		challenge = c
		return status == 401
	})
	if !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "expired") {
		t.Errorf("challenge for the expired token: %q; want invalid_token saying it expired", challenge)
	}

	// Key rotation: Dex restarts with new keys. A token signed after is
	// accepted (the gateway fetches the key set for its unknown key); one
	// signed before and not yet seen is refused, its key gone from the
	// set; one verified before the rotation keeps its cached verification
	// (at most 5 minutes, never past its expiry).
	seen, unseen := token(d), token(d)
	if status, body, _ := initialize(seen); status != 200 {
		t.Fatalf("a fresh Dex token before the rotation: %d %s", status, body)
	}
	d.Restart(t)
	after := token(d)
	if status, body, _ := initialize(after); status != 200 {
		t.Errorf("a token signed with Dex's new key: %d %s; want it accepted after a key-set refresh", status, body)
	}
	if status, _, c := initialize(unseen); status != 401 || !strings.Contains(c, `error="invalid_token"`) || strings.Contains(c, "expired") {
		t.Errorf("a token signed with the retired key: %d %q; want 401 invalid_token for its key", status, c)
	}
	if status, body, _ := initialize(seen); status != 200 {
		t.Errorf("a token verified before the rotation: %d %s; want its cached verification to hold", status, body)
	}
}
