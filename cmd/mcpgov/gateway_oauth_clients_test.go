//go:build unix

package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
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
	return oauthusertest.StartIssuer(t, "oidc-provider-dcr", oauthusertest.OIDCProviderScript(t, "oidc-provider-dcr.mjs"), "registered ")
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
	// linkClients starts replicas A and B (on the shared store when
	// store is set) and returns the client ids of alice's consent links
	// on each.
	linkClients := func(store string) (string, string) {
		env := sandboxEnv(t, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+vault.NewKey())
		if store != "" {
			writeUserConfig(t, env, fmt.Sprintf("[gateway]\nstore = %q\n", store))
		}
		token := gatewayToken(t, env, "alice@example.com")
		publicURL := "http://" + freeAddr(t)
		var ids []string
		for _, replica := range []string{"A", "B"} {
			addr := freeAddr(t)
			_, log := serveGatewayAt(t, addr, env, "--bundle", gov, "--public-url", publicURL)
			_, answer, _ := authPost(t, "http://"+addr+"/servers/notes/mcp", token, initializeURLElicitation)
			e, err := consentElicitation(answer)
			if err != nil {
				t.Fatalf("alice's initialize on %s: %v: %s\n%s:\n%s", replica, err, answer, replica, log())
			}
			u, err := url.Parse(e.URL)
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
