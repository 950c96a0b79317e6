package secret

import (
	"strings"
	"testing"
)

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
	upnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64u  = alnum + "_-"
)

// secretSample is a value that must be detected as kind, and the public
// prefix Mask may keep ("" = fully masked).
type secretSample struct {
	kind, value, keep string
}

func secretSamples() []secretSample {
	return []secretSample{
		{"private key", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + fake(64, alnum) + "\n-----END OPENSSH PRIVATE KEY-----", ""},
		{"private key", "-----BEGIN PRIVATE KEY-----MIIEvQ" + fake(40, alnum), ""},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----", ""},
		{"AWS access key", "AKIAIOSFODNN7EXAMPLE", "AKIA"},
		{"AWS access key", "ASIA" + fake(16, upnum), "ASIA"},
		{"GitHub token", "ghp_" + fake(36, alnum), "ghp_"},
		{"GitHub token", "gho_" + fake(36, alnum), "gho_"},
		{"GitHub token", "ghs_" + fake(36, alnum), "ghs_"},
		{"GitHub token", "github_pat_11" + fake(20, upnum) + "_" + fake(59, alnum), "github_pat_"},
		{"GitLab token", "glpat-" + fake(20, b64u), "glpat-"},
		{"Slack token", "xoxb-123456789012-1234567890123-" + fake(24, alnum), "xoxb-"},
		{"Slack token", "xoxp-" + fake(30, alnum), "xoxp-"},
		{"Anthropic API key", "sk-ant-api03-" + fake(80, b64u), "sk-ant-"},
		{"OpenAI API key", "sk-proj-" + fake(64, b64u), "sk-"},
		{"OpenAI API key", "sk-" + fake(48, alnum), "sk-"},
		{"Stripe key", "sk_live_" + fake(24, alnum), "sk_live_"},
		{"Stripe key", "rk_test_" + fake(24, alnum), "rk_test_"},
		{"Google API key", "AIza" + fake(35, b64u), "AIza"},
		{"npm token", "npm_" + fake(36, alnum), "npm_"},
		{"Hugging Face token", "hf_" + fake(34, alnum), "hf_"},
		{"Linear API key", "lin_api_" + fake(40, alnum), "lin_api_"},
		{"SendGrid key", "SG." + fake(22, b64u) + "." + fake(43, b64u), "SG."},
		{"JSON Web Token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + fake(43, b64u), ""},
		{"credentials in URL", "postgres://admin:" + fake(16, alnum) + "@db.example.com:5432/app", ""},
		{"credentials in URL", "https://bot:s3cr3tPassw0rd@git.example.com/repo.git", ""},
	}
}

func TestDetectSecretPatterns(t *testing.T) {
	covered := make([]bool, len(secretPatterns()))
	for _, s := range secretSamples() {
		m, ok := Detect("", s.value)
		if !ok || m.Kind != s.kind || !m.Strong {
			t.Errorf("Detect(%.30q) = %+v, %v; want strong %q", s.value, m, ok, s.kind)
		}
		// Also found inside a longer value and under any name.
		if m, ok := Detect("DESCRIPTION", "value: "+s.value+" (do not share)"); !ok || m.Kind != s.kind {
			t.Errorf("embedded %.30q: got %+v, %v; want %q", s.value, m, ok, s.kind)
		}
		for i, p := range secretPatterns() {
			if p.kind == s.kind && p.re().MatchString(s.value) && p.mayMatch(s.value) {
				covered[i] = true
			}
		}
	}
	for i, c := range covered {
		if !c {
			t.Errorf("secretPatterns[%d] (%s, %s) has no true-positive sample", i, secretPatterns()[i].kind, secretPatterns()[i].expr)
		}
	}
}

func TestDetectSecretByName(t *testing.T) {
	cases := []struct{ name, value string }{
		{"API_KEY", "a1b2c3d4e5f6g7h8"},
		{"DB_PASSWORD", "hunter2hunter2"},
		{"db_passwd", "Tr0ub4dor&3x"},
		{"X-Api-Key", "3f9c2b7a1e5d4c8b"},
		{"Authorization", "Bearer abc123def456ghi789"},
		{"Authorization", "Basic dXNlcjpwYXNzd29yZA=="},
		// Bug: the auth scheme was stripped case-sensitively, so "bearer X"
		// (valid HTTP) read as two words and escaped detection.
		{"Authorization", "bearer abc123def456ghi789"},
		{"Authorization", "token 0123456789abcdef0123"},
		{"CLIENT_SECRET", strings.Repeat("abcdefgh", 3)},
		{"SESSION_COOKIE", "s%3A" + fake(20, alnum)},
		{"GITLAB_PAT", "x7f3k2m9q1w8e4r6"},
		{"access-key", "AbCdEf0123456789"},
		{"token", "tok3nV4lue"},
	}
	for _, c := range cases {
		m, ok := Detect(c.name, c.value)
		if !ok {
			t.Errorf("Detect(%q, %q) = not a secret", c.name, c.value)
			continue
		}
		if m.Strong || m.Kind != "credential" {
			t.Errorf("Detect(%q, %q) = %+v, want a weak credential", c.name, c.value, m)
		}
	}
}

func TestDetectSecretNegatives(t *testing.T) {
	cases := []struct{ name, value string }{
		// Placeholders the client expands at launch.
		{"GITHUB_TOKEN", "${GITHUB_TOKEN}"},
		{"GITHUB_TOKEN", "${GITHUB_TOKEN:-}"},
		{"GITHUB_TOKEN", "${env:GITHUB_TOKEN}"},
		{"GITHUB_TOKEN", "${input:github_token}"},
		{"GITHUB_TOKEN", "$GITHUB_TOKEN"},
		{"GITHUB_TOKEN", "%GITHUB_TOKEN%"},
		{"GITHUB_TOKEN", "{env:GITHUB_TOKEN}"},
		{"GITHUB_TOKEN", "${{ secrets.GITHUB_TOKEN }}"},
		{"Authorization", "Bearer ${TOKEN}"},
		{"Authorization", "Bearer ${env:API_TOKEN}"},
		{"Authorization", "Bearer $API_TOKEN"},
		{"Authorization", "token $GH_TOKEN"},
		{"API_KEY", "$(security find-generic-password -w -s api)"},
		{"url", "https://user:${DB_PASSWORD}@db.example.com/app"},
		// Bug: a ${VAR} password made net/url reject the URL, and the
		// failure was read as "not a placeholder".
		{"url", "https://user:${env:PASS}@db.example.com"},
		{"url", "https://user:$PASS@db.example.com"},
		{"url", "https://user@db.example.com"},
		{"url", "https://user:@db.example.com"},
		// Booleans, numbers, words.
		{"API_KEY_REQUIRED", "true"},
		{"AUTH_ENABLED", "false"},
		{"AUTH_MODE", "disabled"},
		{"AUTH_MODE", "optional"},
		{"AUTH_TIMEOUT", "30000000"},
		{"TOKEN_LIMIT", "1234567890"},
		{"AUTH_PROVIDER", "production"},
		{"SECRET", "changeme"},
		// Paths.
		{"PRIVATE_KEY_PATH", "/home/ann/.ssh/id_ed25519"},
		{"TOKEN_FILE", "~/secrets/token2.txt"},
		{"CREDENTIALS", "./keys/dev-2024.json"},
		{"CREDENTIALS", `C:\Users\ann\keys\dev2024.json`},
		{"CREDENTIALS", "D:/keys/dev2024.json"},
		// Plain URLs.
		{"AUTH_URL", "https://auth.example.com/oauth2/token"},
		{"TOKEN_ENDPOINT", "http://localhost:8080/token"},
		// Short values.
		{"API_KEY", "abc123"},
		{"PASSWORD", "pw12345"},
		{"PASSWORD", ""},
		// Opaque values under names that carry no credential.
		{"LOG_LEVEL", "debug123abc"},
		{"REGION", "ap-southeast-2"},
		{"", "abc123def456ghi789"},
		{"MODEL", "claude-sonnet-4-5-20250929"},
		// Words with spaces.
		{"AUTH_HINT", "use the keychain 2fa"},
	}
	for _, c := range cases {
		if m, ok := Detect(c.name, c.value); ok {
			t.Errorf("Detect(%q, %q) = %+v, want not a secret", c.name, c.value, m)
		}
	}
}

func TestIsPlaceholder(t *testing.T) {
	yes := []string{"${X}", "${env:X}", "${input:id}", "$X", "%X%", "{env:X}", "${{ secrets.X }}", "Bearer ${T}", "Bearer $T", "token $T", "$(cmd)", "prefix-${X}"}
	no := []string{"X", "$", "$1abc", "100%", "Bearer abc", "%not a var%", "abc$"}
	for _, v := range yes {
		if !isPlaceholder(v) {
			t.Errorf("isPlaceholder(%q) = false", v)
		}
	}
	for _, v := range no {
		if isPlaceholder(v) {
			t.Errorf("isPlaceholder(%q) = true", v)
		}
	}
}

func TestMaskSecretNeverReturnsSecret(t *testing.T) {
	for _, s := range secretSamples() {
		got := Mask(s.value)
		if want := s.keep + "****"; got != want && !(s.keep == "" && got == "****") {
			t.Errorf("Mask(%.30q) = %q, want %q", s.value, got, want)
		}
		if strings.Contains(got, s.value) || len(got) >= len(s.value) {
			t.Errorf("Mask(%.30q) = %q reveals the secret", s.value, got)
		}
	}
	for _, v := range []string{"hunter2hunter2", "a1b2c3d4e5f6g7h8", "", "x"} {
		if got := Mask(v); got != "****" {
			t.Errorf("Mask(%q) = %q, want ****", v, got)
		}
	}
	// A known format that does not start the value keeps nothing.
	if got := Mask("token=ghp_" + fake(36, alnum)); got != "****" {
		t.Errorf("Mask(embedded) = %q, want ****", got)
	}
}

func TestMaskURL(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	zap := "sk-ak-" + fake(32, alnum)
	cases := []struct{ in, want string }{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		{"https://user:s3cretpw@example.com/mcp", "https://user:****@example.com/mcp"},
		{"https://user:${PASS}@example.com/mcp", "https://user:${PASS}@example.com/mcp"},
		{"https://user@example.com/mcp", "https://user@example.com/mcp"},
		{"https://example.com/mcp?api_key=abc123def456&region=eu", "https://example.com/mcp?api_key=****&region=eu"},
		{"https://example.com/mcp?region=eu&token=${TOKEN}", "https://example.com/mcp?region=eu&token=${TOKEN}"},
		{"https://example.com/mcp?x=1&key=" + gh, "https://example.com/mcp?x=1&key=****"},
		{"http://127.0.0.1:3000/sse", "http://127.0.0.1:3000/sse"},
		{"not a url", "not a url"},
		// Bug: a password net/url rejects ("{", "}") made MaskURL return
		// the URL unchanged, password included.
		{"https://user:p{ss}w0rd12@example.com/mcp", "https://user:****@example.com/mcp"},
		// Bug: a query value with a bad escape was dropped by url.Query
		// before detection and the raw URL, secret included, returned.
		{"https://example.com/mcp?key=" + gh + "%zz", "https://example.com/mcp?key=****"},
		// Bug: tokens in the path (Zapier-style personal URLs) were kept.
		{"https://actions.zapier.com/mcp/" + zap + "/sse", "https://actions.zapier.com/mcp/sk-****/sse"},
		{"https://mcp.example.com/u/" + gh + "/mcp", "https://mcp.example.com/u/ghp_****/mcp"},
		{gh, "ghp_****"},
		// An @ inside the password: the host starts after the last @.
		{"https://user:p@ss@example.com/mcp", "https://user:****@example.com/mcp"},
	}
	for _, c := range cases {
		if got := MaskURL(c.in); got != c.want {
			t.Errorf("MaskURL(%q)\n got  %q\n want %q", c.in, got, c.want)
		}
	}
}

// TestMaskURLNeverReturnsSecret checks every secret sample placed in each
// part of a URL.
func TestMaskURLNeverReturnsSecret(t *testing.T) {
	for _, s := range secretSamples() {
		if s.kind == "credentials in URL" || s.kind == "private key" {
			continue
		}
		for _, u := range []string{
			"https://user:" + s.value + "@example.com/mcp",
			"https://example.com/mcp?api_key=" + s.value,
			"https://example.com/mcp?q=" + s.value,
			"https://example.com/" + s.value + "/sse",
			"https://example.com/mcp#" + s.value,
		} {
			if got := MaskURL(u); strings.Contains(got, s.value) {
				t.Errorf("MaskURL(%q) = %q keeps the secret", u, got)
			}
		}
	}
}

func TestAnchorSetHoldsEveryPattern(t *testing.T) {
	if n := len(secretPatterns()); n > 32 {
		t.Fatalf("%d secret patterns; anchorSet has 32 bits", n)
	}
}

// TestAnchorsInMatchesContains: the one-pass anchor search finds exactly
// the patterns whose anchors strings.Contains finds.
func TestAnchorsInMatchesContains(t *testing.T) {
	texts := []string{"", "plain words and SQL: SELECT * FROM t WHERE a = 'x'"}
	for _, s := range secretSamples() {
		texts = append(texts, s.value, "prefix "+s.value+" suffix", s.value[:len(s.value)/2])
	}
	for _, s := range texts {
		var want anchorSet
		for i, p := range secretPatterns() {
			if p.mayMatch(s) {
				want |= 1 << i
			}
		}
		if got := anchorsIn(s); got != want {
			t.Errorf("anchorsIn(%.40q) = %b, want %b", s, got, want)
		}
	}
}
