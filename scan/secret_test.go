package scan

import (
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// The detector and masking are package secret's; these tests check what
// scan builds on them: the plaintext-secret finding, the masked entry and
// the identity of a launch.

// TestCanonicalURLNeverReturnsSecret: a remote server's identity keeps no
// token, wherever in the URL it is.
func TestCanonicalURLNeverReturnsSecret(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	for _, u := range []string{
		"https://user:" + gh + "@example.com/mcp",
		"https://example.com/mcp?api_key=" + gh,
		"https://example.com/mcp?q=" + gh,
		"https://example.com/" + gh + "/sse",
		"https://example.com/mcp#" + gh,
	} {
		if got := canonicalURL(u); strings.Contains(got, gh) {
			t.Errorf("canonicalURL(%q) = %q keeps the secret", u, got)
		}
	}
}

// TestCanonicalURLMasksSecrets: the identity of a remote server is written
// to reports and SARIF, so it must not carry a token either.
func TestCanonicalURLMasksSecrets(t *testing.T) {
	zap := "sk-ak-" + fake(32, alnum)
	cases := []struct{ in, want string }{
		{"https://actions.zapier.com/mcp/" + zap + "/sse", "https://actions.zapier.com/mcp/sk-****/sse"},
		{"https://user:p{ss}w0rd12@example.com/mcp", "https://user:****@example.com/mcp"},
	}
	for _, c := range cases {
		if got := canonicalURL(c.in); got != c.want {
			t.Errorf("canonicalURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSecretArgs(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	cases := []struct {
		name string
		args []string
		want []int
	}{
		{"--token=X", []string{"serve", "--token=a1b2c3d4e5f6g7h8"}, []int{1}},
		{"--token X", []string{"--token", "a1b2c3d4e5f6g7h8", "--port", "3000"}, []int{1}},
		{"--api-key X", []string{"--api-key", "sk-ant-api03-" + fake(40, b64u)}, []int{1}},
		{"docker -e K=V", []string{"run", "-i", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN=" + gh, "-e", "LOG_LEVEL=debug", "img"}, []int{3}},
		{"docker -e K=V by name", []string{"run", "-e", "API_KEY=a1b2c3d4e5f6g7h8", "img"}, []int{2}},
		{"--header Authorization Bearer", []string{"mcp-remote", "https://x.example.com/mcp", "--header", "Authorization: Bearer a1b2c3d4e5f6g7h8"}, []int{3}},
		{"-H X-API-Key", []string{"-H", "X-API-Key: 3f9c2b7a1e5d4c8b"}, []int{1}},
		{"known token as a bare arg", []string{"serve", gh}, []int{1}},
		{"placeholders", []string{"--token", "${TOKEN}", "--header", "Authorization: Bearer ${AUTH}", "-e", "API_KEY=$API_KEY", "--api-key=${env:K}"}, nil},
		{"header without secret", []string{"--header", "Accept: application/json"}, nil},
		{"flags and paths", []string{"--token-file", "/run/secrets/token", "--auth-mode", "oauth", "--port", "3000"}, nil},
		{"docker -e name only", []string{"run", "-e", "GITHUB_TOKEN", "img"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := secretArgs(c.args)
			if len(got) != len(c.want) {
				t.Fatalf("secretArgs(%q) = %v, want indexes %v", c.args, got, c.want)
			}
			for _, i := range c.want {
				if _, ok := got[i]; !ok {
					t.Errorf("secretArgs(%q): index %d not flagged (got %v)", c.args, i, got)
				}
			}
		})
	}
}

// TestMaskArgNeverReturnsSecret: what newServer writes for a flagged
// argument keeps the flag or header name and nothing of the value.
func TestMaskArgNeverReturnsSecret(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	cases := []struct{ in, want, secret string }{
		{"--token=a1b2c3d4e5f6g7h8", "--token=****", "a1b2c3d4e5f6g7h8"},
		{"GITHUB_PERSONAL_ACCESS_TOKEN=" + gh, "GITHUB_PERSONAL_ACCESS_TOKEN=ghp_****", gh},
		{"Authorization: Bearer a1b2c3d4e5f6g7h8", "Authorization: Bearer ****", "a1b2c3d4e5f6g7h8"},
		{"X-API-Key: 3f9c2b7a1e5d4c8b", "****", "3f9c2b7a1e5d4c8b"},
		{"https://user:s3cretpw@example.com/mcp", "https://user:****@example.com/mcp", "s3cretpw"},
		{gh, "ghp_****", gh},
		{"a1b2c3d4e5f6g7h8", "****", "a1b2c3d4e5f6g7h8"},
	}
	for _, c := range cases {
		got := maskArg(c.in)
		if got != c.want {
			t.Errorf("maskArg(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, c.secret) {
			t.Errorf("maskArg(%q) = %q keeps the secret", c.in, got)
		}
	}
}

// TestMaskArgsCoversSecretArgs: every argument the plaintext-secret finding
// flags is masked by MaskArgs itself, so scan's output and the shim's
// records cannot disagree about a value scan calls a secret.
func TestMaskArgsCoversSecretArgs(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	lines := [][]string{
		{"serve", "--token=a1b2c3d4e5f6g7h8"},
		{"--token", "a1b2c3d4e5f6g7h8", "--port", "3000"},
		{"--api-key", "sk-ant-api03-" + fake(40, b64u)},
		{"run", "-i", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN=" + gh, "img"},
		{"run", "-e", "API_KEY=a1b2c3d4e5f6g7h8", "img"},
		{"mcp-remote", "https://x.example.com/mcp", "--header", "Authorization: Bearer a1b2c3d4e5f6g7h8"},
		{"-H", "X-API-Key: 3f9c2b7a1e5d4c8b"},
		{"--session", "3f9c2b7a1e5d4c8b"},
		{"serve", gh},
		{"https://bot:s3cr3tPassw0rd@git.example.com/repo.git"},
	}
	for _, argv := range lines {
		masked := secret.MaskArgs(argv)
		for i := range secretArgs(argv) {
			if masked[i] == argv[i] {
				t.Errorf("secret.MaskArgs(%q): argument %d (%q) flagged as a secret but not masked", argv, i, argv[i])
			}
		}
	}
}

// TestScanOutputMasksCommandLine: what scan reports of an entry (its args,
// a command written as one line, its identity) is masked the same way.
func TestScanOutputMasksCommandLine(t *testing.T) {
	id := LaunchIdentity("mysql", []string{"-uroot", "-pSECRET", "--host", "db"}, "", "")
	if strings.Contains(id, "SECRET") || id != "exec:mysql -uroot -p**** --host db" {
		t.Errorf("LaunchIdentity = %q", id)
	}
	id = LaunchIdentity("sh", []string{"-c", "psql postgresql://app:s3cret@db/x"}, "", "")
	if strings.Contains(id, "s3cret") {
		t.Errorf("LaunchIdentity = %q keeps the password", id)
	}
}

// fake builds a credential-shaped but meaningless string of n characters
// from alphabet, so no real secret is ever checked in.
func fake(n int, alphabet string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(alphabet[(i*7+3)%len(alphabet)])
	}
	return b.String()
}

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b64u  = alnum + "_-"
)
