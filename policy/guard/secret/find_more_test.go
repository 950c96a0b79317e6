package secret

import "testing"

// TestFindNewerForms covers token forms gitleaks' v8.30.1 table leaves out:
// GitLab's newer pipeline-trigger and CI-job tokens, Slack's legacy tokens
// with numeric parts of any length, and .npmrc registry credentials. The
// values are made up for this test.
func TestFindNewerForms(t *testing.T) {
	for _, tc := range []struct {
		in, rule, tok string
	}{
		{`token: "glptt-Qm8v_Xr2-kT9wZp4Lc7nHy3Bd6Fj1Vs5Ga0Ue8qR"`, RuleGitLab, "glptt-Qm8v_Xr2-kT9wZp4Lc7nHy3Bd6Fj1Vs5Ga0Ue8qR"},
		{"CI_JOB_TOKEN=glcbt-Rk7pWm2xTq9vLn4cZb8s", RuleGitLab, "glcbt-Rk7pWm2xTq9vLn4cZb8s"},
		{"slack: xoxp-738201-551902-884213-c04f9ab31d7e2c55a1", RuleSlack, "xoxp-738201-551902-884213-c04f9ab31d7e2c55a1"},
		{"//registry.npmjs.org/:_authToken=5f0c8e2a-91b7-11ee-a6f4-2c9d81b7e053", RuleNPM, ":_authToken=5f0c8e2a-91b7-11ee-a6f4-2c9d81b7e053"},
	} {
		fs := Find("", tc.in)
		ok := false
		for _, f := range fs {
			if f.Rule == tc.rule && tc.in[f.Start:f.End] == tc.tok {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%q: %+v, want %s over %q", tc.in, fs, tc.rule, tc.tok)
		}
	}
	for _, in := range []string{
		"//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
		"registry.npmjs.org/:_authToken=5f0c8e2a-91b7-11ee-a6f4-2c9d81b7e053", // not an .npmrc scope
		"glptt-short",
		"xoxp-1234-abc",
		"see the glcbt- prefix in GitLab's token docs",
	} {
		if fs := Find("", in); len(fs) > 0 {
			t.Errorf("%q: %+v, want nothing", in, fs)
		}
	}
}

// TestBareExpressionsAreCode: an unquoted value that is code (a call, an
// index, a composite literal, a conversion) is no credential; a bare
// random value is one, brackets or not, when its brackets do not nest as
// code's do. The values are made up for this test.
func TestBareExpressionsAreCode(t *testing.T) {
	for _, in := range []string{
		"var _ oauth2.TokenSource = (*staticTokenSrc)(nil)",
		"token := authHeader[len(bearerPrefix):]",
		"secret := make([]byte, params.SecretLen)",
		"password = os.Args[4]",
		"privateKeyOut := new(PrivateKey2)",
		"apiKeys: map[string]KeyConfig{",
		"password=${lines[2]}",
		"var TOKEN_RE = /^[!#$%&'*+.^_|~0-9A-Za-z-]+$/",
	} {
		for _, f := range Find("", in) {
			if f.Rule == RuleGeneric {
				t.Errorf("%q: generic secret over %q, want none (code)", in, in[f.Start:f.End])
			}
		}
	}
	for _, in := range []string{
		"API_TOKEN=Xk9(qZ]p2Lm7Rt4Vw8Bn3",
		"db_password = Qw7Zp2Lx9Tk4Vr8Bn3Mh",
	} {
		found := false
		for _, f := range Find("", in) {
			found = found || f.Rule == RuleGeneric
		}
		if !found {
			t.Errorf("%q: no generic secret", in)
		}
	}
}

// TestFindConfigForms covers credentials the issue lists outside JSON keys
// and connection strings: an Azure storage key assigned to a key-named
// variable, an XML element, an upper-case environment variable that glues
// a program's name to PASSWORD, and a command line's --password VALUE.
// The values are made up for this test.
func TestFindConfigForms(t *testing.T) {
	azure := "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ=="
	for _, tc := range []struct {
		in, rule, tok string
	}{
		{"AZURE_STORAGE_KEY=" + azure, RuleAzure, azure},
		{`storage_key: "` + azure + `"`, RuleAzure, azure},
		{"<password>Wq8zLp2vXr9k</password>", RuleGeneric, "Wq8zLp2vXr9k"},
		{"PGPASSWORD=Wq8zLp2vXr9k psql -h db", RuleGeneric, "Wq8zLp2vXr9k"},
		{"mysqldump --password Wq8zLp2vXr9k app", RuleGeneric, "Wq8zLp2vXr9k"},
		{"mysql -u root -pWq8zLp2vXr9k app", RuleGeneric, "Wq8zLp2vXr9k"},
		{"sshpass -p 'Wq8zLp2vXr9k' ssh deploy@host", RuleGeneric, "Wq8zLp2vXr9k"},
		// The forms a review found missed: padding, a ',' or '(' in a
		// flag's value, sshpass's attached -p, a tab before -p, blanks
		// around an element's text.
		// (The padded value is random bytes: base64 of words, such as
		// "secret-token-…", is a stand-in, see standin.go.)
		{"app --token jxxy5AmzXaYx/keQK8huFdJ6A5k= --verbose", RuleGeneric, "jxxy5AmzXaYx/keQK8huFdJ6A5k="},
		{"app --password Xk9vR2mQ,4tBw --verbose", RuleGeneric, "Xk9vR2mQ,4tBw"},
		{"app --password Xk9v(R2mQ4tBw --verbose", RuleGeneric, "Xk9v(R2mQ4tBw"},
		{"sshpass -pWq8zLp2vXr9k ssh deploy@host", RuleGeneric, "Wq8zLp2vXr9k"},
		{"mysql -u root\t-pWq8zLp2vXr9k app", RuleGeneric, "Wq8zLp2vXr9k"},
		{"<password> Wq8zLp2vXr9k </password>", RuleGeneric, "Wq8zLp2vXr9k"},
	} {
		fs := Find("", tc.in)
		ok := false
		for _, f := range fs {
			if f.Rule == tc.rule && tc.in[f.Start:f.End] == tc.tok {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%q: %+v, want %s over %q", tc.in, fs, tc.rule, tc.tok)
		}
	}
	for _, in := range []string{
		`"integrity": "sha512-` + azure + `"`,
		"checksum_key=" + azure,
		`"key": "` + azure + `"`,
		"<SubjectFromWebIdentityToken>subject-123</SubjectFromWebIdentityToken>",
		"docker service update --secret-add source=ssh-2,target=ssh-2 web",
		"usage: run [--help][--credential yes|no][--exportdir PATH]",
		azure,
		"<password></password>",
		"<password>${DB_PASSWORD}</password>",
		"BYPASSWORD=Wq8zLp2vXr9k",
		"app --password-file /run/secrets/pw",
		"app --password $DB_PASSWORD",
		"mysql -u root -p app",
		"mysql -u root -p$MYSQL_PWD app",
		"ssh -p 2222 deploy@host",
		"tar -pxf Wq8zLp2vXr9k.tar",
		"app --token a=b,c=d",
		"app --password (yes|no)",
		"sshpass -p ssh deploy@host",
		"mysql\t-p\tapp",
		"<password> two words </password>",
	} {
		if fs := Find("", in); len(fs) > 0 {
			t.Errorf("%q: %+v, want nothing", in, fs)
		}
	}
}

// TestFindSplitLiterals: a token split into string literals joined by +,
// PHP's . or Lua's .., or only by blanks, is found, over the literals and
// what joins them.
// The values are made up for this test.
func TestFindSplitLiterals(t *testing.T) {
	for _, tc := range []struct {
		in, rule, span string
	}{
		{`token = "ghp_" + "R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy"`, RuleGitHub, `ghp_" + "R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy`},
		{`$k = 'sk_live_' . '4eC39HqLyjWDarjtT1zdp7dcXy';`, RuleStripe, `sk_live_' . '4eC39HqLyjWDarjtT1zdp7dcXy`},
		{`const k = "AKIA"+"QX7Z2LMPW4RTY9KD";`, RuleAWS, `AKIA"+"QX7Z2LMPW4RTY9KD`},
		// A join across a line break, mixed quotes, Lua's .., adjacent
		// literals.
		{"token = \"ghp_\" +\n    \"R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy\"", RuleGitHub, "ghp_\" +\n    \"R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy"},
		{`token = "ghp_" + 'R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy'`, RuleGitHub, `ghp_" + 'R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy`},
		{`local t = "ghp_".."R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy"`, RuleGitHub, `ghp_".."R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy`},
		{`token = ("ghp_R7tYq2Lm9XvP4kZs" "8WdN3bHc6FjA1eUo0iGy")`, RuleGitHub, `ghp_R7tYq2Lm9XvP4kZs" "8WdN3bHc6FjA1eUo0iGy`},
	} {
		fs := Find("", tc.in)
		ok := false
		for _, f := range fs {
			if f.Rule == tc.rule && tc.in[f.Start:f.End] == tc.span {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%q: %+v, want %s over %q", tc.in, fs, tc.rule, tc.span)
		}
	}
	for _, in := range []string{
		`greeting = "hello" + "world"`,
		`x = obj.name + "ghp_"`,
		`"ghp_".length + "R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy".length`,
		`"ghp_""R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy"`,
		`"ghp_".R7tYq2Lm9XvP4kZs8WdN3bHc6FjA1eUo0iGy"`,
	} {
		if fs := Find("", in); len(fs) > 0 {
			t.Errorf("%q: %+v, want nothing", in, fs)
		}
	}
}
