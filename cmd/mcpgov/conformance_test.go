package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/conformance"
)

// ideemuEnv makes the test binary act as "ideemu", the client command the
// conformance harness runs: a go-sdk client that talks to the conformance
// server only through `mcpgov shim --url <serverURL>` over stdio, lists the
// tools and calls each one. It is checked in init, before testscript.Main.
// Its value is the test's deadline (RFC 3339), which bounds ideemu too.
const ideemuEnv = "MCPGOV_CONFORMANCE_IDEEMU"

func init() {
	v := os.Getenv(ideemuEnv)
	if v == "" {
		return
	}
	deadline, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ideemu: %s=%q: %v\n", ideemuEnv, v, err)
		os.Exit(1)
	}
	if err := ideemu(deadline, os.Args[len(os.Args)-1]); err != nil {
		fmt.Fprintln(os.Stderr, "ideemu:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ideemuHook, when set (the client-credentials scenarios, in
// gateway_conformance_test.go), runs ideemu in place of its own steps
// when it reports that it handled the scenario.
var ideemuHook func(deadline time.Time, serverURL, bundle string) (handled bool, err error)

func ideemu(deadline time.Time, serverURL string) error {
	bundle, err := os.MkdirTemp("", "ideemu-bundle")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bundle)
	cat := fmt.Sprintf("[servers.conformance]\nstatus = \"approved\"\n[servers.conformance.launch]\nurl = %q\n", serverURL)
	if ideemuHook != nil {
		if handled, err := ideemuHook(deadline, serverURL, bundle); handled {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(cat), 0o644); err != nil {
		return err
	}
	// The auth/* scenarios: the shim is the OAuth client. The harness
	// hands a pre-registered client in MCP_CONFORMANCE_CONTEXT; its
	// authorization server approves at once, so the browser only follows
	// the redirect; basic-cimd's server takes the client metadata URL as
	// the client id.
	args := []string{"shim", "--bundle", bundle, "--url", serverURL, "--oauth-client-metadata-url", conformanceCIMD}
	// No keyring and no session runtime directory: each grant lives in
	// the shim's memory, so every scenario runs its own authorization.
	env := []string{"MCPGOV_BUNDLE=", "MCPGOV_CONFIG=", "MCPGOV_BROWSER=follow-browser", "MCPGOV_KEYRING=off", "XDG_RUNTIME_DIR="}
	if raw := os.Getenv("MCP_CONFORMANCE_CONTEXT"); raw != "" {
		var cc struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(raw), &cc); err != nil {
			return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
		}
		if cc.ClientID != "" {
			args = append(args, "--oauth-client-id", cc.ClientID)
		}
		if cc.ClientSecret != "" {
			// The secret goes only to the authorization server the
			// client is registered at, which whoever configures it
			// knows (here: the one the harness started).
			actx, cancel := context.WithDeadline(context.Background(), deadline)
			meta, err := oauthuser.AuthorizationServer(actx, nil, serverURL)
			cancel()
			if err != nil {
				return err
			}
			args = append(args, "--oauth-client-secret", "env:IDEEMU_CLIENT_SECRET", "--oauth-issuer", meta.Issuer)
			env = append(env, "IDEEMU_CLIENT_SECRET="+cc.ClientSecret)
		}
	}
	cmd := exec.Command("mcpgov", args...)
	cmd.Stderr = os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ideemuEnv+"=") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return callEveryTool(deadline, cmd, os.Stderr, false)
}

// callEveryTool is ideemu's client: it connects to the shim cmd runs,
// lists the tools and calls each with sampleArgs, noting each answer in
// log. A tool error fails it when toolErrorsFail.
func callEveryTool(deadline time.Time, cmd *exec.Cmd, log io.Writer, toolErrorsFail bool) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpgov-ideemu", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		return err
	}
	defer cs.Close()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		return err
	}
	for _, tool := range lt.Tools {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: sampleArgs(tool)})
		if err != nil {
			return fmt.Errorf("call %s: %w", tool.Name, err)
		}
		b, _ := json.Marshal(res)
		if res.IsError && toolErrorsFail {
			return fmt.Errorf("call %s: a tool error: %s", tool.Name, b)
		}
		fmt.Fprintf(log, "ideemu: %s -> %s\n", tool.Name, b)
	}
	return nil
}

