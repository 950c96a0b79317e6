//go:build unix

package main

// Fixtures of the gateway's end-to-end tests: the real mcpgov binary run
// in a test's environment, the catalogs the tests serve, a personal
// gateway token, raw JSON-RPC posts in a session, the consent link of a
// -32042 refusal, replicas sharing a store, a session opened by raw
// requests, and a go-sdk client connected at a pinned protocol version
// (gatewaytest has the client that keeps its progress notifications and
// the proxy that cuts a stream).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// gatewayToken issues a personal gateway token of user, valid for a day,
// in env's state directory.
func gatewayToken(t testing.TB, env []string, user string) string {
	t.Helper()
	var issued struct {
		Token string `json:"token"`
	}
	out := runMcpgov(t, env, "gateway", "token", "create", "--user", user, "--expires", "1d", "--json")
	if err := json.Unmarshal([]byte(out), &issued); err != nil || issued.Token == "" {
		t.Fatalf("gateway token create: %v\n%s", err, out)
	}
	return issued.Token
}

// notesCatalog is a catalog (enforce mode) with one approved server,
// notes, at upstream. With d, notes takes each person's own OAuth token
// from Dex (auth type oauth_user, its client secret in
// NOTES_CLIENT_SECRET).
func notesCatalog(upstream string, d *dex) string {
	text := fmt.Sprintf("[catalog]\nmode = \"enforce\"\n[servers.notes]\nstatus = \"approved\"\n[servers.notes.launch]\nurl = %q\n", upstream)
	if d != nil {
		text += fmt.Sprintf(`[servers.notes.auth]
type = "oauth_user"
issuer = %q
client_id = %q
client_secret = "env:NOTES_CLIENT_SECRET"
scopes = ["openid", "email", "offline_access"]
`, d.Issuer, oauthusertest.ClientID)
	}
	return text
}

// notesBundle starts notes, an MCP server that takes d's tokens for its
// client (oauthusertest.StartBearerServer, with flags), and writes a
// bundle whose catalog is notesCatalog; it returns the bundle.
func notesBundle(t testing.TB, d *dex, flags ...string) string {
	t.Helper()
	upstream := oauthusertest.StartBearerServer(t, d.Issuer, oauthusertest.ClientID, flags...)
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "catalog.toml"), []byte(notesCatalog(upstream, d)), 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// consentDex starts Dex as the upstream's authorization server and the
// gateway's consent issuer (testdata/idp/consent.yaml), sending browsers
// back to the gateway at base.
func consentDex(t testing.TB, base string) *dex {
	t.Helper()
	return oauthusertest.StartDexFrom(t, "testdata/idp/consent.yaml", map[string]string{
		"REDIRECT": base + "/oauth/callback", "SIGNIN": base + "/oauth/signin", "TOKEN_EXPIRY": "10m"})
}

// oauthUserEnv is the sandbox environment of a gateway serving
// notesCatalog: a new vault key and notes's client secret, then extra.
func oauthUserEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	return sandboxEnv(t, append([]string{"MCPGOV_VAULT_KEY=env:TEST_VAULT_KEY", "TEST_VAULT_KEY=" + vault.NewKey(),
		"NOTES_CLIENT_SECRET=" + oauthusertest.ClientSecret}, extra...)...)
}

// initializeURLElicitation is an initialize (2025-11-25) of a client
// that declares URL elicitation.
const initializeURLElicitation = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`

// urlElicitation is one elicitation of a -32042 refusal.
type urlElicitation struct {
	Mode, URL, ElicitationID string
}

// consentElicitation reads answer (plain JSON or one server-sent event)
// as a -32042 refusal carrying exactly one elicitation, and returns it.
func consentElicitation(answer string) (urlElicitation, error) {
	var refused struct {
		Error struct {
			Code int `json:"code"`
			Data struct {
				Elicitations []urlElicitation `json:"elicitations"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(sseData(answer)), &refused); err != nil {
		return urlElicitation{}, err
	}
	if refused.Error.Code != -32042 || len(refused.Error.Data.Elicitations) != 1 {
		return urlElicitation{}, fmt.Errorf("error %d with %d elicitations, want -32042 with one", refused.Error.Code, len(refused.Error.Data.Elicitations))
	}
	return refused.Error.Data.Elicitations[0], nil
}

