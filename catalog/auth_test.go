package catalog

import (
	"errors"
	"strings"
	"testing"
)

func parseOne(t *testing.T, text string) (*Catalog, error) {
	t.Helper()
	return Parse("catalog.toml", []byte(text))
}

func TestAuthBlock(t *testing.T) {
	c, err := parseOne(t, `
[servers.gh]
status = "approved"
launch.url = "https://mcp.example.com/mcp"
[servers.gh.auth]
type = "api_key"
secret = "env:GH_KEY"
header = "Authorization"
prefix = "Bearer "
`)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Server("gh").Auth
	if a.Kind() != AuthAPIKey || a.Secret != "env:GH_KEY" || a.Header != "Authorization" || a.Prefix != "Bearer " {
		t.Fatalf("auth = %+v", a)
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings = %v", c.Warnings)
	}
}

// The old free-text form still loads, with a warning naming the line.
func TestAuthLegacyWarns(t *testing.T) {
	c, err := parseOne(t, "[servers.gh]\nstatus = \"approved\"\nauth = \"oauth\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Server("gh").Auth; a.Legacy != "oauth" || a.Kind() != AuthNone {
		t.Fatalf("auth = %+v", a)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Line != 3 || !strings.Contains(c.Warnings[0].Message, "old free-text form") {
		t.Fatalf("warnings = %v", c.Warnings)
	}
}

func TestAuthProblems(t *testing.T) {
	for _, tc := range []struct{ name, auth, want string }{
		{"unknown key", "type = \"none\"\nsecrett = \"env:X\"", `unknown key "secrett"`},
		{"bad type", `type = "magic"`, `auth.type "magic": want one of`},
		{"no place", "type = \"api_key\"\nsecret = \"env:K\"", "exactly one of header, query or env"},
		{"no secret", "type = \"api_key\"\nheader = \"X-Key\"", "needs secret"},
		{"literal secret", "type = \"api_key\"\nheader = \"X-Key\"\nsecret = \"ghp_0123456789abcdefghijABCDEFGHIJ012345\"", "holds a literal secret"},
		{"literal after scheme", "type = \"api_key\"\nheader = \"X-Key\"\nsecret = \"env:ghp_0123456789abcdefghijABCDEFGHIJ012345\"", "holds a literal secret"},
		{"passthrough no audience", `type = "passthrough"`, "needs audience"},
		{"oauth_client no endpoint", "type = \"oauth_client\"\nclient_id = \"c\"", "needs issuer or token_url"},
		{"subject token type", "type = \"token_exchange\"\ntoken_url = \"http://x\"\nclient_id = \"c\"\nsubject_token_type = \"saml2\"", `auth.subject_token_type "saml2": want access_token, id_token or jwt`},
		{"connector elsewhere", "type = \"oauth_client\"\ntoken_url = \"http://x\"\nclient_id = \"c\"\nconnector_id = \"idp\"", "auth.connector_id is for token_exchange, not oauth_client"},
		{"cross_app no server client", "type = \"cross_app\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"", "auth type cross_app needs server_client_id"},
		{"server client elsewhere", "type = \"token_exchange\"\ntoken_url = \"http://x\"\nclient_id = \"c\"\nserver_client_id = \"s\"", "auth.server_client_id is for cross_app, not token_exchange"},
		{"wrong type", "type = \"oauth_client\"\nscopes = \"a\"\ntoken_url = \"http://x\"\nclient_id = \"c\"", "auth.scopes: wrong type"},
		{"oauth_user no url, no issuer", "type = \"oauth_user\"", "needs issuer or token_url"},
		{"assertion key not oauth_client", "type = \"oauth_user\"\nissuer = \"https://as\"\nclient_id = \"c\"\nclient_assertion_key = \"env:K\"", "client_assertion_key is for auth type oauth_client"},
		{"secret and assertion key", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nclient_secret = \"env:S\"\nclient_assertion_key = \"env:K\"", "both client_secret and client_assertion_key"},
		{"literal assertion key", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nclient_assertion_key = \"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIC0123456789abcdefghijABCDEFGHIJ0123456789abcoAoGCCqGSM49\\n-----END EC PRIVATE KEY-----\"", "auth.client_assertion_key"},
		{"bad assertion alg", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nclient_assertion_key = \"env:K\"\nclient_assertion_alg = \"HS256\"", `client_assertion_alg "HS256": want one of`},
		{"assertion alg without key", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nclient_secret = \"env:S\"\nclient_assertion_alg = \"ES256\"", "client_assertion_alg is set without client_assertion_key"},
		{"client metadata url not https", "type = \"oauth_user\"\nissuer = \"https://as\"\nclient_id = \"c\"\nclient_metadata_url = \"http://mcpgov.example/client.json\"", "must be an https URL"},
		{"cross_app secret without server_issuer", "type = \"cross_app\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\nserver_client_id = \"s\"\nserver_client_secret = \"env:S\"", "server_client_secret is set without server_issuer"},
		{"server_issuer elsewhere", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nserver_issuer = \"https://as\"", "auth.server_issuer is for cross_app, not oauth_client"},
		{"client metadata url on oauth_client", "type = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nclient_secret = \"env:S\"\nclient_metadata_url = \"https://mcpgov.example/client.json\"", "client_metadata_url is for auth type oauth_user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOne(t, "[servers.s]\nstatus = \"approved\"\n[servers.s.auth]\n"+tc.auth+"\n")
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "0123456789abcdefghij") {
				t.Fatalf("the literal secret is in the message: %v", err)
			}
			if ve.Problems[0].Line < 3 {
				t.Fatalf("problem line = %d, want the auth table's", ve.Problems[0].Line)
			}
		})
	}
}

