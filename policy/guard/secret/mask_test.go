package secret

import (
	"strings"
	"testing"
)

// TestMaskCommandLine: issue 12 item 8. A refused server's launch line was
// quoted unmasked in the client's error, stderr and the audit record; this
// is the masking they now share with scan's output. Each case names what
// must not survive and what must, so over-masking fails too.
func TestMaskCommandLine(t *testing.T) {
	gh := "ghp_" + fake(36, alnum)
	cases := []struct {
		name   string
		argv   []string
		want   string
		secret string
	}{
		{"URL password", []string{"psql", "postgresql://app:s3cret@db/x"},
			"psql postgresql://app:****@db/x", "s3cret"},
		{"URL password with @", []string{"psql", "postgresql://app:p@ss@db/x"},
			"psql postgresql://app:****@db/x", "p@ss"},
		{"URL token as user", []string{"git", "clone", "https://3f9c2b7a1e5d4c8b@git.example.com/r.git"},
			"git clone https://****@git.example.com/r.git", "3f9c2b7a1e5d4c8b"},
		{"URL query key", []string{"mcp-remote", "https://x.example.com/mcp?api_key=a1b2c3d4e5f6g7h8"},
			"mcp-remote https://x.example.com/mcp?api_key=****", "a1b2c3d4e5f6g7h8"},
		{"mysql -pSECRET", []string{"mysql", "-uroot", "-pSECRET", "shop"},
			"mysql -uroot -p**** shop", "SECRET"},
		{"--db-pass=", []string{"server", "--db-pass=hunter2"},
			"server --db-pass=****", "hunter2"},
		{"--password X", []string{"server", "--password", "hunter2", "--port", "5432"},
			"server --password **** --port 5432", "hunter2"},
		{"--token X short", []string{"server", "--token", "abc123"},
			"server --token ****", "abc123"},
		{"--api-key= known format", []string{"server", "--api-key=" + gh},
			"server --api-key=ghp_****", gh},
		{"-e KEY=secret", []string{"docker", "run", "-e", "DB_PASSWORD=hunter2", "img"},
			"docker run -e DB_PASSWORD=**** img", "hunter2"},
		{"env prefix", []string{"env", "PGPASSWORD=hunter2", "psql"},
			"env PGPASSWORD=**** psql", "hunter2"},
		{"passphrase with spaces", []string{"tool", "--password=correct horse battery"},
			"tool --password=****", "horse"},
		{"header bearer", []string{"mcp-remote", "https://x.example.com/mcp", "--header", "Authorization: Bearer abc123"},
			"mcp-remote https://x.example.com/mcp --header Authorization: Bearer ****", "abc123"},
		{"header key", []string{"-H", "X-Api-Key: abc123"},
			"-H X-Api-Key: ****", "abc123"},
		{"--header=", []string{"--header=Authorization: Bearer abc123"},
			"--header=Authorization: Bearer ****", "abc123"},
		{"bare known token", []string{"serve", gh},
			"serve ghp_****", gh},
		{"sh -c", []string{"sh", "-c", "PGPASSWORD=hunter2 psql postgresql://app:s3cret@db/x && mysql -pSECRET --password 'pw9' db"},
			"sh -c PGPASSWORD=**** psql postgresql://app:****@db/x && mysql -p**** --password '****' db", "s3cret"},
		{"placeholders kept", []string{"server", "--password", "${DB_PASS}", "--token=$TOKEN", "-e", "API_KEY=%KEY%", "--header", "Authorization: Bearer ${env:T}"},
			"server --password ${DB_PASS} --token=$TOKEN -e API_KEY=%KEY% --header Authorization: Bearer ${env:T}", ""},
		{"literal around a reference", []string{"server", "--password=s3cret${X}"},
			"server --password=****", "s3cret"},
		{"not secrets", []string{"npx", "-y", "@scope/server@1.2.3", "--token-file", "/run/secrets/token", "--auth-mode", "oauth", "-p8080", "-p", "3000:3000", "--port", "5432"},
			"npx -y @scope/server@1.2.3 --token-file /run/secrets/token --auth-mode oauth -p8080 -p 3000:3000 --port 5432", ""},
		{"Go-style flags", []string{"server", "-port=8080", "-profile", "dev", "-password=hunter2", "-token", "abc123"},
			"server -port=8080 -profile dev -password=**** -token ****", "hunter2"},
		{"mysql client: any -p value", []string{"mysqldump", "-pletmein", "-p=x", "db"},
			"mysqldump -p**** -p**** db", "letmein"},
		{"flag after a secret flag", []string{"server", "--token", "--verbose"},
			"server --token --verbose", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := MaskCommandLine(c.argv)
			if got != c.want {
				t.Errorf("MaskCommandLine(%q)\n got %q\nwant %q", c.argv, got, c.want)
			}
			if c.secret != "" && strings.Contains(got, c.secret) {
				t.Errorf("MaskCommandLine(%q) = %q keeps %q", c.argv, got, c.secret)
			}
		})
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
			got := Args(c.args)
			if len(got) != len(c.want) {
				t.Fatalf("Args(%q) = %v, want indexes %v", c.args, got, c.want)
			}
			for _, i := range c.want {
				if _, ok := got[i]; !ok {
					t.Errorf("Args(%q): index %d not flagged (got %v)", c.args, i, got)
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
		got := MaskArg(c.in)
		if got != c.want {
			t.Errorf("MaskArg(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, c.secret) {
			t.Errorf("MaskArg(%q) = %q keeps the secret", c.in, got)
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
		masked := MaskArgs(argv)
		for i := range Args(argv) {
			if masked[i] == argv[i] {
				t.Errorf("MaskArgs(%q): argument %d (%q) flagged as a secret but not masked", argv, i, argv[i])
			}
		}
	}
}
