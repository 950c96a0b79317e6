package secret

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestNotCredentialClasses covers the classes of false positives the
// over-firing check found in real files (standin.go), each in lines
// written for this test, beside a twin in the same syntax that holds a
// random value and stays a finding.
func TestNotCredentialClasses(t *testing.T) {
	clean := map[string]string{
		// public values
		"url":           `TokenEndpoint: "https://auth.example.test/oauth2/token",`,
		"url tenant":    `token_url = "https://login.example.test/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"`,
		"url repo":      `secret_docs = "https://github.com/acme/SecretsManager2024/blob/main/README.md"`,
		"urn":           `LockToken: "urn:uuid:6f1c1a52-0b1e-4c2f-9d55-1b8d3a0c7e21"`,
		"module path":   `credentials.Module = "example.test/acme/credential-helper/login"`,
		"aws scope":     `Credential=AKIDEXAMPLE/20250102/eu-west-1/s3/aws4_request`,
		"key suffix":    `AuthIssuer: "acme-issuer-7", tokenScope: "read:all write:own"`,
		"shell pwd":     `env = ["HOME=/root", "PWD=/srv/app/releases/2024"]`,
		"authz key":     `authzPolicyFile: policies/authz-7.rego`,
		"authentic":     `x_authenticated_user_id = 8c1f0a9e41b7d2`,
		"query mech":    `mongodb://db.example.test/?authMechanism=SCRAM-SHA-256&authSource=admin`,
		"auth user":     `file:app.db?_auth&_auth_user=operator7&_auth_pass=operator7`,
		"badge token":   `![cov](https://codecov.io/gh/acme/tool/graph/badge.svg?token=Q7xR2mK9pL)`,
		"shell deflt":   `export ENABLE_AUTH_PLUGIN="${ENABLE_AUTH_PLUGIN:-false}"`,
		"ps env var":    `[string]$ApiToken = $env:BUILD_API_TOKEN`,
		"shell var":     `curl -H "X-Api-Key: $api_key_value" https://example.test`,
		"printf":        `t.Fatalf("refreshToken mismatch:\n%s", diff)`,
		"printf 2":      `return fmt.Errorf("secret lookup: %v (attempt %d)", err, n)`,
		"regex":         `tokenPattern = "tok_[a-z0-9]{24}"`,
		"template":      `bearer_token = f"{prefix}.{body}.{mac}"`,
		"template 2":    `api_key: "{{.Values.apiKey}}"`,
		"options":       `cmd.Flags().Set("secret-mount", "id=cache,target=/run/cache")`,
		"field list":    `// entry format: login:passwd:uid:gid:gecos:home`,
		"json value":    "idToken: `{\"sub\":\"u-17\",\"aud\":\"svc\"}`",
		"json array":    `"security":[{"oauth_auth":["read:items","write:items"]}],"get":{}`,
		"json null":     `{"ServiceAccountToken":null,"Host":"n1"}`,
		"comma form":    `req.Header.Set("X-Session-Token", sess.tokenValue)`,
		"comma form 2":  `viper.Set("db.password", loadedPassword)`,
		"code closers":  `cfg := Client{PrivateKey: rsaTestKey2048}`,
		"code call":     `return &bundle{transportCredentials: credentials.NewTLS(&tls.Config{})}, nil`,
		"code index":    `keyring.Add(Key{PrivateKey: fixtures["ed25519"]})`,
		"quoted brace":  `next = item{Token: lexer.Delim('[')}`,
		"deref":         `if *apiToken1 == *apiToken2 {`,
		"negation":      `if (!sessionId || !apiKey || !requestId2) {`,
		"named var":     `signer.privateKey = p256TestPrivateKey`,
		"pkg member":    `AuthHandle: tpm2.TPMRHEndorsement,`,
		"json cut":      "idToken: `{\"iss\":\"https://id.example.test\",\"exp\":` + strconv.Itoa(n) + `}`,",
		"option nums":   `flags.Set("secret-add", "source=cfg,target=cfg2")`,
		"regex class":   "tokenRe := regexp.MustCompile(`(token=x[a-z.]+)-[0-9A-Za-z-]+`)",
		"regex class 2": `const TOKEN_CHARS = "[A-Za-z0-9._~+/-]+=*";`,
		"regex humps":   `"PASS: run_test\\.go:[0-9]+: StreamHelper\\.SetUpSuite\n0\n" +`,
		"f-string nums": `jwt_token = f"{header_b64}.{payload_b64}.{sig_b64}"`,
		"escaped pw":    `uri: "mongodb://user%21%40:pass%21%40%23%24%25%5E%26%2A%28%29_%2B@localhost/?authSource=admin"`,
		// stand-ins
		"leet":            `clientSecret: s3cr3tV4lu3!`,
		"leet 2":          `db_password = "Pa55w0rd#2024"`,
		"default pw":      `ADMIN_PASSWORD=welcome123`,
		"symbols":         `password: "root!@#$%^&*()"`,
		"user again":      `amqp://rabbit:rabbit@mq.internal:5672/`,
		"user again enc":  `postgres://app:app%21@db:5432/app`,
		"common pw url":   `redis://:qwerty9@cache:6379/0`,
		"metasyntactic":   `smtp://foo:bar@mail.example.test:25`,
		"words only":      `Authorization: Bearer local-dev-token`,
		"malformed":       `GITHUB_TOKEN: "ghp_fake42"`,
		"base64 sentence": `accessToken: "bm90IGEgcmVhbCB0b2tlbiBhdCBhbGw="`,
		"base64 json":     `https://api.example.test/items?next_token=eyJwYWdlIjozLCJzaXplIjo1MH0&limit=50`,
		"base64 pair":     `"auth": "YWxpY2U6cGFzc3dvcmQx"`,
		"base64 mash":     `token: "YXNkZmFzZGZqa2xqa2xhc2RmamtsYXNk"`,
		"jwt words":       `"secret": "header.eyJzdWIiOiJ4In0.signature"`,
	}
	for name, in := range clean {
		for _, f := range Find("", in) {
			t.Errorf("%s: %q: %s over %q, want none", name, in, f.Rule, in[f.Start:f.End])
		}
	}
	found := map[string]string{
		"quoted random":   `token_secret: "Qm7vX2pL9rT4wZ8kN3bH6c"`,
		"bare random":     `client_secret: Rk82mWq7ZtLx4Pn9Vb3Y`,
		"comma quoted":    `os.environ.setdefault("API_TOKEN", "Vt7Kq2Zx9Lm4Rw8Pn3Bc")`,
		"query random":    `https://api.example.test/v1/items?token=Zq8Lm2Xk7Rv4Tw9Pn3&page=2`,
		"json random":     `{"refresh_token":"Rq7Zt2Lx9Vm4Kw8Pn3Bh"}`,
		"bare dotted":     `token: n8x2qa.7tq1zmw4kx9r0vbp`,
		"url random pw":   `postgres://app:Zr8kLm2Qx7Tv4Wp9@db:5432/app`,
		"base64 of rnd":   `"auth": "YWxpY2U6WHI3a0xtMlF4N1R2NFdwOQ=="`,
		"header random":   `Authorization: Bearer 8Kq2Zr7LmX4tVw9Pn3Bh6c`,
		"dotted var digs": `password = Xk7.Rm2Qz9Lt4Vw`,
		"capability url":  `webhook_secret = "https://hooks.zapier.com/hooks/catch/123456/Kx7mQ9vL2pR8sT4wAb3/"`,
	}
	for name, in := range found {
		if len(Find("", in)) == 0 {
			t.Errorf("%s: %q: no finding", name, in)
		}
	}
}

