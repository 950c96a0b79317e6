//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
)

// gwemuEnv makes the test binary act as "gwemu", the client command the
// conformance harness runs for TestGatewayConformanceAuth: it starts a
// real `mcpgov gateway serve` whose bundle has the scenario's server as
// its one upstream, with the auth type gwemuAuthEnv names (oauth_user: a
// person's consent; oauth_client: client credentials), and a go-sdk
// client that reaches the server only through the gateway, with a
// personal gateway token of alice's. The client has no OAuth of its own:
// every OAuth request the scenario checks is the gateway's. When the
// gateway answers with a consent link (a URL-mode elicitation, or the link
// in an error or a tool error), gwemu follows it as a browser would (the
// scenario's authorization server approves at once and redirects to the
// gateway's /oauth/callback) and sends the refused request again. Its
// value is the test's deadline (RFC 3339).
// gwemuLogEnv names the file gwemu writes its notes to (each consent it
// gave, each notifications/elicitation/complete it got), for the test to
// check; the harness keeps a client's stderr to itself.
const (
	gwemuEnv     = "MCPGOV_CONFORMANCE_GWEMU"
	gwemuAuthEnv = "MCPGOV_CONFORMANCE_GWEMU_AUTH"
	gwemuLogEnv  = "MCPGOV_CONFORMANCE_GWEMU_LOG"
	// gwemuProtocolEnv is the protocol revision gwemu's client asks for:
	// 2025-11-25 (a stateful session: initialize, a stream for the
	// gateway's notifications) or the go-sdk's latest (stateless, with
	// server/discover) when empty.
	gwemuProtocolEnv = "MCPGOV_CONFORMANCE_GWEMU_PROTOCOL"
)

// gwemuLog is where gwemu's notes go: stderr, and the file gwemuLogEnv
// names.
var gwemuLog io.Writer = os.Stderr

func init() {
	v := os.Getenv(gwemuEnv)
	if v == "" {
		return
	}
	deadline, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gwemu: %s=%q: %v\n", gwemuEnv, v, err)
		os.Exit(1)
	}
	if err := openGwemuLog(); err != nil {
		fmt.Fprintln(os.Stderr, "gwemu:", err)
		os.Exit(1)
	}
	if err := gwemu(deadline, os.Getenv(gwemuAuthEnv), os.Args[len(os.Args)-1]); err != nil {
		fmt.Fprintln(gwemuLog, "gwemu:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// openGwemuLog points gwemuLog at stderr and the file gwemuLogEnv names
// too, when it names one. The file stays open until the process exits.
func openGwemuLog() error {
	if name := os.Getenv(gwemuLogEnv); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		gwemuLog = io.MultiWriter(os.Stderr, f)
	}
	return nil
}

// conformanceContext is MCP_CONFORMANCE_CONTEXT: the pre-registered
// client of the scenarios that have one.
type conformanceContext struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	PrivateKeyPEM    string `json:"private_key_pem"`
	SigningAlgorithm string `json:"signing_algorithm"`
}

// gwemuCatalog is the bundle's catalog: the scenario's server with the
// auth block for kind, its secrets by reference (env) only.
func gwemuCatalog(serverURL, kind string, cc conformanceContext) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[catalog]\nmode = \"enforce\"\n[servers.conformance]\nstatus = \"approved\"\n[servers.conformance.launch]\nurl = %q\n[servers.conformance.auth]\ntype = %q\n", serverURL, kind)
	if kind == "oauth_user" {
		// basic-cimd's authorization server takes the client metadata
		// document's URL as the client id; the others register a client
		// or give one.
		fmt.Fprintf(&b, "client_metadata_url = %q\n", conformanceCIMD)
	}
	if cc.ClientID != "" {
		fmt.Fprintf(&b, "client_id = %q\n", cc.ClientID)
	}
	if cc.ClientSecret != "" {
		b.WriteString("client_secret = \"env:GWEMU_CLIENT_SECRET\"\n")
		// A shared secret is only sent to an authorization server the
		// catalog pins (catalog validate refuses one left to discovery):
		// pin the one the secret was registered with, as an operator would.
		if issuer := gwemuIssuer(serverURL); issuer != "" {
			fmt.Fprintf(&b, "issuer = %q\n", issuer)
		}
	}
	if cc.PrivateKeyPEM != "" {
		b.WriteString("client_assertion_key = \"env:GWEMU_CLIENT_KEY\"\n")
		if cc.SigningAlgorithm != "" {
			fmt.Fprintf(&b, "client_assertion_alg = %q\n", cc.SigningAlgorithm)
		}
	}
	return b.String()
}