// bearerPost posts one JSON-RPC message in session sid (protocol
// 2025-11-25) with token as the bearer, accepting accept, and returns the
// answer's body; a transport error ends the test.
func bearerPost(t testing.TB, url, token, sid, accept, body string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// everythingConfBundle writes a bundle (catalog name, enforce mode) with
// two approved servers, server-everything launched over stdio with its
// get-env tool denied and the go-sdk conformance server over Streamable
// HTTP, then more; it skips the test when server-everything is not
// installed.
func everythingConfBundle(t *testing.T, name, more string) string {
	t.Helper()
	everything := needEverything(t)
	upstream := startConformanceHTTP(t, buildConformanceServer(t))
	return catalogBundle(t, fmt.Sprintf(`[catalog]
name = %q
mode = "enforce"
[servers.everything]
status = "approved"
[servers.everything.launch]
command = %q
args = ["stdio"]
[servers.everything.tools]
deny = ["get-env"]
[servers.conf]
status = "approved"
[servers.conf.launch]
url = %q
`, name, everything, upstream)+more)
}

// startReplicaSet starts n replicas of bundle sharing store (startReplica)
// and returns them with their addresses, the backends of a balancer.
func startReplicaSet(t *testing.T, n int, bundle, store string) ([]*replica, []string) {
	t.Helper()
	var replicas []*replica
	var backends []string
	for range n {
		r := startReplica(t, bundle, store)
		replicas, backends = append(replicas, r), append(backends, r.addr)
	}
	return replicas, backends
}

// toolCalls is how many tools/call records of tool r's audit trail holds.
func (r *replica) toolCalls(tool string) int {
	out, _ := exec.Command("mcpgov", "audit", "query", "--dir", r.audit, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
	return strings.Count(string(out), `"tool":"`+tool+`"`)
}

// initSession opens a session (2025-11-25) at url with raw requests, as
// client: initialize, answered 200 with a session id, and
// notifications/initialized, answered 202. It returns the session id.
func initSession(t testing.TB, url, client string) string {
	t.Helper()
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"` + client + `","version":"1"}}}`
	status, body, hdr := rawPost(t, url, "", init)
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize at %s: %d %s (session %q)", url, status, body, sid)
	}
	if status, body, _ := rawPost(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != 202 {
		t.Fatalf("initialized at %s: %d %s", url, status, body)
	}
	return sid
}

// connectAt connects c through tr, pinning protocol version pin when it
// is set, and checks that want was negotiated; the session closes when
// the test ends. A failure shows log (the gateway's stderr) when given.
func connectAt(t *testing.T, c *mcp.Client, tr *mcp.StreamableClientTransport, pin, want string, log func() string) *mcp.ClientSession {
	t.Helper()
	var opts *mcp.ClientSessionOptions
	if pin != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: pin}
	}
	cs, err := c.Connect(await.Context(t), tr, opts)
	if err != nil {
		msg := ""
		if log != nil {
			msg = log()
		}
		t.Fatalf("connect %s: %v\n%s", tr.Endpoint, err, msg)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != want {
		t.Fatalf("%s: negotiated %q, want %s", tr.Endpoint, v, want)
	}
	return cs
}

// rawStdio is a raw JSON-RPC client of a started process over its stdio
// (the shim as an IDE runs it): one message a line each way, its stderr
// kept.
type rawStdio struct {
	t      *testing.T
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *syncBuffer
}

// startRawStdio starts cmd with pipes for stdin and stdout and its stderr
// kept.
func startRawStdio(t *testing.T, cmd *exec.Cmd) *rawStdio {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &rawStdio{t: t, stdin: stdin, stderr: &syncBuffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.lines = bufio.NewScanner(stdout)
	r.lines.Buffer(nil, 1<<20)
	return r
}

// write sends msg as one line.
func (r *rawStdio) write(msg string) {
	r.t.Helper()
	if _, err := io.WriteString(r.stdin, msg+"\n"); err != nil {
		r.t.Fatal(err)
	}
}

// recv is the next line the process writes; the end of its output ends
// the test.
func (r *rawStdio) recv() string {
	r.t.Helper()
	if !r.lines.Scan() {
		r.t.Fatalf("the process said nothing more\n%s", r.stderr)
	}
	return r.lines.Text()
}

// send writes msg and returns the next line.
func (r *rawStdio) send(msg string) string {
	r.t.Helper()
	r.write(msg)
	return r.recv()
}
