package gateway_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

const (
	ccClient   = "notes-gateway"
	ccSecret   = "cc-secret-4f1e9a7b"
	ccResource = "https://notes.example"
)

// authServer is node oidc-provider with a client-credentials client (see
// testdata/idp/oidc-provider-cc.mjs); Tokens counts the tokens it issued.
type authServer struct {
	Issuer string
	mu     sync.Mutex
	tokens int
}

func (a *authServer) Tokens() int { a.mu.Lock(); defer a.mu.Unlock(); return a.tokens }

// startAuthServer runs oidc-provider-cc (make e2e-deps installs it): found
// on PATH, else in the repository's .cache. Missing, it skips, except
// under MCPGOV_E2E where it fails.
func startAuthServer(t *testing.T) *authServer {
	t.Helper()
	bin, err := exec.LookPath("oidc-provider-cc")
	if err != nil {
		bin = filepath.Join("..", "..", ".cache", "oidc-provider", "bin", "oidc-provider-cc")
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("MCPGOV_E2E") != "" {
				t.Fatal("oidc-provider-cc is not installed but MCPGOV_E2E is set; run make e2e-deps")
			}
			t.Skip("oidc-provider-cc not installed (make e2e-deps)")
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CC_CLIENT_ID="+ccClient, "CC_CLIENT_SECRET="+ccSecret)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	a := &authServer{}
	issuer := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "issuer "); ok {
				issuer <- u
			}
			if strings.HasPrefix(line, "token ") {
				a.mu.Lock()
				a.tokens++
				a.mu.Unlock()
			}
		}
	}()
	a.Issuer = await.Recv(t, issuer, "oidc-provider-cc's issuer line")
	return a
}

// oauth_client: the gateway obtains a token with the client-credentials
// grant (the secret from a reference), sends it to the upstream — a JWT
// the authorization server signed for the server's resource — and keeps
// it in the vault, so a second session reuses it instead of asking again;
// the vault file holds it sealed only.
func TestCredentialsOAuthClient(t *testing.T) {
	as := startAuthServer(t)
	fx := credGateway(t, catalog.Server{ID: "cc", Auth: catalog.Auth{Type: catalog.AuthOAuthClient, Issuer: as.Issuer,
		ClientID: ccClient, ClientSecret: "env:CC_SECRET", Scopes: []string{"notes:read"}, Resource: ccResource}})
	for range 2 {
		got, err := callKey(t, fx, "cc", nil)
		if err != nil || !strings.Contains(got, "auth=Bearer ey") {
			t.Fatalf("oauth_client: %q, %v", got, err)
		}
	}
	seen := fx.seen["cc"].all("Authorization")
	tok := strings.TrimPrefix(seen[len(seen)-1], "Bearer ")
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, as.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	at, err := p.VerifierContext(ctx, &oidc.Config{ClientID: ccResource}).Verify(ctx, tok)
	if err != nil {
		t.Fatalf("the upstream's token does not verify against the authorization server: %v", err)
	}
	if at.Subject != ccClient {
		t.Fatalf("token subject %q, want the client %s", at.Subject, ccClient)
	}
	for _, v := range seen {
		if v != "Bearer "+tok {
			t.Fatalf("the upstream saw two tokens; the second session should have reused the vault's")
		}
	}
	raw, err := os.ReadFile(fx.vault.Store.(*vault.FileStore).Path())
	if err != nil || strings.Contains(string(raw), tok) || strings.Contains(string(raw), strings.Split(tok, ".")[1]) {
		t.Fatalf("the vault file holds the token in the clear (or is unreadable: %v)", err)
	}
	if n := as.Tokens(); n != 1 {
		t.Fatalf("authorization server issued %d tokens, want 1", n)
	}
	refreshes := 0
	for _, e := range fx.events() {
		if e.Action == vault.ActionRefresh && e.Server == "cc" && e.User == "" {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Fatalf("vault refresh events = %d, want 1", refreshes)
	}
}