// gwemuIssuer is the authorization server the scenario's server names
// (RFC 9728), "" when it names none (the gateway then says why).
func gwemuIssuer(serverURL string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := oauthuser.AuthorizationServer(ctx, http.DefaultClient, serverURL)
	if err != nil {
		fmt.Fprintln(gwemuLog, "gwemu: find the authorization server to pin:", err)
		return ""
	}
	return meta.Issuer
}

func gwemu(deadline time.Time, kind, serverURL string) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var cc conformanceContext
	if raw := os.Getenv("MCP_CONFORMANCE_CONTEXT"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &cc); err != nil {
			return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "gwemu")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(gwemuCatalog(serverURL, kind, cc)), 0o644); err != nil {
		return err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, gwemuEnv) && !strings.HasPrefix(kv, "MCP_CONFORMANCE_CONTEXT=") {
			env = append(env, kv)
		}
	}
	env = append(env, "MCPGOV_BUNDLE=", "MCPGOV_CONFIG=", "MCPGOV_VAULT_KEY=env:GWEMU_VAULT_KEY", "GWEMU_VAULT_KEY="+vault.NewKey(),
		"MCPGOV_AUDIT_DIR="+filepath.Join(dir, "audit"), "GWEMU_CLIENT_SECRET="+cc.ClientSecret, "GWEMU_CLIENT_KEY="+cc.PrivateKeyPEM)

	tc := exec.CommandContext(ctx, "mcpgov", "gateway", "token", "create", "--user", "alice@example.com", "--expires", "1d", "--json")
	tc.Env, tc.Stderr = env, os.Stderr
	out, err := tc.Output()
	if err != nil {
		return fmt.Errorf("gateway token create: %w", err)
	}
	var issued struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &issued); err != nil || issued.Token == "" {
		return fmt.Errorf("gateway token create printed no token: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	gwCtx, stopGateway := context.WithCancel(ctx)
	gw := exec.CommandContext(gwCtx, "mcpgov", "gateway", "serve", "--listen", addr, "--bundle", bundle)
	gw.Env, gw.Stderr = env, os.Stderr
	gw.Cancel = func() error { return gw.Process.Signal(syscall.SIGTERM) }
	gw.WaitDelay = 10 * time.Second
	if err := gw.Start(); err != nil {
		stopGateway()
		return err
	}
	defer func() { stopGateway(); _ = gw.Wait() }()
	base := "http://" + addr
	if err := untilUp(ctx, base+"/healthz"); err != nil {
		return err
	}

	hc := &http.Client{Transport: bearerTransport{token: issued.Token}}
	transport := &mcp.StreamableClientTransport{Endpoint: base + "/servers/conformance/mcp", HTTPClient: hc}
	done := &completions{}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpgov-gwemu", Version: "1"}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}},
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			if req.Params.Mode != "url" {
				return &mcp.ElicitResult{Action: "decline"}, nil
			}
			if err := browse(ctx, req.Params.URL); err != nil {
				return nil, err
			}
			return &mcp.ElicitResult{Action: "accept"}, nil
		},
		ElicitationCompleteHandler: func(_ context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
			done.close(req.Params.ElicitationID)
		},
	})
	// Each refusal that carries a consent link is consented to and the
	// request sent again; three consents for one request are a loop.
	var cs *mcp.ClientSession
	if err := withConsent(ctx, nil, "initialize", func() (string, error) {
		var err error
		cs, err = client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: os.Getenv(gwemuProtocolEnv)})
		return "", err
	}); err != nil {
		return err
	}
	defer cs.Close()
	var tools []*mcp.Tool
	// A stateless (2026-07-28) client holds no stream the gateway could
	// announce a grant on: it retries once the browser is done.
	announced := done
	if os.Getenv(gwemuProtocolEnv) == "" {
		announced = nil
	}
	if err := withConsent(ctx, announced, "tools/list", func() (string, error) {
		lt, err := cs.ListTools(ctx, nil)
		if err == nil {
			tools = lt.Tools
		}
		return "", err
	}); err != nil {
		return err
	}
	for _, tool := range tools {
		var res *mcp.CallToolResult
		if err := withConsent(ctx, announced, "call "+tool.Name, func() (string, error) {
			var err error
			res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: sampleArgs(tool)})
			if err == nil && res.IsError && len(res.Content) == 1 {
				if t, ok := res.Content[0].(*mcp.TextContent); ok && strings.Contains(t.Text, "needs your permission") {
					return consentLinkIn(t.Text), nil
				}
			}
			return "", err
		}); err != nil {
			return err
		}
		if res.IsError {
			b, _ := json.Marshal(res)
			return fmt.Errorf("call %s: a tool error: %s", tool.Name, b)
		}
		b, _ := json.Marshal(res)
		fmt.Fprintf(gwemuLog, "gwemu: %s -> %s\n", tool.Name, b)
	}
	fmt.Fprintf(gwemuLog, "gwemu: notifications/elicitation/complete received for %d mid-session consent(s)\n", done.count())
	return nil
}

