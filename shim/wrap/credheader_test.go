package wrap

import (
	"context"
	"strings"
	"testing"
)

// TestCredentialHeadersMoved: a header named like a credential (Cookie,
// Proxy-Authorization, X-Auth, X-Session-Id, X-Api-Key) goes to the vault
// even when its value does not look like a secret, in each config format
// that has headers: never into the shim's argv, where every local user
// reads it (/proc/PID/cmdline). A plain header (X-Team) is still passed
// as --header; unwrap restores the file byte for byte.
func TestCredentialHeadersMoved(t *testing.T) {
	creds := map[string]string{
		"Cookie":              "session=abc123",
		"Proxy-Authorization": "Basic dXNlcjpwdw==",
		"X-Auth":              "qq77",
		"X-Session-Id":        "s1",
		"X-Api-Key":           "k9k9",
	}
	for _, tc := range []struct{ rel, client, text string }{
		{".claude.json", "claude-code", "{\n  \"mcpServers\": {\n    \"k\": {\"type\": \"http\", \"url\": \"https://h.example.com/mcp\", \"headers\": {\"Cookie\": \"session=abc123\", \"Proxy-Authorization\": \"Basic dXNlcjpwdw==\", \"X-Auth\": \"qq77\", \"X-Session-Id\": \"s1\", \"X-Api-Key\": \"k9k9\", \"X-Team\": \"blue\"}}\n  }\n}\n"},
		{".codex/config.toml", "codex", "[mcp_servers.k]\nurl = \"https://h.example.com/mcp\"\nhttp_headers = { Cookie = \"session=abc123\", \"Proxy-Authorization\" = \"Basic dXNlcjpwdw==\", X-Auth = \"qq77\", X-Session-Id = \"s1\", X-Api-Key = \"k9k9\", X-Team = \"blue\" }\n"},
		{".continue/config.yaml", "continue", "mcpServers:\n  - name: k\n    type: streamable-http\n    url: https://h.example.com/mcp\n    requestOptions:\n      headers:\n        Cookie: session=abc123\n        Proxy-Authorization: Basic dXNlcjpwdw==\n        X-Auth: qq77\n        X-Session-Id: s1\n        X-Api-Key: k9k9\n        X-Team: blue\n"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			home, state, path, servers := moveFixture(t, tc.rel, tc.text)
			v, o := remoteMove(t, state)
			out, err := Wrap(context.Background(), servers, o)
			if err != nil {
				t.Fatal(err)
			}
			if r := out.Results[0]; r.Action != ActionWrapped {
				t.Fatalf("wrap: %s %q", r.Action, r.Reason)
			}
			got := readFile(t, path)
			for name, val := range creds {
				if strings.Contains(got, val) {
					t.Errorf("%s's value is in the wrapped config (the shim's argv):\n%s", name, got)
				}
				ref := "vault:config/" + servers[0].Client + "/k/header-" + name
				if v[ref] != val {
					t.Errorf("%s: vault[%s] = %q, want %q", name, ref, v[ref], val)
				}
				if !strings.Contains(got, name+"="+ref) {
					t.Errorf("%s is not passed as --secret-header:\n%s", name, got)
				}
			}
			if !strings.Contains(got, `"X-Team: blue"`) {
				t.Errorf("the plain header is not passed as --header:\n%s", got)
			}
			assertUnwrapped(t, home, path, tc.text, o)
		})
	}
}
