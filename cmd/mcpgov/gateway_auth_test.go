//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// authGateway is a gateway with inbound authentication: Dex as its
// identity provider, personal tokens in its state directory, two real
// servers (server-everything over stdio for group eng, the go-sdk
// conformance server over HTTP for group ops) and an audit trail.
type authGateway struct {
	Base     string
	Dex      *dex
	Env      []string
	AuditDir string
	Home     string
	Stderr   func() string
}

func startAuthGateway(t *testing.T) *authGateway {
	t.Helper()
	everything := needEverything(t)
	d := startDex(t, "5m")
	conf := startConformanceHTTP(t, buildConformanceServer(t))
	bundle := catalogBundle(t, fmt.Sprintf(`[catalog]
name = "rbac"
mode = "enforce"
[servers.everything]
status = "approved"
groups = ["eng"]
[servers.everything.launch]
command = %q
args = ["stdio"]
[servers.everything.tools.groups]
get-env = ["mcp-admins"]
[servers.conf]
status = "approved"
groups = ["ops"]
[servers.conf.launch]
url = %q
`, everything, conf))
	g := &authGateway{Dex: d, AuditDir: filepath.Join(t.TempDir(), "audit")}
	g.Env = sandboxEnv(t, "MCPGOV_AUDIT_DIR="+g.AuditDir)
	g.Home = envValue(g.Env, "HOME")
	if err := os.MkdirAll(filepath.Join(g.Home, ".config", "mcpgov"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(g.Home, ".config", "mcpgov", "config.toml"), fmt.Sprintf(`[gateway]
inventory_readers = ["mcp-admins"]
[[gateway.issuers]]
url = %q
audience = "mcpgov-gateway"
groups_claim = "groups"
`, d.Issuer))

	g.Base, g.Stderr = serveGateway(t, g.Env, "--bundle", bundle)
	return g
}

// mcpgov runs the real binary in the gateway's environment.
func (g *authGateway) mcpgov(t *testing.T, args ...string) string {
	t.Helper()
	return runMcpgov(t, g.Env, args...)
}

// token issues a token and returns it with its id.
func (g *authGateway) token(t *testing.T, args ...string) (string, string) {
	t.Helper()
	tok, rec := g.issue(t, args...)
	return tok, rec.ID
}

type issued struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

func (g *authGateway) issue(t *testing.T, args ...string) (string, issued) {
	t.Helper()
	var out struct {
		Token  string `json:"token"`
		Record issued `json:"record"`
	}
	if err := json.Unmarshal([]byte(g.mcpgov(t, append([]string{"gateway", "token", "create", "--json"}, args...)...)), &out); err != nil {
		t.Fatal(err)
	}
	return out.Token, out.Record
}

// records returns the trail's tool_call records.
func (g *authGateway) records(t *testing.T) []map[string]any {
	t.Helper()
	out := g.mcpgov(t, "audit", "query", "--dir", g.AuditDir, "--kind", "tool_call", "--format", "jsonl")
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func connectBearer(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "gateway-auth-test", Version: "1"}, nil)
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token}}}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func listNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	lt, err := cs.ListTools(await.Context(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// inspector runs MCP Inspector's CLI against url with a bearer token; it
// must run as build/index.js from a directory whose parent holds a
// package.json (see testdata/script/shim_inspector.txtar).
func inspector(t *testing.T, url, token string, args ...string) (string, error) {
	t.Helper()
	link, err := exec.LookPath("mcp-inspector-cli")
	if err != nil {
		t.Skip("inspector-cli is not installed; make test installs it into .cache/npm")
	}
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "package.json"), "{}")
	work := filepath.Join(dir, "sub")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(await.Context(t), "node", append([]string{filepath.Join(filepath.Dir(real), "index.js"), url,
		"--transport", "http", "--header", "Authorization: Bearer " + token}, args...)...)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestGatewayAuth: a Dex-issued JWT and a personal token each reach the
// gateway through real clients (MCP Inspector CLI, Claude Code, the go-sdk
// client); their groups decide which servers /mcp aggregates and which
// tools they may call; every record names the verified identity; and each
// bad credential gets a precise 401 and, for an attempted call, a record.
func TestGatewayAuth(t *testing.T) {
	g := startAuthGateway(t)
	dexTok := passwordToken(t, g.Dex, "mcpgov-cli", "openid profile email groups "+gatewayScope)["access_token"].(string)
	pat, patID := g.token(t, "--user", "ann@example.com", "--groups", "eng", "--expires", "1h")

	t.Run("inspector with a Dex token", func(t *testing.T) {
		out, err := inspector(t, g.Base+"/mcp", dexTok, "--method", "tools/call", "--tool-name", "everything__echo", "--tool-arg", "message=from-dex")
		if err != nil || !strings.Contains(out, "Echo: from-dex") {
			t.Fatalf("%v\n%s\n%s", err, out, g.Stderr())
		}
		// Alice is in eng and mcp-admins: get-env is hers; conf (ops) is not.
		out, err = inspector(t, g.Base+"/mcp", dexTok, "--method", "tools/list")
		if err != nil || !strings.Contains(out, `"name": "everything__get-env"`) || strings.Contains(out, "conf__") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("inspector with a personal token", func(t *testing.T) {
		out, err := inspector(t, g.Base+"/servers/everything/mcp", pat, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=from-pat")
		if err != nil || !strings.Contains(out, "Echo: from-pat") {
			t.Fatalf("%v\n%s\n%s", err, out, g.Stderr())
		}
		out, err = inspector(t, g.Base+"/servers/everything/mcp", pat, "--method", "tools/call", "--tool-name", "get-env")
		if err == nil || !strings.Contains(out, "Unknown tool: get-env") {
			t.Fatalf("get-env for eng only: %v\n%s", err, out)
		}
	})
	t.Run("claude code", func(t *testing.T) {
		if ok, err := haveProgram("claude"); err != nil || !ok {
			t.Skip("claude is not installed; make test installs it into .cache/npm")
		}
		home := t.TempDir()
		proj := filepath.Join(home, "proj")
		if err := os.MkdirAll(proj, 0o755); err != nil {
			t.Fatal(err)
		}
		env := append(sandboxEnv(t), "HOME="+home, "MCP_TIMEOUT=600000", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
		claude := func(args ...string) string {
			cmd := exec.CommandContext(await.Context(t), "claude", args...)
			cmd.Env, cmd.Dir = env, proj
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("claude %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		claude("mcp", "add", "--transport", "http", "gw-dex", g.Base+"/mcp", "--header", "Authorization: Bearer "+dexTok)
		claude("mcp", "add", "--transport", "http", "gw-pat", g.Base+"/servers/everything/mcp", "--header", "Authorization: Bearer "+pat)
		claude("mcp", "add", "--transport", "http", "gw-none", g.Base+"/mcp")
		out := claude("mcp", "list")
		for _, name := range []string{"gw-dex", "gw-pat"} {
			if !regexpMatch(name+`: \S+ \(HTTP\) - . Connected`, out) {
				t.Errorf("claude mcp list does not show %s connected:\n%s", name, out)
			}
		}
		if regexpMatch(`gw-none: \S+ \(HTTP\) - . Connected`, out) {
			t.Errorf("a client without a token connected:\n%s", out)
		}
		t.Logf("claude mcp list:\n%s", out)
	})
	t.Run("groups decide servers and tools", func(t *testing.T) {
		cs := connectBearer(t, g.Base+"/mcp", pat)
		names := listNames(t, cs)
		if !slices.Contains(names, "everything__echo") || slices.Contains(names, "everything__get-env") {
			t.Errorf("eng's tools: %v", names)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "everything__") {
				t.Errorf("eng sees %s of a server for ops", n)
			}
		}
		for _, name := range []string{"conf__test_simple_text", "everything__get-env"} {
			if _, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: name, Arguments: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
				t.Errorf("eng called %s: %v", name, err)
			}
		}
		status, body, _ := authPost(t, g.Base+"/servers/conf/mcp", pat, initRequest)
		if status != 403 || !strings.Contains(body, "ann@example.com may not use MCP server conf: it is for members of ops, and the caller's groups are eng") {
			t.Errorf("conf for eng: %d %s", status, body)
		}
		// The refusal is recorded with the caller's verified identity.
		out := g.mcpgov(t, "audit", "query", "--dir", g.AuditDir, "--kind", "server_refused", "--format", "jsonl")
		if !strings.Contains(out, `"reason":"ann@example.com may not use MCP server conf`) || !strings.Contains(out, `"method":"pat"`) {
			t.Errorf("no server_refused record for conf:\n%s", out)
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		other := startDex(t, "5m")
		unknownIss := passwordToken(t, other, "mcpgov-cli", "openid profile email groups "+gatewayScope)["access_token"].(string)
		wrongAud := passwordToken(t, g.Dex, "other-app", "openid profile email groups")["access_token"].(string)
		revoked, revokedID := g.token(t, "--user", "bob@example.com", "--groups", "eng", "--expires", "1h")
		if status, _, _ := authPost(t, g.Base+"/mcp", revoked, initRequest); status != 200 {
			t.Fatalf("the token to revoke does not work: %d", status)
		}
		g.mcpgov(t, "gateway", "token", "revoke", revokedID)
		expired, exp := g.issue(t, "--service", "nightly", "--groups", "eng", "--expires", "1s")
		await.Until(t, "the one-second token expiring", func() bool { return time.Now().After(exp.Expires) })
		call := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"x"}}}`
		before := len(g.records(t))
		cases := []struct {
			name, token, want string
		}{
			{"no token", "", "authentication required: no bearer token"},
			{"expired", expired, "token expired: service token"},
			{"wrong audience", wrongAud, `wrong audience: the token is for audience "other-app", not the gateway's "mcpgov-gateway"`},
			{"unknown issuer", unknownIss, fmt.Sprintf("unknown issuer: the token was issued by %q, which is not one of the gateway's identity providers", other.Issuer)},
			{"revoked", revoked, "token revoked: personal token " + revokedID + " (bob@example.com) was revoked at"},
			{"unknown token", "mcpgov_pat_AAAA", "unknown token: the token is not one this gateway issued"},
		}
		for _, c := range cases {
			status, raw, hdr := authPost(t, g.Base+"/mcp", c.token, call)
			var answer struct {
				Error struct{ Message string } `json:"error"`
			}
			json.Unmarshal([]byte(raw), &answer)
			body := answer.Error.Message
			challenge := hdr.Get("WWW-Authenticate")
			if status != 401 || !strings.Contains(body, c.want) || !strings.HasPrefix(challenge, `Bearer resource_metadata="`+g.Base+"/.well-known/oauth-protected-resource/mcp\"") {
				t.Errorf("%s: %d %q %q, want 401 with %q", c.name, status, body, challenge, c.want)
			}
			if c.token != "" && !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("%s: challenge without invalid_token: %q", c.name, challenge)
			}
		}
		recs := g.records(t)[before:]
		if len(recs) != len(cases) {
			t.Fatalf("%d records of refused calls, want %d: %v", len(recs), len(cases), recs)
		}
		for i, r := range recs {
			id, _ := r["identity"].(map[string]any)
			if r["outcome"] != "denied" || r["tool"] != "everything__echo" || id["method"] != "none" || !strings.Contains(fmt.Sprint(r["reason"]), cases[i].want[strings.Index(cases[i].want, ":")+1:]) {
				t.Errorf("record %d (%s): %v", i, cases[i].name, r)
			}
		}
		resp, err := http.Get(g.Base + "/.well-known/oauth-protected-resource/mcp")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if doc["resource"] != g.Base+"/mcp" || fmt.Sprint(doc["authorization_servers"]) != "["+g.Dex.Issuer+"]" {
			t.Errorf("protected-resource metadata: %v", doc)
		}
	})

	// Every allowed call is recorded with the verified identity.
	methods := map[string]bool{}
	for _, r := range g.records(t) {
		id, _ := r["identity"].(map[string]any)
		if r["outcome"] != "allowed" {
			continue
		}
		methods[fmt.Sprint(id["method"])] = true
		switch id["method"] {
		case "jwt":
			if id["issuer"] != g.Dex.Issuer || id["subject"] == "" || !strings.Contains(fmt.Sprint(id["groups"]), "mcp-admins") {
				t.Errorf("jwt record: %v", id)
			}
		case "pat":
			if id["subject"] != "ann@example.com" || id["issuer"] != "mcpgov-gateway" {
				t.Errorf("pat record: %v", id)
			}
		default:
			t.Errorf("allowed call with identity %v", id)
		}
	}
	if !methods["jwt"] || !methods["pat"] {
		t.Errorf("allowed calls by method: %v", methods)
	}
	// The personal token's last use is listed.
	out := g.mcpgov(t, "gateway", "token", "list", "--json")
	if !strings.Contains(out, `"id": "`+patID+`"`) || !strings.Contains(out, `"last_used"`) || strings.Contains(out, pat) {
		t.Errorf("token list:\n%s", out)
	}
}

const initRequest = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func authPost(t *testing.T, url, token, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String(), resp.Header
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
