//go:build unix

package main

import (
	"os"
	"strings"
	"testing"
)

// TestLoginWeb: --web logs in through Dex's login form and a redirect to
// mcpgov's one-shot loopback listener (authorization code with PKCE).
func TestLoginWeb(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	sb.config(dexProfile(d))

	m, wait := sb.startLogin(`open this URL to log in:\s+(\S+)`, "--web")
	if !strings.Contains(m[1], "code_challenge_method=S256") {
		t.Errorf("authorization URL lacks PKCE: %s", m[1])
	}
	if page := browserLogin(t, d, m[1], nil); !strings.Contains(page, "login complete") {
		t.Fatalf("the loopback redirect did not complete:\n%s", page)
	}
	wait().wantExit(t, 0, "as alice@example.com (groups: eng, mcp-admins)")
	st, _ := sb.status()
	if st["loggedIn"] != true || st["refreshable"] != true {
		t.Fatalf("status after --web: %v", st)
	}

	// Without the gateway's audience scope the token is for mcpgov-cli
	// only; the profile's gateway_audience makes that a failed login.
	m, wait = sb.startLogin(`open this URL to log in:\s+(\S+)`, "--web", "--profile", "narrow",
		"--issuer", d.Issuer, "--client-id", "mcpgov-cli", "--scopes", "openid,email,groups,offline_access")
	browserLogin(t, d, m[1], nil)
	// The narrow profile has no gateway_audience: the login works ...
	wait().wantExit(t, 0)
	sb.config(dexProfile(d) + "\n[profiles.narrow]\ngateway_audience = \"mcpgov-gateway\"\n")
	// ... but its token is refused for the gateway.
	sb.run("", "auth", "token", "--profile", "narrow").wantExit(t, 4,
		`not the gateway's "mcpgov-gateway"`, "run `mcpgov login --profile narrow`")
}

// TestLoginWithToken: --with-token verifies a JWT against the issuer and
// refuses one issued for another audience; MCPGOV_TOKEN overrides.
func TestLoginWithToken(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	sb.config(dexProfile(d))

	good := passwordToken(t, d, "mcpgov-cli", "openid email profile groups "+gatewayScope)["access_token"].(string)
	sb.run(good, "login", "--with-token").wantExit(t, 0, "as alice@example.com (groups: eng, mcp-admins)")
	st, _ := sb.status()
	if st["kind"] != "token" || st["email"] != "alice@example.com" || st["refreshable"] != false {
		t.Errorf("status after --with-token: %v", st)
	}
	if got := strings.TrimSpace(sb.must("", "auth", "token").Stdout); got != good {
		t.Error("auth token did not print the stored personal token")
	}

	other := passwordToken(t, d, "other-app", "openid email groups")["access_token"].(string)
	sb.run(other, "login", "--with-token").wantExit(t, 4,
		"the token is for audience other-app, not \"mcpgov-gateway\"")
	if got := strings.TrimSpace(sb.must("", "auth", "token").Stdout); got != good {
		t.Error("a refused token replaced the stored login")
	}
	sb.run("not-a-jwt\n", "login", "--with-token", "--profile", "opaque", "--issuer", d.Issuer).wantExit(t, 0, "as a personal token")
	if _, err := os.Stat(sb.sessionFile("opaque")); err != nil {
		t.Error("an opaque personal token was not stored")
	}

	// MCPGOV_TOKEN wins over the stored login, for CI.
	env := sb.Env
	sb.Env = append(append([]string{}, env...), "MCPGOV_TOKEN="+other)
	if got := strings.TrimSpace(sb.must("", "auth", "token").Stdout); got != other {
		t.Error("auth token ignored MCPGOV_TOKEN")
	}
	st, r := sb.status()
	r.wantExit(t, 4, "not \"mcpgov-gateway\"")
	if st["storage"] != "env" || st["loggedIn"] != false {
		t.Errorf("status with a wrong-audience MCPGOV_TOKEN: %v", st)
	}
	sb.Env = append(append([]string{}, env...), "MCPGOV_TOKEN="+good)
	st, r = sb.status()
	r.wantExit(t, 0)
	if st["storage"] != "env" || st["email"] != "alice@example.com" {
		t.Errorf("status with MCPGOV_TOKEN: %v", st)
	}
}

// TestLoginBadIssuer: a wrong issuer and an identity provider that is
// down each get a precise message and exit 4.
func TestLoginBadIssuer(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	sb.run("", "login", "--issuer", d.Issuer+"/", "--client-id", "mcpgov-cli").wantExit(t, 4,
		"issuer mismatch", `calls itself "`+d.Issuer+`"`, "hint: fix the issuer")
	sb.run("", "login", "--issuer", strings.TrimSuffix(d.Issuer, "/dex")+"/nope", "--client-id", "mcpgov-cli").wantExit(t, 4,
		"is not an OpenID provider", "404")

	// Logged in, then the IdP goes away and the token expires: the
	// refresh fails with a message naming the provider.
	sb.config(dexProfile(d))
	deviceLogin(t, d, sb).wantExit(t, 0)
	d.Stop()
	sb.must("", "auth", "token") // still fresh: no network needed
	sb.expire("default")
	sb.run("", "auth", "token").wantExit(t, 4, "identity provider "+d.Issuer+" is unavailable", "hint: check the issuer URL and your network")
	sb.run("", "login", "--issuer", "http://"+freeAddr(t)+"/dex", "--client-id", "x").wantExit(t, 4,
		"cannot reach the identity provider", "connection refused")
}
