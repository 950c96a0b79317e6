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

func TestParseSecretRef(t *testing.T) {
	for in, ok := range map[string]bool{"env:X": true, "file:/run/k": true, "keyring:svc/acct": true, "vault:gh": true, "aws-sm:arn": true,
		"keyring:svc": false, "plain": false, "Env:X": false, "https://x": false, "env:": false} {
		if _, err := ParseSecretRef(in); (err == nil) != ok {
			t.Errorf("ParseSecretRef(%q) err = %v", in, err)
		}
	}
}