// completions are the elicitation ids notifications/elicitation/complete
// named, each a channel closed when it arrives.
type completions struct {
	mu sync.Mutex
	ch map[string]chan struct{}
	n  int
}

func (c *completions) get(id string) chan struct{} {
	if c.ch == nil {
		c.ch = map[string]chan struct{}{}
	}
	if c.ch[id] == nil {
		c.ch[id] = make(chan struct{})
	}
	return c.ch[id]
}

func (c *completions) close(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.get(id)
	select {
	case <-ch:
	default:
		close(ch)
		c.n++
	}
}

func (c *completions) wait(ctx context.Context, id string) error {
	c.mu.Lock()
	ch := c.get(id)
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no notifications/elicitation/complete for elicitation %s: %w", id, ctx.Err())
	}
}

func (c *completions) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// withConsent runs do until it is not refused for want of consent: a
// refusal carrying a consent link (as an error, -32042 or text, or as
// the link do returns from a tool error) is consented to in the
// "browser" and do runs again, at most three times.
//
// A consent given mid-session through a URL-mode elicitation must be
// announced: do runs again only once notifications/elicitation/complete
// names it (done; nil for initialize, which has no session yet).
func withConsent(ctx context.Context, done *completions, what string, do func() (link string, err error)) error {
	for consents := 0; ; consents++ {
		link, err := do()
		elicitation := ""
		if err != nil {
			link, elicitation = consentLinkOf(err)
		}
		if link == "" {
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		if consents == 3 {
			return fmt.Errorf("%s: still refused after three consents: %v", what, err)
		}
		form := "a link in the answer's text"
		if elicitation != "" {
			form = "a URL-mode elicitation"
		}
		fmt.Fprintf(gwemuLog, "gwemu: %s needs consent (%s); following the link\n", what, form)
		if err := browse(ctx, link); err != nil {
			return fmt.Errorf("%s: consent: %w", what, err)
		}
		if done != nil && elicitation != "" {
			if err := done.wait(ctx, elicitation); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
}

// consentLinkOf is the consent link an error carries: the URL of a
// URL-mode elicitation (-32042), else the last line of its message when
// that is a URL.
func consentLinkOf(err error) (link, elicitationID string) {
	var we *jsonrpc.Error
	if errors.As(err, &we) && we.Code == mcp.CodeURLElicitationRequired {
		var data struct {
			Elicitations []struct {
				Mode          string `json:"mode"`
				URL           string `json:"url"`
				ElicitationID string `json:"elicitationId"`
			} `json:"elicitations"`
		}
		if json.Unmarshal(we.Data, &data) == nil && len(data.Elicitations) == 1 && data.Elicitations[0].Mode == "url" {
			return data.Elicitations[0].URL, data.Elicitations[0].ElicitationID
		}
		return "", ""
	}
	if l := consentLinkIn(err.Error()); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		return l, ""
	}
	return "", ""
}

// browse opens link as a browser would: redirects followed, cookies kept.
// The consent ends on the gateway's page saying access was granted.
func browse(ctx context.Context, link string) error {
	jar, _ := cookiejar.New(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Jar: jar}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Access granted") {
		return fmt.Errorf("the consent ended at %s with %s: %s", resp.Request.URL.Redacted(), resp.Status, page)
	}
	return nil
}

// untilUp waits until url answers 200 or ctx ends.
func untilUp(ctx context.Context, url string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the gateway did not answer %s: %v", url, err)
		case <-tick.C:
		}
	}
}

