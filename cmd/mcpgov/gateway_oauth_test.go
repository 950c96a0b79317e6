//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayOAuthUserConsent: a catalog server that takes each person's
// own OAuth token (auth type oauth_user, Dex as its authorization server,
// a Go SDK server that requires Dex's bearer tokens). A person's first
// initialize through the gateway is answered with a URL-mode elicitation
// (-32042) carrying the consent link, or, for a client without URL
// elicitation, an error whose text carries it; after consenting in the
// browser (Dex's login form, then the gateway's /oauth/callback), the
// initialize and the tool call work with the person's own token. The
// vault holds the grant encrypted, no token is in any record, and the
// grant is recorded.
func TestGatewayOAuthUserConsent(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	d := oauthusertest.StartDex(t, base+"/oauth/callback")
	gov := notesBundle(t, d, "-introspect")
	auditDir := filepath.Join(t.TempDir(), "audit")
	env := oauthUserEnv(t, "MCPGOV_AUDIT_DIR="+auditDir)
	token := gatewayToken(t, env, "alice@example.com")
	_, stderr := serveGatewayAt(t, addr, env, "--bundle", gov)
	url := base + "/servers/notes/mcp"
	initWith := func(caps string) (int, string) {
		body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":` + caps + `,"clientInfo":{"name":"t","version":"1"}}}`
		status, answer, _ := authPost(t, url, token, body)
		return status, answer
	}

	// A client without URL elicitation: the consent link in the error.
	status, answer := initWith(`{}`)
	if status != 200 || !strings.Contains(answer, `"error"`) || !strings.Contains(answer, "needs your permission to call notes") || !strings.Contains(answer, d.Issuer) {
		t.Fatalf("initialize without consent, no URL elicitation: %d %s", status, answer)
	}
	// A client with URL elicitation: -32042 with the elicitation.
	status, answer = initWith(`{"elicitation":{"url":{}}}`)
	elicitation, err := consentElicitation(answer)
	if err != nil || elicitation.Mode != "url" || !strings.HasPrefix(elicitation.URL, d.Issuer) {
		t.Fatalf("initialize without consent, URL elicitation: %d %s (%v)", status, answer, err)
	}

	// The person consents in the browser; the gateway's callback stores
	// the grant.
	code, page, err := oauthusertest.Consent(await.Context(t), elicitation.URL)
	if err != nil || code != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s\ngateway:\n%s", code, err, page, stderr())
	}

	// Now the initialize and the call go through with alice's own token.
	status, answer, hdr := authPost(t, url, token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize after consent: %d %s\ngateway:\n%s", status, answer, stderr())
	}
	post := func(body string) string {
		t.Helper()
		return bearerPost(t, url, token, sid, "application/json", body)
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`); !strings.Contains(got, "alice@example.com") {
		t.Errorf("whoami through the gateway with alice's grant: %s", got)
	}

	// Mid-session, every token Dex issued stops working (a restart: new
	// keys, grants gone). The next call is refused upstream (401), the
	// refresh is refused too, so the call is answered with a new consent
	// link (a tool error: this client has no URL elicitation), not a bare
	// failure; after the consent the same session's call works again.
	d.Restart(t)
	revoked := post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	var toolErr struct {
		Result struct {
			IsError bool                    `json:"isError"`
			Content []struct{ Text string } `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(sseData(revoked)), &toolErr); err != nil || !toolErr.Result.IsError || len(toolErr.Result.Content) != 1 ||
		!strings.Contains(toolErr.Result.Content[0].Text, "needs your permission to call notes") {
		t.Fatalf("the call after the grant was revoked: %s\ngateway:\n%s", revoked, stderr())
	}
	link := consentLinkIn(toolErr.Result.Content[0].Text)
	if !strings.HasPrefix(link, d.Issuer+"/auth?") {
		t.Fatalf("no consent link in %q", toolErr.Result.Content[0].Text)
	}
	if code, page, err := oauthusertest.Consent(await.Context(t), link); err != nil || code != http.StatusOK {
		t.Fatalf("consent again: %d %v\n%s\ngateway:\n%s", code, err, page, stderr())
	}
	if got := post(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`); !strings.Contains(got, "alice@example.com") {
		t.Errorf("whoami in the same session after consenting again: %s\ngateway:\n%s", got, stderr())
	}

	// The vault holds the grant, encrypted; no record or log holds a token.
	vaultFile := filepath.Join(envValue(env, "XDG_STATE_HOME"), "mcpgov", "vault.json")
	b, err := os.ReadFile(vaultFile)
	if err != nil || !strings.Contains(string(b), `"notes"`) || strings.Contains(string(b), "eyJ") {
		t.Errorf("the vault file: %v; want alice's grant for notes, sealed (no JWT in clear)", err)
	}
	records := runMcpgov(t, env, "audit", "query", "--format", "jsonl")
	if !strings.Contains(records, `"kind":"credential"`) || !strings.Contains(records, "grant") || strings.Contains(records, "eyJ") {
		t.Errorf("records: want a credential record of the grant and no token:\n%s", records)
	}
	if strings.Contains(stderr(), "eyJ") || strings.Contains(stderr(), "state=") {
		t.Errorf("the gateway's log holds a token or a consent state:\n%s", stderr())
	}
}

// sseData is the JSON of an answer sent as one server-sent event, or the
// answer itself when it is plain JSON.
func sseData(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return d
		}
	}
	return body
}

// consentLinkIn is the last line of a consent text: the link.
func consentLinkIn(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestGatewayOAuthUserReplicas: two gateway replicas share a Redis store
// (redis-server); the balancer sends /oauth/callback to replica B. Alice's
// initialize on replica A is answered with the consent link A made; the
// browser's redirect lands on B, which redeems the code with the PKCE
// verifier A kept in the shared store; alice's next initialize and call on
// A go through with her own token; the consent record in Redis is sealed.
// With the shared store the vault is in Redis too, so the grant B stored is
// the one A reads.
func TestGatewayOAuthUserReplicas(t *testing.T) {
	redis := statetest.Start(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	publicURL := "http://" + addrB
	d := oauthusertest.StartDex(t, publicURL+"/oauth/callback")
	gov := notesBundle(t, d)
	env := oauthUserEnv(t)
	writeUserConfig(t, env, fmt.Sprintf("[gateway]\nstore = %q\n", redis.URL()))
	token := gatewayToken(t, env, "alice@example.com")
	_, logA := serveGatewayAt(t, addrA, env, "--bundle", gov, "--public-url", publicURL)
	_, logB := serveGatewayAt(t, addrB, env, "--bundle", gov, "--public-url", publicURL)
	onA := "http://" + addrA + "/servers/notes/mcp"

	_, answer, _ := authPost(t, onA, token, initializeURLElicitation)
	elicitation, err := consentElicitation(answer)
	if err != nil {
		t.Fatalf("initialize on A without consent: %s (%v)\nA:\n%s", answer, err, logA())
	}
	// The consent in flight is in the shared store sealed with the vault's
	// key: its record (the PKCE verifier, the link) is not in the clear.
	opt, err := goredis.ParseURL(redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(opt)
	defer raw.Close()
	records := raw.Keys(await.Context(t), state.Prefix+"consent:*").Val()
	if len(records) != 1 {
		t.Fatalf("consent records in the store: %q", records)
	}
	if rec := raw.Get(await.Context(t), records[0]).Val(); strings.Contains(rec, "verifier") || strings.Contains(rec, "alice") || !strings.Contains(rec, `"sealed"`) {
		t.Fatalf("the consent record is not sealed (%d bytes holding the verifier or the user in the clear)", len(rec))
	}
	code, page, err := oauthusertest.Consent(await.Context(t), elicitation.URL)
	if err != nil || code != http.StatusOK || !strings.Contains(page, "Access granted") {
		t.Fatalf("consent redeemed on B: %d %v\n%s\nB:\n%s", code, err, page, logB())
	}
	status, answer, hdr := authPost(t, onA, token, initializeURLElicitation)
	if status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize on A after the grant on B: %d %s\nA:\n%s", status, answer, logA())
	}
	sid := hdr.Get("Mcp-Session-Id")
	post := func(body string) string {
		t.Helper()
		return bearerPost(t, onA, token, sid, "application/json, text/event-stream", body)
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`); !strings.Contains(got, "alice@example.com") {
		t.Errorf("whoami on A with the grant redeemed on B: %s\nA:\n%s", got, logA())
	}
}

