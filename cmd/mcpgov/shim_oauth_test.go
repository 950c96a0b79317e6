//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/zalando/go-keyring"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// shimOAuthSandbox is a sandboxed home with a real Secret Service, Dex,
// and a remote MCP server that takes only Dex's bearer tokens for the
// public client (testdata/mcp-bearer, its own process).
type shimOAuthSandbox struct {
	t        *testing.T
	dex      *oauthusertest.Dex
	upstream string
	env      []string
	bundle   string
	browsed  string // CONSENT_BROWSER_LOG
}

func newShimOAuthSandbox(t *testing.T) *shimOAuthSandbox {
	s := &shimOAuthSandbox{t: t}
	s.dex = oauthusertest.StartDex(t, "http://127.0.0.1:1/unused")
	s.upstream = oauthusertest.StartBearerServer(t, s.dex.Issuer, oauthusertest.PublicClientID, "-introspect")
	s.env = sandboxEnv(t, "MCPGOV_AUDIT_DIR="+filepath.Join(t.TempDir(), "audit"))
	home := envValue(s.env, "HOME")
	bus := startSecretService(t, home)
	s.browsed = filepath.Join(t.TempDir(), "browser.log")
	s.env = append(s.env, "DBUS_SESSION_BUS_ADDRESS="+bus, "CONSENT_BROWSER_LOG="+s.browsed, "DISPLAY=", "WAYLAND_DISPLAY=", "MCPGOV_BROWSER=")
	s.bundle = t.TempDir()
	writeFile(t, filepath.Join(s.bundle, "catalog.toml"), fmt.Sprintf("[catalog]\nmode = \"enforce\"\n[servers.notes]\nstatus = \"approved\"\n[servers.notes.launch]\nurl = %q\n", s.upstream))
	return s
}

// command is `mcpgov shim --url` for the remote server with the public
// client, and extra environment.
func (s *shimOAuthSandbox) command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	args = append([]string{"shim", "--bundle", s.bundle, "--url", s.upstream, "--oauth-client-id", oauthusertest.PublicClientID,
		"--oauth-scopes", "openid email offline_access"}, args...)
	cmd := exec.CommandContext(ctx, "mcpgov", args...)
	cmd.Env = append(append([]string{}, s.env...), env...)
	return cmd
}

// connect starts the shim as an MCP client does and initializes.
func (s *shimOAuthSandbox) connect(caps *mcp.ClientOptions, env []string, args ...string) (*mcp.ClientSession, *syncBuffer, error) {
	ctx := await.Context(s.t)
	cmd := s.command(ctx, env, args...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "shim-oauth-e2e", Version: "1"}, caps)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err == nil {
		s.t.Cleanup(func() { cs.Close() })
	}
	return cs, stderr, err
}

func whoami(t *testing.T, cs *mcp.ClientSession) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	return text, res.IsError
}

// keyringItem reads the shim's keyring item for the server from the
// sandbox's Secret Service (go-keyring in this process, on its bus).
func (s *shimOAuthSandbox) keyringItem() (string, error) {
	s.t.Setenv("DBUS_SESSION_BUS_ADDRESS", envValue(s.env, "DBUS_SESSION_BUS_ADDRESS"))
	return keyring.Get("mcpgov-oauth:"+s.upstream, "local")
}

