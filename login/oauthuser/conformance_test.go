package oauthuser_test

// The auth/* client scenarios of npm @modelcontextprotocol/conformance
// with this package as the client's OAuth engine: the test binary,
// re-executed by the harness as its client command, finds the
// authorization server from the server's protected-resource metadata,
// consents (the harness's authorization server approves at once), and
// calls the server with the token. The shim, once wired, is this client.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const conformanceClientEnv = "OAUTHUSER_CONFORMANCE_CLIENT"

func TestMain(m *testing.M) {
	if os.Getenv(conformanceClientEnv) != "" {
		os.Exit(conformanceClient(os.Args[len(os.Args)-1]))
	}
	if os.Getenv(crossAppClientEnv) != "" {
		os.Exit(crossAppClient(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// conformanceClient is the harness's client command: argument the server
// URL, MCP_CONFORMANCE_CONTEXT the pre-registered client.
func conformanceClient(serverURL string) int {
	ctx := context.Background() // the harness's --timeout bounds this process
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "conformance client:", err); return 1 }
	var cc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if raw := os.Getenv("MCP_CONFORMANCE_CONTEXT"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &cc); err != nil {
			return fail(err)
		}
	}
	metaURL, scopes, err := challengeOf(serverURL)
	if err != nil {
		return fail(err)
	}
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}}
	srv := &http.Server{Handler: m.RedirectHandler()}
	ln, err := netListen()
	if err != nil {
		return fail(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	issuer := ""
	if cc.ClientSecret != "" {
		// A pre-registered client's secret goes only to the
		// authorization server it was registered at, which the person
		// configuring it knows (here: the one the harness started).
		meta, err := oauthuser.AuthorizationServer(ctx, nil, serverURL)
		if err != nil {
			return fail(err)
		}
		issuer = meta.Issuer
	}
	if err := m.AddServer("s", oauthuser.Config{Issuer: issuer, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret,
		RedirectURL: "http://" + ln.Addr().String() + "/callback", Resource: serverURL,
		ResourceMetadataURL: metaURL, Scopes: scopes}); err != nil {
		return fail(err)
	}
	authorize := func() (string, error) {
		tok, err := m.Token(ctx, "u", "s")
		var cr *oauthuser.ConsentRequired
		if !errors.As(err, &cr) {
			return tok, err
		}
		if err := followConsent(cr); err != nil {
			return "", err
		}
		return m.Token(ctx, "u", "s")
	}
	tok, err := authorize()
	if err != nil {
		return fail(err)
	}
	// Each operation runs on a session with the current token; a 403
	// insufficient_scope steps up (a new consent with more scopes) and
	// retries, as the shim does for a server it fronts.
	ops := []func(*mcp.ClientSession) error{
		func(s *mcp.ClientSession) error { _, err := s.ListTools(ctx, nil); return err },
		func(s *mcp.ClientSession) error { return callFirstTool(ctx, s) },
	}
	for _, op := range ops {
		for attempt := 0; ; attempt++ {
			rt := &challengeRecorder{base: http.DefaultTransport, token: tok}
			c := mcp.NewClient(&mcp.Implementation{Name: "oauthuser-conformance", Version: "1"}, nil)
			s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: serverURL, DisableStandaloneSSE: true, HTTPClient: &http.Client{Transport: rt}}, nil)
			if err == nil {
				err = op(s)
				s.Close()
			}
			if err == nil {
				break
			}
			if rt.forbidden == nil || attempt == 2 {
				return fail(err)
			}
			_, scopes := oauthuser.ReadChallenge(rt.forbidden)
			cr, err := m.StepUp(ctx, "u", "s", scopes)
			if err != nil {
				return fail(err) // ErrScopeLoop: no consent would help
			}
			if err := followConsent(cr); err != nil {
				return fail(err)
			}
			if tok, err = m.Token(ctx, "u", "s"); err != nil {
				return fail(err)
			}
		}
	}
	return 0
}

// challengeOf is what the shim does when a remote server answers 401: an
// initialize without a token, whose challenge names the metadata location
// and the scopes.
func challengeOf(serverURL string) (metaURL string, scopes []string, err error) {
	probe, err := http.Post(serverURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		return "", nil, err
	}
	probe.Body.Close()
	metaURL, scopes = oauthuser.ReadChallenge(probe.Header)
	return metaURL, scopes, nil
}

// callFirstTool lists the server's tools and calls the first, if any,
// with no arguments.
func callFirstTool(ctx context.Context, s *mcp.ClientSession) error {
	res, err := s.ListTools(ctx, nil)
	if err != nil || len(res.Tools) == 0 {
		return err
	}
	_, err = s.CallTool(ctx, &mcp.CallToolParams{Name: res.Tools[0].Name, Arguments: map[string]any{}})
	return err
}

// followConsent plays the browser: the harness's authorization server
// approves at once, so following its redirect is the whole step.
func followConsent(cr *oauthuser.ConsentRequired) error {
	resp, err := http.Get(cr.URL)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consent redirect answered %s", resp.Status)
	}
	return nil
}

// challengeRecorder sends the bearer token and keeps the headers of a 403
// insufficient_scope answer.
type challengeRecorder struct {
	base      http.RoundTripper
	token     string
	forbidden http.Header
}

func (r *challengeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		r.forbidden = resp.Header.Clone()
	}
	return resp, err
}

func TestConformanceAuthScenarios(t *testing.T) {
	suite := conformance.Need(t)
	for _, scenario := range conformanceScenarios {
		t.Run(strings.TrimPrefix(scenario, "auth/"), func(t *testing.T) {
			checks, outb, err := suite.Client(t, await.Deadline(t), scenario, append(os.Environ(), conformanceClientEnv+"=1"))
			if err != nil || !strings.Contains(checks, "=SUCCESS") || strings.Contains(checks, "=FAILURE") || strings.Contains(checks, "=WARNING") {
				t.Fatalf("conformance %s: %v\nchecks: %s\n%s", scenario, err, checks, outb)
			}
			t.Logf("%s: %s", scenario, checks)
		})
	}
}

// conformanceScenarios are the auth/* client scenarios this client passes.
// Not here: basic-cimd and the 2025-03-26 back-compat pair, which
// cmd/mcpgov's TestShimConformanceAuth runs through `mcpgov shim --url`
// (this client passes no client metadata URL), and the client-credentials
// extensions (not per-user).
var conformanceScenarios = []string{
	"auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3",
	"auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none",
	"auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported", "auth/scope-omitted-when-undefined",
	"auth/pre-registration", "auth/resource-mismatch", "auth/offline-access-scope",
	"auth/scope-step-up", "auth/scope-retry-limit",
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
