//go:build unix

package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

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
	m := oauthusertest.LoginForm.FindStringSubmatch(string(page))
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

// consentPersonConfig writes env's mcpgov config: people sign in at d
// before they consent (consent_issuer, with notes's client), then more.
func consentPersonConfig(t *testing.T, env []string, d *dex, more string) {
	t.Helper()
	writeUserConfig(t, env, fmt.Sprintf("[gateway]\nconsent_issuer = %q\nconsent_client_id = %q\nconsent_client_secret = \"env:NOTES_CLIENT_SECRET\"\n%s",
		d.Issuer, oauthusertest.ClientID, more))
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
	d := consentDex(t, base)
	gov := notesBundle(t, d)
	auditDir := filepath.Join(t.TempDir(), "audit")
	env := oauthUserEnv(t, "MCPGOV_AUDIT_DIR="+auditDir)
	consentPersonConfig(t, env, d, "")
	mcpgov := func(args ...string) string { t.Helper(); return runMcpgov(t, env, args...) }
	token := gatewayToken(t, env, "alice@example.com")
	_, stderr := serveGatewayAt(t, addr, env, "--bundle", gov)
	// The note may follow the gateway's readiness on stderr: wait for it.
	await.Until(t, "the gateway saying consents are checked (people sign in at the IdP first)", func() bool {
		return strings.Contains(stderr(), "people sign in at "+d.Issuer+" first")
	})
	url := base + "/servers/notes/mcp"
	link := func() string {
		t.Helper()
		_, answer, _ := authPost(t, url, token, initializeURLElicitation)
		e, err := consentElicitation(answer)
		if err != nil {
			t.Fatalf("alice's initialize without consent: %v: %s\ngateway:\n%s", err, answer, stderr())
		}
		l := e.URL
		if !strings.HasPrefix(l, base+"/oauth/start?state=") {
			t.Fatalf("the consent link does not lead to the gateway's start endpoint: %.60s…", l)
		}
		return l
	}

	// Bob opens alice's link: refused once he has signed in as bob.
	aliceLink := link()
	status, page, err := oauthusertest.OpenAs(await.Context(t), aliceLink, "bob@example.com")
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
	if status, page, _ := oauthusertest.OpenAs(await.Context(t), aliceLink, "alice@example.com"); status != http.StatusBadRequest || !strings.Contains(page, "no longer valid") {
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
	if status, page, err := oauthusertest.OpenAs(await.Context(t), asURL, "alice@example.com"); err != nil || status != http.StatusForbidden || !strings.Contains(page, "did not sign in for this consent") {
		t.Fatalf("the authorization server's page opened without the sign-in's cookie: %d %v\n%s", status, err, page)
	}

	// Alice's own new link, opened by alice: granted.
	status, page, err = oauthusertest.OpenAs(await.Context(t), link(), "alice@example.com")
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("alice's link opened by alice: %d %v\n%s\ngateway:\n%s", status, err, page, stderr())
	}
	status, answer, hdr := authPost(t, url, token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize after alice's consent: %d %s\ngateway:\n%s", status, answer, stderr())
	}
	whoami := bearerPost(t, url, token, hdr.Get("Mcp-Session-Id"), "application/json, text/event-stream", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	if !strings.Contains(whoami, "alice@example.com") {
		t.Errorf("whoami after alice's consent: %s\ngateway:\n%s", whoami, stderr())
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
	d := consentDex(t, publicURL)
	gov := notesBundle(t, d)
	env := oauthUserEnv(t)
	consentPersonConfig(t, env, d, fmt.Sprintf("store = %q\n", redis.URL()))
	token := gatewayToken(t, env, "alice@example.com")
	_, logA := serveGatewayAt(t, addrA, env, "--bundle", gov, "--public-url", publicURL)
	_, logB := serveGatewayAt(t, addrB, env, "--bundle", gov, "--public-url", publicURL)
	onA := "http://" + addrA + "/servers/notes/mcp"
	_, answer, _ := authPost(t, onA, token, initializeURLElicitation)
	e, err := consentElicitation(answer)
	if err != nil {
		t.Fatalf("alice's initialize on A: %v: %s\nA:\n%s", err, answer, logA())
	}
	link, ok := strings.CutPrefix(e.URL, publicURL+"/oauth/start?")
	if !ok {
		t.Fatalf("the link does not lead to the start endpoint at the public URL")
	}
	status, page, err := oauthusertest.OpenAs(await.Context(t), "http://"+addrA+"/oauth/start?"+link, "alice@example.com")
	if err != nil || status != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("alice's link started on A, signed in and consented on B: %d %v\n%s\nA:\n%s\nB:\n%s", status, err, page, logA(), logB())
	}
	if status, answer, _ := authPost(t, onA, token, initializeURLElicitation); status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize on A after the consent on B: %d %s\nA:\n%s", status, answer, logA())
	}
}
