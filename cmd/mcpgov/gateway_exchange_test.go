//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
)

// TestGatewayTokenExchangeDex: RFC 8693 token exchange against a real
// issuer. Dex A is the users' identity provider (the gateway accepts its
// tokens); Dex B is the upstream's authorization server, trusting A
// through an oidc connector. The gateway exchanges alice's token from A
// at B for one B issues for the upstream (aud mcp-upstream), and the
// upstream, which takes only B's tokens for itself, answers whoami with
// alice's email. Each exchange is a credential record without the token.
// Refusals — a subject token type Dex does not take, a connector it does
// not have, an audience whose client does not trust the gateway's — leave
// the server out with an error that says what was refused and by whom,
// and a record.
func TestGatewayTokenExchangeDex(t *testing.T) {
	a := startDex(t, "5m")
	b := oauthusertest.StartDexFrom(t, "testdata/idp/exchange.yaml", map[string]string{"IDP": a.Issuer})
	upstream := oauthusertest.StartBearerServer(t, b.Issuer, "mcp-upstream")
	gov := t.TempDir()
	server := func(id, extra string) string {
		return fmt.Sprintf(`[servers.%s]
status = "approved"
[servers.%s.launch]
url = %q
[servers.%s.auth]
type = "token_exchange"
issuer = %q
client_id = "mcpgov-gateway"
client_secret = "env:EXCHANGE_SECRET"
%s
`, id, id, upstream, id, b.Issuer, extra)
	}
	writeFile(t, filepath.Join(gov, "catalog.toml"), "[catalog]\nmode = \"enforce\"\n"+
		server("notes", `connector_id = "users-idp"
audience = "mcp-upstream"
scopes = ["openid", "email", "audience:server:client_id:mcp-upstream"]`)+
		server("badtype", `connector_id = "users-idp"
subject_token_type = "jwt"
scopes = ["openid", "email"]`)+
		server("badconn", `connector_id = "nope"
scopes = ["openid", "email"]`)+
		server("badaud", `connector_id = "users-idp"
audience = "other-upstream"
scopes = ["openid", "email", "audience:server:client_id:other-upstream"]`))
	auditDir := filepath.Join(t.TempDir(), "audit")
	env := sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+vault.NewKey(),
		"EXCHANGE_SECRET=exchange-secret")
	writeUserConfig(t, env, fmt.Sprintf(`[[gateway.issuers]]
url = %q
audience = "mcpgov-gateway"
`, a.Issuer))
	base, stderr := serveGateway(t, env, "--bundle", gov)
	tok := passwordToken(t, a, "mcpgov-cli", "openid profile email groups "+gatewayScope)["access_token"].(string)

	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	url := base + "/servers/notes/mcp"
	status, answer, hdr := authPost(t, url, tok, initialize)
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize through the exchange: %d %s\ngateway:\n%s", status, answer, stderr())
	}
	post := func(body string) string { t.Helper(); return bearerPost(t, url, tok, sid, "application/json", body) }
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`); !strings.Contains(got, "alice@example.com") {
		t.Fatalf("whoami with the exchanged token: %s\ngateway:\n%s", got, stderr())
	}

	for _, c := range []struct {
		server string
		want   []string
	}{
		{"badtype", []string{"token exchange of the caller's jwt for scopes", "refused by " + b.Issuer + "/token (400 Bad Request): request_not_supported (Invalid subject_token_type.)"}},
		{"badconn", []string{"refused by " + b.Issuer + "/token (400 Bad Request): invalid_request (Requested connector does not exist.)"}},
		{"badaud", []string{`for audience "other-upstream"`}},
	} {
		status, answer, _ := authPost(t, base+"/servers/"+c.server+"/mcp", tok, initialize)
		var refusal struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(sseData(answer)), &refusal)
		msg := refusal.Error.Message
		t.Logf("%s: %s", c.server, msg)
		if status != http.StatusBadGateway || !strings.Contains(msg, "server "+c.server+" could not be started") {
			t.Errorf("initialize of %s: %d %s; want 502, the server not started", c.server, status, answer)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("refusal of %s: %q\nwant it to say %q", c.server, msg, w)
			}
		}
		if strings.Contains(answer, "eyJ") {
			t.Errorf("the refusal for %s holds a token: %s", c.server, answer)
		}
	}

	out := runMcpgov(t, env, "audit", "query", "--format", "jsonl")
	outcomes := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Kind    string
			Outcome string
			Reason  string
			Server  struct{ ID string }
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Kind == "credential" {
			outcomes[r.Server.ID] = append(outcomes[r.Server.ID], r.Outcome+": "+r.Reason)
		}
	}
	t.Logf("credential records: %q", outcomes)
	if got := strings.Join(outcomes["notes"], "|"); !strings.Contains(got, "exchange: ") || !strings.Contains(got, "at "+b.Issuer+" for audience mcp-upstream") {
		t.Errorf("credential records of notes: %q; want the exchange at %s", got, b.Issuer)
	}
	for _, s := range []string{"badtype", "badconn", "badaud"} {
		if got := strings.Join(outcomes[s], "|"); !strings.HasPrefix(got, "refused: ") {
			t.Errorf("credential records of %s: %q; want the refusal", s, got)
		}
	}
	if strings.Contains(out, tok) || strings.Contains(out, "eyJ") || strings.Contains(stderr(), "eyJ") {
		t.Errorf("a token in the records or the gateway's log:\n%s\n%s", out, stderr())
	}
}