// TestShimOAuthBrowser: `mcpgov shim --url` fronting a remote server that
// answers 401 with a Bearer challenge finds Dex from the server's
// protected-resource metadata, opens the browser (MCPGOV_BROWSER, a
// scripted browser that signs in at Dex) with a PKCE consent whose
// redirect is the shim's loopback endpoint, and sends the initialize again
// once the grant is in: the client sees no failure, and whoami answers
// alice. The grant lives in the Secret Service; a second shim uses it
// without any consent; nothing on stderr holds a token.
func TestShimOAuthBrowser(t *testing.T) {
	s := newShimOAuthSandbox(t)
	cs, stderr, err := s.connect(nil, []string{"MCPGOV_BROWSER=dex-consent-browser"})
	if err != nil {
		t.Fatalf("initialize through the shim: %v\n%s\ndex:\n%s", err, stderr, s.dex.Log)
	}
	if who, isErr := whoami(t, cs); isErr || who != oauthusertest.User {
		t.Fatalf("whoami = %q (error %v), want %s\n%s", who, isErr, oauthusertest.User, stderr)
	}
	if b, _ := os.ReadFile(s.browsed); strings.TrimSpace(string(b)) != "200" {
		t.Fatalf("browser log %q: want one consent answered 200", b)
	}
	if !strings.Contains(stderr.String(), "opened the browser to authorize") {
		t.Errorf("stderr does not say the browser was opened:\n%s", stderr)
	}
	cs.Close()
	if item, err := s.keyringItem(); err != nil || !strings.Contains(item, "refresh_token") {
		t.Errorf("no grant in the Secret Service: %v", err)
	}

	// A second shim: the grant from the keyring, no browser.
	cs2, stderr2, err := s.connect(nil, []string{"MCPGOV_BROWSER=dex-consent-browser"})
	if err != nil {
		t.Fatalf("second shim: %v\n%s", err, stderr2)
	}
	if who, _ := whoami(t, cs2); who != oauthusertest.User {
		t.Fatalf("second shim whoami = %q\n%s", who, stderr2)
	}
	if b, _ := os.ReadFile(s.browsed); strings.Count(string(b), "\n") != 1 {
		t.Errorf("the second shim opened the browser again: %q", b)
	}
	for _, out := range []string{stderr.String(), stderr2.String()} {
		if strings.Contains(out, "eyJ") || strings.Contains(out, "state=") {
			t.Errorf("stderr holds a token or a consent state:\n%s", out)
		}
	}
	// The grant is recorded (kind credential, the catalog entry), never a
	// token.
	query := exec.Command("mcpgov", "audit", "query", "--format", "jsonl")
	query.Env = s.env
	records, err := query.Output()
	if err != nil {
		t.Fatalf("audit query: %v", err)
	}
	var grants int
	for _, line := range strings.Split(strings.TrimSpace(string(records)), "\n") {
		var r struct {
			Kind, Outcome string
			Server        struct{ ID string }
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Kind == "credential" && r.Outcome == "grant" && r.Server.ID == "notes" {
			grants++
		}
	}
	if grants != 1 || strings.Contains(string(records), "eyJ") {
		t.Errorf("records: %d grant records of notes (want 1), or a token in them:\n%s", grants, records)
	}

	// logout (no local login here) removes the shim's grant from the
	// Secret Service. Its client was given with --oauth-client-id, which
	// a client's config names (here Cursor's); Dex, found again through
	// the server's metadata, has no revocation endpoint, and logout says
	// the grant stays valid there. A third shim needs a consent again.
	cursor := filepath.Join(envValue(s.env, "HOME"), ".cursor", "mcp.json")
	if err := os.MkdirAll(filepath.Dir(cursor), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cursor, `{"mcpServers": {"notes": {"command": "mcpgov", "args": ["shim", "--url", "`+s.upstream+`", "--oauth-client-id", "`+oauthusertest.PublicClientID+`"]}}}`)
	logout := exec.Command("mcpgov", "logout")
	logout.Env = s.env
	out, err := logout.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "removed the shim's OAuth grant for "+s.upstream+" from the keyring, but did not revoke it: its authorization server offers no revocation endpoint (RFC 7009)") {
		t.Errorf("logout: %v\n%s", err, out)
	}
	if _, err := s.keyringItem(); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("the shim's grant after logout: %v, want none", err)
	}
	cs3, stderr3, err := s.connect(nil, []string{"MCPGOV_BROWSER=dex-consent-browser"})
	if err != nil {
		t.Fatalf("third shim: %v\n%s", err, stderr3)
	}
	defer cs3.Close()
	if b, _ := os.ReadFile(s.browsed); strings.Count(string(b), "\n") != 2 {
		t.Errorf("the shim after logout did not ask for a consent again: browser log %q", b)
	}
}

var consentLink = regexp.MustCompile(`http://127\.0\.0\.1:\d+/dex/auth\?[^\s"\\]+`)

// TestShimOAuthLink: without a browser (--no-browser) the initialize is
// answered with the consent link: as a URL-mode elicitation (-32042) to a
// client that declared elicitation.url, else in the error's text. The
// client gives up, and the shim keeps its redirect endpoint up until the
// consent comes (Linger); the grant lands in the keyring and the client's
// next start works.
func TestShimOAuthLink(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)

	// A raw client, to see the answers as they are.
	cmd := s.command(ctx, nil, "--no-browser")
	shim := startRawStdio(t, cmd)
	stdin, stderr := shim.stdin, shim.stderr
	plain := shim.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	var plainErr struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(plain), &plainErr); err != nil || !strings.Contains(plainErr.Error.Message, "needs your permission") || !consentLink.MatchString(plainErr.Error.Message) {
		t.Fatalf("initialize without consent, no URL elicitation: %s\n%s", plain, stderr)
	}
	urlMode := shim.send(`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`)
	el, err := consentElicitation(urlMode)
	if err != nil || el.Mode != "url" {
		t.Fatalf("initialize without consent, URL elicitation: %s (%v)", urlMode, err)
	}
	link := el.URL
	if link != consentLink.FindString(plainErr.Error.Message) {
		t.Errorf("two consent links for one grant in flight:\n%s\n%s", link, plain)
	}
	// The client gives up; the shim waits for the consent.
	stdin.Close()
	await.Until(t, "the shim to say it waits for the consent", func() bool { return strings.Contains(stderr.String(), "waiting up to") })
	status, page, err := oauthusertest.Consent(ctx, link)
	if err != nil || status != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s\nshim:\n%s", status, err, page, stderr)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the shim after the consent: %v\n%s", err, stderr)
	}
	// The client's next start: the grant from the keyring.
	cs, stderr2, err := s.connect(nil, nil, "--no-browser")
	if err != nil {
		t.Fatalf("after consent: %v\n%s", err, stderr2)
	}
	if who, _ := whoami(t, cs); who != oauthusertest.User {
		t.Fatalf("whoami after consent = %q\n%s", who, stderr2)
	}
	if strings.Contains(stderr.String(), "eyJ") || strings.Contains(stderr.String(), "state=") {
		t.Errorf("stderr holds a token or the consent state:\n%s", stderr)
	}
}