// TestStandInHelpers checks the helpers on values at their edges.
func TestStandInHelpers(t *testing.T) {
	for _, tc := range []struct {
		v    string
		f    func(string) bool
		want bool
	}{
		{"p@ssw0rd", commonPassword, true},
		{"Adm1n2024", commonPassword, true},
		{"Tq7Zm2Lx9", commonPassword, false},
		{"foo-bar_baz", metasyntactic, true},
		{"food-bark", metasyntactic, false},
		{"staging-deploy-key", wordsOnly, true},
		{"deploy-key-2", wordsOnly, false},
		{"supercalifragilistic-x", wordsOnly, false},
		{"ghp_short", malformedToken, true},
		{"ghp_" + "Zr8kLm2Qx7Tv4Wp9Xc3Bn6Hd1Fg5Js0Ka", malformedToken, false},
		{"/usr/local/share/app", pathLike, true},
		{"Y8Af/l7Id4uocLXx+VTx", pathLike, false},
		{"3/4", pathLike, false},
		{"source=a,target=b", optionList, true},
		{"dGVzdA==", optionList, false},
		{"Q2l:Xk9:mm", fieldList, false},
		{"uid:gid:shell", fieldList, true},
		{"{host}:{port}", template, true},
		{"a{b}c{d}efgh", template, false},
	} {
		if got := tc.f(tc.v); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestKeyedValueStandIns: a value under a credential-named JSON key is
// judged by the same classes; a random one stays a finding. The values
// are made up for this test.
func TestKeyedValueStandIns(t *testing.T) {
	for key, v := range map[string]string{
		"password":      "Welc0me!2024",
		"client_secret": "https://id.example.test/secret-store",
		"api_token":     "{{ .Values.apiToken }}x",
		"db_password":   "c2VjcmV0IHBhc3N3b3JkIGhlcmU=",
	} {
		if fs := Find(key, v); len(fs) > 0 {
			t.Errorf("Find(%q, %q) = %+v, want none", key, v, fs)
		}
	}
	if fs := Find("password", "Zr8kLm2Qx7Tv4Wp9"); len(fs) == 0 {
		t.Error("a random password under a password key: no finding")
	}
}

// TestStandInsAreNotSecrets: values a person does use as a credential
// are no stand-in, whatever word, mark or encoding they hold: passphrases
// of words (Bitwarden's generator and diceware make these), base64 of a
// passphrase or of an account's JSON (a Kubernetes Secret's data), a
// password that starts with "pass", a random value that holds a format
// mark, a common word with a random part. The values are made up for
// this test.
func TestStandInsAreNotSecrets(t *testing.T) {
	for name, v := range map[string]string{
		"bitwarden passphrase":       `correct-horse-battery-staple`,
		"diceware passphrase":        `unsaid-flatly-rebound`,
		"passphrase one known word":  `admin-walrus-quiver`,
		"base64 passphrase":          `Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==`,
		"base64 sentence passphrase": `TWFuZ28gbGFudGVybiA3IGRyaWZ0cyBub3J0aA==`,
		"base64 service account":     `eyJ0eXBlIjoic2VydmljZV9hY2NvdW50IiwicHJvamVjdF9pZCI6InAtMSIsInByaXZhdGVfa2V5X2lkIjoiYTFiMiJ9`,
		"base64 credentials json":    `eyJ1c2VyIjoic3ZjIiwicHciOiJYcjdrTG0yUXg3VHY0In0=`,
		"base64 quoted":              `IlhyN2tMbTJReDdUdjQi`,
		"base64 pass prefix":         `ZGVwbG95OnBhc3NXOXghUXo3TG0=`,
		"base64 pass word":           `ZGVwbG95OlBhc3Nwb3J0LVF6N0xtOXg=`,
		"format mark .*":             `Xk9.*mP2qLw7`,
		"format mark %d":             `Qm7%dRt2Zp9w`,
		"format mark tab":            `OpjUsiFedR!f\tMEs.pg`,
		"format mark .+":             `r8T.+Lq2vZm9Wx`,
		"format mark %s":             `k2P%sQx9mLw3Zt`,
		"format mark \\s":            `Hv4\sPq8Nz2Lk`,
		"format mark \\n":            `Wq3\nRt7Yu2Io`,
		"metasyntactic digits":       `foo83920174829301`,
		"leet password random":       `Pa55w0rd-Pr0d-9fKx`,
		"leet secret random":         `S3cr3t_9fKxQ2mL`,
	} {
		if len(Find("password", v)) == 0 {
			t.Errorf("%s: Find(password, %q): no finding", name, v)
		}
		if strings.Trim(v, "abcdefghijklmnopqrstuvwxyz-") == "" {
			continue // the assignment rule takes no value of one class of characters, stand-in or not
		}
		if in := `DB_PASSWORD="` + v + `"`; len(Find("", in)) == 0 {
			t.Errorf("%s: %q: no finding", name, in)
		}
	}
	for name, in := range map[string]string{
		"authentication token": `AUTHENTICATION_TOKEN="a8Fk29xLq0Zp4Rt7Vb3N"`,
		"authenticator secret": `authenticator_secret: "Qm7vX2pL9rT4wZ8kN3bH6c"`,
		"authz api key":        `AUTHZ_API_KEY=Rk82mWq7ZtLx4Pn9Vb3Y`,
		"format mark key":      `login_password: Xk9.*mP2qLw7`,
		"metasyntactic key":    `ADMIN_SECRET=foo83920174829301`,
		"pass prefix url":      `postgres://app:passW9x!Qz7@db:5432/app`,
		"pass word url":        `redis://deploy:Passport-Qz7Lm9x@cache:6379/0`,
		"passphrase url":       `amqp://svc:correct-horse-battery-staple@mq:5672/`,
	} {
		if len(Find("", in)) == 0 {
			t.Errorf("%s: %q: no finding", name, in)
		}
	}
}

// TestRandomPasswordsAreNotStandIns: random printable passwords are
// almost never read as a stand-in or as text that is not a value (the
// format marks alone passed about 2 % of them).
func TestRandomPasswordsAreNotStandIns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 100000
	passed := 0
	var first []string
	for range n {
		b := make([]byte, 12+r.IntN(21))
		for i := range b {
			b[i] = byte(0x21 + r.IntN(94))
		}
		if v := string(b); notCredential(v) {
			passed++
			if len(first) < 5 {
				first = append(first, v)
			}
		}
	}
	if passed > n/10000 {
		t.Errorf("%d of %d random passwords are stand-ins (want at most %d), e.g. %q", passed, n, n/10000, first)
	}
	t.Logf("%d of %d random passwords read as stand-ins: %q", passed, n, first)
}
