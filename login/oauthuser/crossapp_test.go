package oauthuser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
)

const crossAppClientEnv = "OAUTHUSER_CROSSAPP_CLIENT"

// crossAppClient is the harness's client command for the cross-app access
// scenario: argument the server URL, MCP_CONFORMANCE_CONTEXT the person's
// ID token, the identity provider and mcpgov's clients at both servers.
// It asks the server for its challenge, runs CrossApp (no consent
// screen), then lists and calls the server's tools with the token.
func crossAppClient(serverURL string) int {
	ctx := context.Background() // the harness's --timeout bounds this process
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "cross-app client:", err); return 1 }
	var cc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		IdPClientID  string `json:"idp_client_id"`
		IDToken      string `json:"idp_id_token"`
		IdPIssuer    string `json:"idp_issuer"`
	}
	if err := json.Unmarshal([]byte(os.Getenv("MCP_CONFORMANCE_CONTEXT")), &cc); err != nil {
		return fail(err)
	}
	metaURL, scopes, err := challengeOf(serverURL)
	if err != nil {
		return fail(err)
	}
	xa := &oauthuser.CrossApp{IdPIssuer: cc.IdPIssuer, IdPClientID: cc.IdPClientID, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret,
		Resource: serverURL, ResourceMetadataURL: metaURL, Scopes: scopes}
	tok, err := xa.Token(ctx, cc.IDToken)
	if err != nil {
		return fail(err)
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "oauthuser-crossapp", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: serverURL, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: &challengeRecorder{base: http.DefaultTransport, token: tok.AccessToken}}}, nil)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	if err := callFirstTool(ctx, s); err != nil {
		return fail(err)
	}
	return 0
}

// TestConformanceCrossAppAccess: the auth/cross-app-access-complete-flow
// scenario of @modelcontextprotocol/conformance with CrossApp as the
// client: the harness's identity provider exchanges the person's ID token
// for an ID-JAG (RFC 8693), its authorization server takes it in a
// JWT-bearer grant (RFC 7523, client_secret_basic), and the server takes
// the token. Every check must succeed; a warning fails.
func TestConformanceCrossAppAccess(t *testing.T) {
	suite := conformance.Need(t)
	const scenario = "auth/cross-app-access-complete-flow"
	checks, outb, err := suite.Client(t, await.Deadline(t), scenario, append(os.Environ(), crossAppClientEnv+"=1"))
	for _, want := range []string{"complete-flow-token-exchange=SUCCESS", "complete-flow-jwt-bearer=SUCCESS"} {
		if !strings.Contains(checks, want) {
			t.Errorf("conformance %s: no %s", scenario, want)
		}
	}
	if err != nil || strings.Contains(checks, "=FAILURE") || strings.Contains(checks, "=WARNING") {
		t.Fatalf("conformance %s: %v\nchecks: %s\n%s", scenario, err, checks, outb)
	}
	t.Logf("%s: %s", scenario, checks)
}