// TestGatewayOAuthUserReload: the gateway starts on a bundle where no
// server uses per-user OAuth; a reloaded bundle makes notes an oauth_user
// server. Without a restart, alice's initialize gets the consent link, the
// gateway's /oauth/callback redeems it, and her call carries her token.
func TestGatewayOAuthUserReload(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	d := oauthusertest.StartDex(t, base+"/oauth/callback")
	upstream := oauthusertest.StartBearerServer(t, d.Issuer, oauthusertest.ClientID)
	gov := t.TempDir()
	catalogPath := filepath.Join(gov, "catalog.toml")
	writeFile(t, catalogPath, notesCatalog(upstream, nil))
	env := oauthUserEnv(t)
	token := gatewayToken(t, env, "alice@example.com")
	_, stderr := serveGatewayAt(t, addr, env, "--bundle", gov)
	writeFileAtomic(t, catalogPath, notesCatalog(upstream, d))
	await.Until(t, "the gateway to reload the bundle", func() bool { return strings.Contains(stderr(), "mcpgov: reload: bundle revision ") })

	url := base + "/servers/notes/mcp"
	_, answer, _ := authPost(t, url, token, initializeURLElicitation)
	elicitation, err := consentElicitation(answer)
	if err != nil {
		t.Fatalf("initialize after the reload, no consent yet: %s (%v)\ngateway:\n%s", answer, err, stderr())
	}
	if code, page, err := oauthusertest.Consent(await.Context(t), elicitation.URL); err != nil || code != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s\ngateway:\n%s", code, err, page, stderr())
	}
	status, answer, hdr := authPost(t, url, token, initializeURLElicitation)
	if status != 200 || !strings.Contains(answer, `"result"`) {
		t.Fatalf("initialize after consent: %d %s\ngateway:\n%s", status, answer, stderr())
	}
	got := bearerPost(t, url, token, hdr.Get("Mcp-Session-Id"), "application/json, text/event-stream", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	if !strings.Contains(got, "alice@example.com") {
		t.Errorf("whoami after the reload and consent: %s\ngateway:\n%s", got, stderr())
	}
}