// sampleArgs fills each property of the tool's input schema with a value of
// its type (numbers 1, strings "x", booleans true).
func sampleArgs(tool *mcp.Tool) map[string]any {
	args := map[string]any{}
	b, _ := json.Marshal(tool.InputSchema)
	var schema struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	json.Unmarshal(b, &schema)
	for name, p := range schema.Properties {
		switch p.Type {
		case "number", "integer":
			args[name] = 1
		case "boolean":
			args[name] = true
		default:
			args[name] = "x"
		}
	}
	return args
}

// TestShimConformanceClient runs the client scenarios of npm
// @modelcontextprotocol/conformance with ideemu, whose only path to the
// conformance server is the shim's HTTP upstream.
func TestShimConformanceClient(t *testing.T) {
	t.Parallel()
	suite := conformance.Need(t)
	for _, scenario := range []string{"initialize", "tools_call", "sse-retry"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			checks, outb, err := clientScenario(t, suite, scenario, ideemuEnv)
			if err != nil {
				t.Fatalf("conformance %s: %v\n%s\nchecks: %s", scenario, err, outb, checks)
			}
			if !strings.Contains(checks, "=SUCCESS") || strings.Contains(checks, "=FAILURE") {
				t.Fatalf("conformance %s: checks %s\n%s", scenario, checks, outb)
			}
			t.Logf("%s: %s", scenario, checks)
		})
	}
}

// conformanceCIMD is the client id auth/basic-cimd expects: the URL of
// the client's metadata document.
const conformanceCIMD = "https://conformance-test.local/client-metadata.json"

// shimAuthScenarios are the auth/* client scenarios ideemu passes with
// the shim as its OAuth client. Not here: the client-credentials and
// cross-app-access extensions (no person's consent; the gateway's
// oauth_client covers client credentials).
var shimAuthScenarios = []string{
	"auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3",
	"auth/basic-cimd", "auth/2025-03-26-oauth-metadata-backcompat", "auth/2025-03-26-oauth-endpoint-fallback",
	"auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none",
	"auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported", "auth/scope-omitted-when-undefined",
	"auth/pre-registration", "auth/resource-mismatch", "auth/offline-access-scope", "auth/offline-access-not-supported",
	"auth/scope-step-up", "auth/scope-retry-limit",
}

// TestShimConformanceAuth runs the auth/* client scenarios of npm
// @modelcontextprotocol/conformance with ideemu: its MCP client has no
// OAuth of its own, so every check the harness makes of the OAuth client
// (discovery, registration, PKCE, resource, scopes, step-up) is a check of
// `mcpgov shim --url`. Warnings fail too.
func TestShimConformanceAuth(t *testing.T) {
	suite := conformance.Need(t)
	filter := os.Getenv("MCPGOV_CONFORMANCE_AUTH") // one scenario, while working on it
	for _, scenario := range shimAuthScenarios {
		if filter != "" && filter != scenario {
			continue
		}
		t.Run(strings.TrimPrefix(scenario, "auth/"), func(t *testing.T) {
			checks, outb, err := clientScenario(t, suite, scenario, ideemuEnv)
			if err != nil || !strings.Contains(checks, "=SUCCESS") || strings.Contains(checks, "=FAILURE") || strings.Contains(checks, "=WARNING") {
				t.Fatalf("conformance %s: %v\nchecks: %s\n%s", scenario, err, checks, outb)
			}
			t.Logf("%s: %s", scenario, checks)
		})
	}
}
