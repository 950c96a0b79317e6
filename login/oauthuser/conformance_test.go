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
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
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
	// What the shim does when a remote server answers 401: read the
	// challenge for the metadata location and the scopes.
	probe, err := http.Post(serverURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		return fail(err)
	}
	probe.Body.Close()
	metaURL, scopes := oauthuser.ReadChallenge(probe.Header)
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
		func(s *mcp.ClientSession) error {
			res, err := s.ListTools(ctx, nil)
			if err != nil || len(res.Tools) == 0 {
				return err
			}
			_, err = s.CallTool(ctx, &mcp.CallToolParams{Name: res.Tools[0].Name, Arguments: map[string]any{}})
			return err
		},
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
	bin, err := exec.LookPath("conformance")
	if err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatal("@modelcontextprotocol/conformance is not on PATH but MCPGOV_E2E is set\nhint: run make e2e-deps and put .cache/npm/node_modules/.bin on PATH")
		}
		t.Skip("@modelcontextprotocol/conformance is not installed; make test installs it into .cache/npm")
	}
	entry, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	// 0.1.16 imports fs.globSync (Node >= 22); the loader supplies it on Node 20.
	loader, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "e2e", "conformance-node20", "register.mjs"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, scenario := range conformanceScenarios {
		t.Run(strings.TrimPrefix(scenario, "auth/"), func(t *testing.T) {
			out := t.TempDir()
			deadline := await.Deadline(t)
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "--import", loader, entry, "client", "--command", self,
				"--scenario", scenario, "--timeout", strconv.FormatInt(time.Until(deadline).Milliseconds(), 10), "-o", out)
			cmd.Env = append(os.Environ(), conformanceClientEnv+"=1")
			outb, err := cmd.CombinedOutput()
			checks := readChecks(t, out)
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

func readChecks(t *testing.T, out string) string {
	// auth/x writes <out>/auth/x-<time>/checks.json.
	var files []string
	filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "checks.json" {
			files = append(files, path)
		}
		return nil
	})
	var parts []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		var checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, c := range checks {
			if c.Status != "INFO" {
				parts = append(parts, c.ID+"="+c.Status)
			}
		}
	}
	return strings.Join(parts, " ")
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