// bearerTransport sends the gateway token with every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// gatewayClientCredentialsScenarios are the conformance scenarios of the
// client-credentials extension (SEP-1046): no person consents; the
// gateway's oauth_client authenticates with a secret (basic) or a JWT
// signed with its key (private_key_jwt).
var gatewayClientCredentialsScenarios = []string{"auth/client-credentials-basic", "auth/client-credentials-jwt"}

// TestGatewayConformanceAuth runs the auth/* client scenarios of npm
// @modelcontextprotocol/conformance with gwemu: every check the harness
// makes of the OAuth client (discovery, registration, PKCE, resource,
// scopes, step-up, client credentials) is a check of `mcpgov gateway
// serve`, its per-user consent (oauth_user) and its client credentials
// (oauth_client). Warnings fail too.
func TestGatewayConformanceAuth(t *testing.T) {
	suite := conformance.Need(t)
	filter := os.Getenv("MCPGOV_CONFORMANCE_AUTH") // one scenario, while working on it
	kinds := map[string]string{}
	for _, s := range shimAuthScenarios {
		kinds[s] = "oauth_user"
	}
	for _, s := range gatewayClientCredentialsScenarios {
		kinds[s] = "oauth_client"
	}
	// Each scenario twice: a client of the stateful revision (2025-11-25:
	// initialize, a session whose stream carries the gateway's
	// notifications/elicitation/complete) and one of the stateless
	// revision (the go-sdk's default: server/discover, each request on
	// its own).
	for _, revision := range []struct{ name, version string }{{"stateful", "2025-11-25"}, {"stateless", ""}} {
		for _, scenario := range append(append([]string(nil), shimAuthScenarios...), gatewayClientCredentialsScenarios...) {
			if filter != "" && filter != scenario {
				continue
			}
			runGatewayConformanceAuth(t, suite, revision.name, revision.version, scenario, kinds[scenario])
		}
	}
}

// runGatewayConformanceAuth runs one auth scenario through the gateway
// with gwemu's client asking for protocol revision version ("" for the
// go-sdk's latest).
func runGatewayConformanceAuth(t *testing.T, suite conformance.Suite, revision, version, scenario, kind string) {
	t.Run(revision+"/"+strings.TrimPrefix(scenario, "auth/"), func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "gwemu.log")
		checks, outb, err := clientScenario(t, suite, scenario, gwemuEnv, gwemuAuthEnv+"="+kind, gwemuLogEnv+"="+logFile, gwemuProtocolEnv+"="+version)
		if err != nil || !strings.Contains(checks, "=SUCCESS") || strings.Contains(checks, "=FAILURE") || strings.Contains(checks, "=WARNING") {
			t.Fatalf("conformance %s through the gateway: %v\nchecks: %s\n%s", scenario, err, checks, outb)
		}
		if strings.Contains(string(outb), "test-token-") || strings.Contains(string(outb), "cc-token-") {
			t.Errorf("conformance %s: an access token the scenario issued is in the gateway's or the client's output:\n%s", scenario, outb)
		}
		notes, _ := os.ReadFile(logFile)
		if scenario == "auth/scope-step-up" && revision == "stateless" {
			// The stateless client declared URL elicitation too: the
			// step-up consent reaches it as one, and the retry after the
			// browser works.
			if !strings.Contains(string(notes), "call test-tool needs consent (a URL-mode elicitation)") {
				t.Errorf("scope-step-up (stateless): want the call's consent as a URL-mode elicitation; gwemu:\n%s", notes)
			}
		}
		if scenario == "auth/scope-step-up" && revision == "stateful" {
			// The step-up consent is given mid-session, through a
			// URL-mode elicitation: the call is retried only once the
			// gateway announced the grant.
			if !strings.Contains(string(notes), "call test-tool needs consent (a URL-mode elicitation)") ||
				!strings.Contains(string(notes), "notifications/elicitation/complete received for 1 mid-session consent(s)") {
				t.Errorf("scope-step-up: want the call's consent as a URL-mode elicitation, announced when granted; gwemu:\n%s", notes)
			}
		}
		t.Logf("%s: %s\n%s", scenario, checks, notes)
	})
}

