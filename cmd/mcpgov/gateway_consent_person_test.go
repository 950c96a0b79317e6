//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

var dexLoginForm = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*/auth/local/login[^"]*)"`)

// openAs plays person (a Dex user) opening link in a fresh browser: each
// Dex sign-in form on the way is filled in as them, redirects and cookies
// are followed. It returns where the browser ended, its status and page.
func openAs(ctx context.Context, link, person string) (int, string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	do := func(method, u string, form url.Values) (int, string, *url.URL, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return 0, "", nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Request.URL, err
	}
	status, page, at, err := do(http.MethodGet, link, nil)
	for signins := 0; err == nil && signins < 3; signins++ {
		m := dexLoginForm.FindStringSubmatch(page)
		if m == nil {
			break
		}
		action, perr := at.Parse(html.UnescapeString(m[1]))
		if perr != nil {
			return 0, "", perr
		}
		status, page, at, err = do(http.MethodPost, action.String(), url.Values{"login": {person}, "password": {oauthusertest.Password}})
	}
	return status, page, err
}

// authorizationURLOf signs person in through link's start endpoint and
// returns where the gateway's sign-in endpoint then sends the browser
// (the upstream's authorization server), without going there.
func authorizationURLOf(ctx context.Context, link, person string) (string, error) {
	jar, _ := cookiejar.New(nil)
	var target string
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if via[len(via)-1].URL.Path == "/oauth/signin" {
			target = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := dexLoginForm.FindStringSubmatch(string(page))
	if m == nil {
		return "", fmt.Errorf("no sign-in form at %s", resp.Request.URL)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", err
	}
	resp, err = c.PostForm(action.String(), url.Values{"login": {person}, "password": {oauthusertest.Password}})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if target == "" {
		return "", fmt.Errorf("the sign-in ended at %s (%s), not at a redirect", resp.Request.URL, resp.Status)
	}
	return target, nil
}

// TestGatewayConsentPerson: with [gateway] consent_issuer set (Dex, which
// is also the upstream's authorization server), a consent link leads to
// the gateway's start endpoint, which signs the browser in first. Alice's
// link opened by Bob is refused with a page saying it is someone else's,
// a consent_failed other_user record, and the link burnt; nothing is
// granted. Alice's next link, opened by Alice, grants, and her call
// carries her own token.
func TestGatewayConsentPerson(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	d := oauthusertest.StartDexFrom(t, "testdata/idp/consent.yaml", map[string]string{
		"REDIRECT": base + "/oauth/callback", "SIGNIN": base + "/oauth/signin", "TOKEN_EXPIRY": "10m"})
	upstream := oauthusertest.StartBearerServer(t, d.Issuer, oauthusertest.ClientID)
	gov := t.TempDir()
	writeFile(t, filepath.Join(gov, "catalog.toml"), fmt.Sprintf(`[catalog]
mode = "enforce"
[servers.notes]
status = "approved"
[servers.notes.launch]
url = %q
[servers.notes.auth]
type = "oauth_user"
issuer = %q
client_id = %q
client_secret = "env:NOTES_CLIENT_SECRET"
scopes = ["openid", "email", "offline_access"]
`, upstream, d.Issuer, oauthusertest.ClientID))
	auditDir := filepath.Join(t.TempDir(), "audit")
	env := sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+vault.NewKey(),
		"NOTES_CLIENT_SECRET="+oauthusertest.ClientSecret)
	configDir := filepath.Join(envValue(env, "XDG_CONFIG_HOME"), "mcpgov")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(configDir, "config.toml"), fmt.Sprintf("[gateway]\nconsent_issuer = %q\nconsent_client_id = %q\nconsent_client_secret = \"env:NOTES_CLIENT_SECRET\"\n",
		d.Issuer, oauthusertest.ClientID))
	mcpgov := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("mcpgov", args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mcpgov %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	var issued struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(mcpgov("gateway", "token", "create", "--user", "alice@example.com", "--expires", "1d", "--json")), &issued); err != nil {
		t.Fatal(err)
	}
	_, stderr := serveGatewayAt(t, addr, env, "--bundle", gov)
	// The note may follow the gateway's readiness on stderr: wait for it.
	await.Until(t, "the gateway saying consents are checked (people sign in at the IdP first)", func() bool {
		return strings.Contains(stderr(), "people sign in at "+d.Issuer+" first")
	})
	url := base + "/servers/notes/mcp"
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`
	link := func() string {
		t.Helper()
		_, answer, _ := authPost(t, url, issued.Token, initialize)
		var refused struct {
			Error struct {
				Code int `json:"code"`
				Data struct {
					Elicitations []struct{ URL string } `json:"elicitations"`
				} `json:"data"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(sseData(answer)), &refused); err != nil || refused.Error.Code != -32042 || len(refused.Error.Data.Elicitations) != 1 {
			t.Fatalf("alice's initialize without consent: %s\ngateway:\n%s", answer, stderr())
		}
		l := refused.Error.Data.Elicitations[0].URL
		if !strings.HasPrefix(l, base+"/oauth/start?state=") {
			t.Fatalf("the consent link does not lead to the gateway's start endpoint: %.60s…", l)
		}
		return l
	}

	// Bob opens alice's link: refused once he has signed in as bob.
	aliceLink := link()
	status, page, err := openAs(await.Context(t), aliceLink, "bob@example.com")
	if err != nil || status != http.StatusForbidden || !strings.Contains(page, "This consent link is for someone else") || !strings.Contains(page, "bob@example.com") {
		t.Fatalf("alice's link opened by bob: %d %v\n%s\ngateway:\n%s", status, err, page, stderr())
	}
	records := mcpgov("audit", "query", "--format", "jsonl")
	if !strings.Contains(records, `"outcome":"consent_failed"`) || !strings.Contains(records, "other_user") {
		t.Errorf("no consent_failed other_user record:\n%s", records)
	}
	for _, r := range strings.Split(records, "\n") {
		if strings.Contains(r, `"server":{"id":"notes"}`) && strings.Contains(r, `"outcome":"grant"`) {
			t.Fatalf("bob's sign-in granted notes: %s", r)
		}
	}
	// The link is burnt: alice opening it now is told it is no longer valid.
	if status, page, _ := openAs(await.Context(t), aliceLink, "alice@example.com"); status != http.StatusBadRequest || !strings.Contains(page, "no longer valid") {
		t.Errorf("the link bob opened, opened again: %d\n%s", status, page)
	}

	// The authorization server's page itself, as alice's signed-in
	// browser was sent to it, opened in another browser (no cookie of
	// the sign-in): the redirect endpoint refuses to take the code, and
	// says this browser did not sign in (not that it is someone else).
	asURL, err := authorizationURLOf(await.Context(t), link(), "alice@example.com")
	if err != nil || !strings.HasPrefix(asURL, d.Issuer+"/auth?") {
		t.Fatalf("alice's sign-in did not lead to the authorization server: %v", err)
	}
	if status, page, err := openAs(await.Context(t), asURL, "alice@example.com"); err != nil || status != http.StatusForbidden || !strings.Contains(page, "did not sign in for this consent") {
		t.Fatalf("the authorization server's page opened without the sign-in's cookie: %d %v\n%s", status, err, page)
	}

	// Alice's own new link, opened by alice: granted.
	status, page, err = openAs(await.Context(t), link(), "alice@example.com")
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("alice's link opened by alice: %d %v\n%s\ngateway:\n%s", status, err, page, stderr())
	}
	status, answer, hdr := authPost(t, url, issued.Token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize after alice's consent: %d %s\ngateway:\n%s", status, answer, stderr())
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+issued.Token)
	req.Header.Set("Mcp-Session-Id", hdr.Get("Mcp-Session-Id"))
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "alice@example.com") {
		t.Errorf("whoami after alice's consent: %s\ngateway:\n%s", b, stderr())
	}
}

// TestGatewayConsentPersonReplicas: two replicas on one real Redis, the
// public URL replica B's. Alice's link, made on A, is opened on A (its
// start endpoint sets the sign-in cookie); the identity provider sends
// the browser back to B, which takes the cookie A signed (the key is in
// the shared vault) and the consent A keeps in the shared store; alice
// consents and her call on A carries her token. Without the shared key B
// would refuse the sign-in.
func TestGatewayConsentPersonReplicas(t *testing.T) {
	redis := statetest.Start(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	publicURL := "http://" + addrB
	d := oauthusertest.StartDexFrom(t, "testdata/idp/consent.yaml", map[string]string{
		"REDIRECT": publicURL + "/oauth/callback", "SIGNIN": publicURL + "/oauth/signin", "TOKEN_EXPIRY": "10m"})
	upstream := oauthusertest.StartBearerServer(t, d.Issuer, oauthusertest.ClientID)
	gov := t.TempDir()
	writeFile(t, filepath.Join(gov, "catalog.toml"), fmt.Sprintf(`[catalog]
mode = "enforce"
[servers.notes]
status = "approved"
[servers.notes.launch]
url = %q
[servers.notes.auth]
type = "oauth_user"
issuer = %q
client_id = %q
client_secret = "env:NOTES_CLIENT_SECRET"
scopes = ["openid", "email", "offline_access"]
`, upstream, d.Issuer, oauthusertest.ClientID))
	env := sandboxEnv(t, "MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY="+vault.NewKey(), "NOTES_CLIENT_SECRET="+oauthusertest.ClientSecret)
	configDir := filepath.Join(envValue(env, "XDG_CONFIG_HOME"), "mcpgov")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(configDir, "config.toml"), fmt.Sprintf("[gateway]\nstore = %q\nconsent_issuer = %q\nconsent_client_id = %q\nconsent_client_secret = \"env:NOTES_CLIENT_SECRET\"\n",
		redis.URL(), d.Issuer, oauthusertest.ClientID))
	cmd := exec.Command("mcpgov", "gateway", "token", "create", "--user", "alice@example.com", "--expires", "1d", "--json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var issued struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &issued); err != nil {
		t.Fatal(err)
	}
	_, logA := serveGatewayAt(t, addrA, env, "--bundle", gov, "--public-url", publicURL)
	_, logB := serveGatewayAt(t, addrB, env, "--bundle", gov, "--public-url", publicURL)
	onA := "http://" + addrA + "/servers/notes/mcp"
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`
	_, answer, _ := authPost(t, onA, issued.Token, initialize)
	var refused struct {
		Error struct {
			Data struct {
				Elicitations []struct{ URL string } `json:"elicitations"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(sseData(answer)), &refused); err != nil || len(refused.Error.Data.Elicitations) != 1 {
		t.Fatalf("alice's initialize on A: %s\nA:\n%s", answer, logA())
	}
	link, ok := strings.CutPrefix(refused.Error.Data.Elicitations[0].URL, publicURL+"/oauth/start?")
	if !ok {
		t.Fatalf("the link does not lead to the start endpoint at the public URL")
	}
	status, page, err := openAs(await.Context(t), "http://"+addrA+"/oauth/start?"+link, "alice@example.com")
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("alice's link started on A, signed in and consented on B: %d %v\n%s\nA:\n%s\nB:\n%s", status, err, page, logA(), logB())
	}
	if status, answer, _ := authPost(t, onA, issued.Token, initialize); status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize on A after the consent on B: %d %s\nA:\n%s", status, answer, logA())
	}
}
