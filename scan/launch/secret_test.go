package launch

import (
	"strings"
	"testing"
)

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
		if got := CanonicalURL(u); strings.Contains(got, gh) {
			t.Errorf("CanonicalURL(%q) = %q keeps the secret", u, got)
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
		if got := CanonicalURL(c.in); got != c.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestScanOutputMasksCommandLine: what scan reports of an entry (its args,
// a command written as one line, its identity) is masked the same way.
func TestScanOutputMasksCommandLine(t *testing.T) {
	id := Identity("mysql", []string{"-uroot", "-pSECRET", "--host", "db"}, "", "")
	if strings.Contains(id, "SECRET") || id != "exec:mysql -uroot -p**** --host db" {
		t.Errorf("LaunchIdentity = %q", id)
	}
	id = Identity("sh", []string{"-c", "psql postgresql://app:s3cret@db/x"}, "", "")
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

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