// Set before any init runs (package variables are initialized first), so
// ideemu's init sees it.
var _ = func() struct{} {
	ideemuHook = func(deadline time.Time, serverURL, bundle string) (bool, error) {
		if os.Getenv(gwemuAuthEnv) != "oauth_client" {
			return false, nil
		}
		return true, ideemuClientCredentials(deadline, serverURL, bundle)
	}
	return struct{}{}
}()

// ideemuClientCredentials is ideemu for the client-credentials scenarios:
// the shim fronts the scenario's server, a catalog entry whose auth is
// oauth_client (the pre-registered client of MCP_CONFORMANCE_CONTEXT, its
// secret or key by env reference), and gets its token itself: the
// client has no OAuth of its own.
func ideemuClientCredentials(deadline time.Time, serverURL, bundle string) error {
	if err := openGwemuLog(); err != nil {
		return err
	}
	var cc conformanceContext
	if err := json.Unmarshal([]byte(os.Getenv("MCP_CONFORMANCE_CONTEXT")), &cc); err != nil {
		return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(gwemuCatalog(serverURL, "oauth_client", cc)), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--url", serverURL)
	cmd.Stderr = gwemuLog
	env := []string{"MCPGOV_BUNDLE=", "MCPGOV_CONFIG=", "MCPGOV_KEYRING=off", "MCPGOV_VAULT_KEY=env:GWEMU_VAULT_KEY", "GWEMU_VAULT_KEY=" + vault.NewKey(),
		"GWEMU_CLIENT_SECRET=" + cc.ClientSecret, "GWEMU_CLIENT_KEY=" + cc.PrivateKeyPEM}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ideemuEnv+"=") && !strings.HasPrefix(kv, gwemuEnv) {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return callEveryTool(deadline, cmd, gwemuLog, true)
}

// TestShimConformanceClientCredentials runs the client-credentials
// scenarios with ideemu: `mcpgov shim --url` fronting a catalog server
// whose auth is oauth_client gets the token (client_secret_basic, or a
// private_key_jwt assertion) itself. Warnings fail too.
func TestShimConformanceClientCredentials(t *testing.T) {
	suite := conformance.Need(t)
	for _, scenario := range gatewayClientCredentialsScenarios {
		t.Run(strings.TrimPrefix(scenario, "auth/"), func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "ideemu.log")
			checks, outb, err := clientScenario(t, suite, scenario, ideemuEnv, gwemuAuthEnv+"=oauth_client", gwemuLogEnv+"="+logFile)
			notes, _ := os.ReadFile(logFile)
			if err != nil || !strings.Contains(checks, "=SUCCESS") || strings.Contains(checks, "=FAILURE") || strings.Contains(checks, "=WARNING") {
				t.Fatalf("conformance %s through the shim: %v\nchecks: %s\n%s\n%s", scenario, err, checks, outb, notes)
			}
			if strings.Contains(string(outb)+string(notes), "cc-token-") {
				t.Errorf("conformance %s: the access token is in the shim's or the client's output:\n%s\n%s", scenario, outb, notes)
			}
			t.Logf("%s: %s\n%s", scenario, checks, notes)
		})
	}
}