// A server reached over HTTP may leave its authorization server to
// discovery (RFC 9728) and, for oauth_user, its client to registration or
// a client metadata document; oauth_client may authenticate with a key.
func TestAuthDiscovered(t *testing.T) {
	c, err := parseOne(t, `
[servers.notes]
status = "approved"
launch.url = "https://notes.example/mcp"
[servers.notes.auth]
type = "oauth_user"
client_metadata_url = "https://mcpgov.example/client.json"
[servers.jobs]
status = "approved"
launch.url = "https://jobs.example/mcp"
[servers.jobs.auth]
type = "oauth_client"
client_id = "mcpgov"
client_assertion_key = "file:/etc/mcpgov/jobs.pem"
client_assertion_alg = "ES256"
`)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Server("notes").Auth; a.ClientMetadataURL != "https://mcpgov.example/client.json" || a.Issuer != "" || a.ClientID != "" {
		t.Fatalf("notes auth = %+v", a)
	}
	if a := c.Server("jobs").Auth; a.ClientAssertionKey != "file:/etc/mcpgov/jobs.pem" || a.ClientAssertionAlg != "ES256" {
		t.Fatalf("jobs auth = %+v", a)
	}
	// A shared secret is never sent where discovery leads: the server's
	// metadata would choose the token endpoint. Pinned, it is accepted.
	for _, typ := range []string{"oauth_client", "oauth_user"} {
		_, err = parseOne(t, "[servers.s]\nstatus = \"approved\"\nlaunch.url = \"https://s.example/mcp\"\n[servers.s.auth]\ntype = \""+typ+"\"\nclient_id = \"c\"\nclient_secret = \"env:S\"\n")
		if err == nil || !strings.Contains(err.Error(), "auth.client_secret is set but the authorization server is left to discovery") {
			t.Fatalf("%s with a secret and no issuer: %v", typ, err)
		}
		if _, err = parseOne(t, "[servers.s]\nstatus = \"approved\"\nlaunch.url = \"https://s.example/mcp\"\n[servers.s.auth]\ntype = \""+typ+"\"\nissuer = \"https://as.example\"\nclient_id = \"c\"\nclient_secret = \"env:S\"\n"); err != nil {
			t.Fatalf("%s with a secret and a pinned issuer: %v", typ, err)
		}
	}
	// oauth_user pinned by its endpoints pins every one: token_url or
	// authorization_url alone would leave the other (and the revocation
	// endpoint) to the metadata the server names.
	const head = "[servers.s]\nstatus = \"approved\"\nlaunch.url = \"https://s.example/mcp\"\n[servers.s.auth]\ntype = \"oauth_user\"\nclient_id = \"c\"\n"
	for _, tc := range []struct{ auth, want string }{
		{"client_secret = \"env:S\"\ntoken_url = \"https://as.example/token\"", "auth.token_url is set without authorization_url or issuer, so the server's metadata would choose the authorization endpoint"},
		{"token_url = \"https://as.example/token\"", "auth.token_url is set without authorization_url or issuer"},
		{"authorization_url = \"https://as.example/authorize\"", "auth.authorization_url is set without token_url or issuer, so the server's metadata would choose the token endpoint"},
		{"client_secret = \"env:S\"\nauthorization_url = \"https://as.example/authorize\"", "auth.authorization_url is set without token_url or issuer"},
	} {
		_, err := parseOne(t, head+tc.auth+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "revocation_url") {
			t.Errorf("%q: %v, want %q", tc.auth, err, tc.want)
		}
	}
	c, err = parseOne(t, head+"client_secret = \"env:S\"\nauthorization_url = \"https://as.example/authorize\"\ntoken_url = \"https://as.example/token\"\nrevocation_url = \"https://as.example/revoke\"\n")
	if err != nil {
		t.Fatalf("oauth_user pinned by its endpoints: %v", err)
	}
	if a := c.Server("s").Auth; a.RevocationURL != "https://as.example/revoke" || !strings.Contains(a.TOMLInline(), `revocation_url = "https://as.example/revoke"`) {
		t.Fatalf("revocation_url: %+v", a)
	}
	_, err = parseOne(t, strings.Replace(head, "client_id = \"c\"\n", "", 1)+"authorization_url = \"https://as.example/authorize\"\ntoken_url = \"https://as.example/token\"\n")
	if err == nil || !strings.Contains(err.Error(), "needs client_id: there is no authorization server metadata to register a client with") {
		t.Fatalf("pinned endpoints without client_id: %v", err)
	}
	_, err = parseOne(t, "[servers.s]\nstatus = \"approved\"\n[servers.s.auth]\ntype = \"oauth_client\"\ntoken_url = \"https://as/token\"\nclient_id = \"c\"\nrevocation_url = \"https://as/revoke\"\n")
	if err == nil || !strings.Contains(err.Error(), "auth.revocation_url is for auth type oauth_user, not oauth_client") {
		t.Fatalf("revocation_url on oauth_client: %v", err)
	}
	// oauth_client still needs its client id.
	_, err = parseOne(t, "[servers.s]\nstatus = \"approved\"\nlaunch.url = \"https://s.example/mcp\"\n[servers.s.auth]\ntype = \"oauth_client\"\nclient_secret = \"env:S\"\n")
	if err == nil || !strings.Contains(err.Error(), "needs client_id") {
		t.Fatalf("oauth_client without client_id: %v", err)
	}
}

func TestParseSecretRef(t *testing.T) {
	for in, ok := range map[string]bool{"env:X": true, "file:/run/k": true, "keyring:svc/acct": true, "vault:gh": true, "aws-sm:arn": true,
		"keyring:svc": false, "plain": false, "Env:X": false, "https://x": false, "env:": false} {
		if _, err := ParseSecretRef(in); (err == nil) != ok {
			t.Errorf("ParseSecretRef(%q) err = %v", in, err)
		}
	}
}