// TestShimOAuthRevoked: mid-session every token Dex issued stops working
// (a restart: new signing keys, grants gone). The next call is refused by
// the server (401), the shim's refresh is refused too, and the call is
// answered with a new consent link (a tool error) instead of a bare
// failure; after consenting, the same session's call works, and another
// shim running meanwhile picks the new grant up from the keyring without
// a consent of its own.
func TestShimOAuthRevoked(t *testing.T) {
	s := newShimOAuthSandbox(t)
	withBrowser, stderrA, err := s.connect(nil, []string{"MCPGOV_BROWSER=dex-consent-browser"})
	if err != nil {
		t.Fatalf("initialize: %v\n%s", err, stderrA)
	}
	if who, _ := whoami(t, withBrowser); who != oauthusertest.User {
		t.Fatalf("whoami = %q\n%s", who, stderrA)
	}
	noBrowser, stderrB, err := s.connect(nil, nil, "--no-browser")
	if err != nil {
		t.Fatalf("initialize (--no-browser, grant in the keyring): %v\n%s", err, stderrB)
	}
	if who, _ := whoami(t, noBrowser); who != oauthusertest.User {
		t.Fatalf("whoami (--no-browser) = %q\n%s", who, stderrB)
	}

	s.dex.Restart(t)
	text, isErr := whoami(t, noBrowser)
	link := consentLink.FindString(text)
	if !isErr || !strings.Contains(text, "needs your permission") || link == "" {
		t.Fatalf("the call after the grant was revoked: error %v, %q\n%s", isErr, text, stderrB)
	}
	if status, page, err := oauthusertest.Consent(await.Context(t), link); err != nil || status != http.StatusOK {
		t.Fatalf("consent again: %d %v\n%s\n%s", status, err, page, stderrB)
	}
	if who, isErr := whoami(t, noBrowser); isErr || who != oauthusertest.User {
		t.Fatalf("whoami after consenting again = %q\n%s", who, stderrB)
	}
	if who, isErr := whoami(t, withBrowser); isErr || who != oauthusertest.User {
		t.Fatalf("the other shim after the new grant: %q\n%s", who, stderrA)
	}
	if b, _ := os.ReadFile(s.browsed); strings.Count(string(b), "\n") != 1 {
		t.Errorf("browser opened %q; want once, before the revocation", b)
	}
}

// TestShimOAuthElicitationComplete: a client that declared URL
// elicitation gets the consent as -32042; once the person consents, the
// shim tells it with notifications/elicitation/complete (the elicitation's
// id), and its retried initialize works on the same connection.
func TestShimOAuthElicitationComplete(t *testing.T) {
	s := newShimOAuthSandbox(t)
	ctx := await.Context(t)
	cmd := s.command(ctx, nil, "--no-browser")
	shim := startRawStdio(t, cmd)
	t.Cleanup(func() { shim.stdin.Close(); cmd.Wait() })
	recv, stderr := shim.recv, shim.stderr
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}}`
	answer := shim.send(initialize)
	el, err := consentElicitation(answer)
	if err != nil {
		t.Fatalf("initialize without consent: %s (%v)", answer, err)
	}
	if status, page, err := oauthusertest.Consent(ctx, el.URL); err != nil || status != http.StatusOK {
		t.Fatalf("consent: %d %v\n%s", status, err, page)
	}
	var note struct {
		Method string
		Params struct {
			ElicitationID string `json:"elicitationId"`
		}
	}
	if got := recv(); json.Unmarshal([]byte(got), &note) != nil || note.Method != "notifications/elicitation/complete" || note.Params.ElicitationID != el.ElicitationID {
		t.Fatalf("after the consent the client got %s; want notifications/elicitation/complete for %s", got, el.ElicitationID)
	}
	if got := shim.send(initialize); !strings.Contains(got, `"result"`) || !strings.Contains(got, `"id":1`) {
		t.Fatalf("the retried initialize: %s\n%s", got, stderr)
	}
}
