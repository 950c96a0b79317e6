package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim"
	"github.com/mcpgov/mcpgov/shim/creds"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// stdioKeyEnv is the variable the stdio test server's key tool reports.
const stdioKeyEnv = "UPSTREAM_API_KEY"

// credGov is fakeGov with outbound credentials from an Injector, as
// govern.GatewayGovernance gives them.
type credGov struct {
	*fakeGov
	inj *creds.Injector
}

func (g *credGov) Credentials(ctx context.Context, r *http.Request, who audit.Identity, srv gateway.Server) (shim.Credentials, error) {
	return g.inj.For(ctx, creds.Request{Server: g.entries[srv.ID], User: creds.UserOf(who), Stdio: srv.URL == "", Inbound: r})
}

// seen records what an upstream received: each request's credential
// headers and api_key query parameter.
type seen struct {
	mu   sync.Mutex
	reqs []http.Header
}

func (s *seen) all(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, h := range s.reqs {
		if v := h.Get(name); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// keyUpstream is a go-sdk Streamable HTTP server whose tool "key" answers
// with the credentials its request carried; every request is recorded.
func keyUpstream(t *testing.T, name string) (string, *seen) {
	t.Helper()
	rec := &seen{}
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "key", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			h := req.Extra.Header
			text := fmt.Sprintf("auth=%s x-key=%s query=%s", h.Get("Authorization"), h.Get("X-Api-Key"), h.Get("X-Seen-Query"))
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
		})
	inner := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Seen-Query", r.URL.Query().Get("api_key"))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Header.Clone())
		rec.mu.Unlock()
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, rec
}

type credFixture struct {
	url    string
	vault  *vault.Vault
	events func() []vault.Event
	seen   map[string]*seen
}

// credGateway serves, each on its own endpoint: shared (a shared key in a
// header, from env:), query (a shared key as ?api_key=), peruser (each
// person's key from the vault), hdrs (caller headers), pass (passthrough
// for audience "https://pass.example"), and stdio (a shared key in the
// launched process's environment). The caller is X-Test-User.
func credGateway(t *testing.T, more ...catalog.Server) *credFixture {
	t.Helper()
	st, err := vault.OpenFile(filepath.Join(t.TempDir(), "vault.json"), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []vault.Event
	v := &vault.Vault{Store: st, Audit: func(e vault.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }}
	env := map[string]string{"SHARED_KEY": "shared-key-5a7c9e1f", "STDIO_KEY": "stdio-key-2b4d6f80", "CC_SECRET": ccSecret}
	inj := &creds.Injector{Vault: v, Secrets: &secretref.Resolver{Getenv: func(k string) string { return env[k] }, Sources: map[string]secretref.Source{"vault": v}}}
	fx := &credFixture{vault: v, seen: map[string]*seen{}, events: func() []vault.Event { mu.Lock(); defer mu.Unlock(); return append([]vault.Event(nil), events...) }}
	gov := &fakeGov{entries: map[string]*catalog.Server{}, virtual: map[string]gateway.Virtual{}}
	add := func(id string, a catalog.Auth) {
		url, rec := keyUpstream(t, id)
		fx.seen[id] = rec
		gov.servers = append(gov.servers, gateway.Server{ID: id, URL: url})
		gov.entries[id] = &catalog.Server{ID: id, Status: catalog.StatusApproved, Auth: a}
	}
	add("shared", catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:SHARED_KEY", Header: "Authorization", Prefix: "Bearer "})
	add("query", catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:SHARED_KEY", Query: "api_key"})
	add("peruser", catalog.Auth{Type: catalog.AuthAPIKeyPerUser, Header: "X-Api-Key"})
	add("hdrs", catalog.Auth{Type: catalog.AuthHeaders})
	add("other", catalog.Auth{Type: catalog.AuthHeaders})
	add("pass", catalog.Auth{Type: catalog.AuthPassthrough, Audience: "https://pass.example"})
	for _, m := range more {
		add(m.ID, m.Auth)
	}
	gov.servers = append(gov.servers, gateway.Server{ID: "stdio", Command: []string{os.Args[0]}})
	gov.entries["stdio"] = &catalog.Server{ID: "stdio", Status: catalog.StatusApproved, Auth: catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:STDIO_KEY", Env: stdioKeyEnv}}
	t.Setenv(stdioServerEnv, "1")

	ts, _ := serveGateway(t, gateway.Options{Governance: &credGov{fakeGov: gov, inj: inj},
		Identify: func(r *http.Request) (audit.Identity, error) {
			if u := r.Header.Get("X-Test-User"); u != "" {
				return audit.Identity{Method: "jwt", Subject: u}, nil
			}
			return audit.Identity{Method: "anonymous"}, nil
		}})
	fx.url = ts.URL
	return fx
}

func mustKey(t *testing.T) []byte {
	k, err := vault.ParseKey(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// callKey opens a session on server's endpoint with the given request
// headers and calls tool key; it returns the text, or the error.
func callKey(t *testing.T, fx *credFixture, server string, headers map[string]string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	defer cancel()
	hc := &http.Client{Transport: headerRT(headers)}
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: fx.url + "/servers/" + server + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		return "", err
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "key", Arguments: map[string]any{}})
	if err != nil {
		return "", err
	}
	return res.Content[0].(*mcp.TextContent).Text, nil
}

type headerRT map[string]string

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestCredentialsSharedKey(t *testing.T) {
	fx := credGateway(t)
	got, err := callKey(t, fx, "shared", nil)
	if err != nil || !strings.Contains(got, "auth=Bearer shared-key-5a7c9e1f ") {
		t.Fatalf("shared key in a header: %q, %v", got, err)
	}
	got, err = callKey(t, fx, "query", nil)
	if err != nil || !strings.Contains(got, "query=shared-key-5a7c9e1f") || strings.Contains(got, "auth=Bearer") {
		t.Fatalf("shared key in the query: %q, %v", got, err)
	}
	got, err = callKey(t, fx, "stdio", nil)
	if err != nil || got != "key=stdio-key-2b4d6f80" {
		t.Fatalf("shared key in a stdio server's environment: %q, %v", got, err)
	}
}

// Each person's key reaches the upstream for their calls; someone with no
// key stored, or nobody, gets no server — never another person's key.
func TestCredentialsPerUserKey(t *testing.T) {
	fx := credGateway(t)
	ctx := context.Background()
	if err := fx.vault.SetAPIKey(ctx, "alice", "peruser", "alice-key-11aa22bb"); err != nil {
		t.Fatal(err)
	}
	if err := fx.vault.SetAPIKey(ctx, "bob", "peruser", "bob-key-33cc44dd"); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{"alice": "x-key=alice-key-11aa22bb", "bob": "x-key=bob-key-33cc44dd"} {
		got, err := callKey(t, fx, "peruser", map[string]string{"X-Test-User": user})
		if err != nil || !strings.Contains(got, want) {
			t.Fatalf("%s: %q, %v; want %s", user, got, err, want)
		}
	}
	for _, user := range []string{"carol", ""} {
		status, body, _ := post(t, fx.url+"/servers/peruser/mcp", "", initBody, "Accept", "application/json, text/event-stream", "X-Test-User", user)
		if status != http.StatusBadGateway || !strings.Contains(body, "credentials for server peruser") {
			t.Fatalf("user %q without a key: %d %s", user, status, body)
		}
	}
	for _, k := range fx.seen["peruser"].all("X-Api-Key") {
		if k != "alice-key-11aa22bb" && k != "bob-key-33cc44dd" {
			t.Fatalf("upstream saw key %q", k)
		}
	}
	uses := 0
	for _, e := range fx.events() {
		if e.Action == vault.ActionUse && e.Server == "peruser" {
			uses++
		}
		if strings.Contains(fmt.Sprint(e), "-key-") {
			t.Fatalf("vault event holds a value: %+v", e)
		}
	}
	if uses != 2 {
		t.Fatalf("vault use events = %d, want 2", uses)
	}
}

// X-Mcpgov-Mcp-Headers delivers each server's headers to that server only.
func TestCredentialsCallerHeadersReachOnlyTheirServer(t *testing.T) {
	fx := credGateway(t)
	hdr := `{"hdrs": {"Authorization": "Bearer for-hdrs-77ee"}, "other": {"X-Api-Key": "for-other-88ff"}}`
	got, err := callKey(t, fx, "hdrs", map[string]string{creds.HeadersHeader: hdr})
	if err != nil || !strings.Contains(got, "auth=Bearer for-hdrs-77ee x-key= ") {
		t.Fatalf("hdrs: %q, %v", got, err)
	}
	got, err = callKey(t, fx, "other", map[string]string{creds.HeadersHeader: hdr})
	if err != nil || !strings.Contains(got, "auth= x-key=for-other-88ff") {
		t.Fatalf("other: %q, %v", got, err)
	}
	// The shared server is not of type headers: it gets nothing of them.
	if _, err := callKey(t, fx, "shared", map[string]string{creds.HeadersHeader: `{"shared": {"X-Api-Key": "smuggled-99"}}`}); err != nil {
		t.Fatal(err)
	}
	for id, rec := range fx.seen {
		for _, name := range []string{"X-Api-Key", "Authorization", creds.HeadersHeader} {
			for _, v := range rec.all(name) {
				if strings.Contains(v, "for-hdrs") && id != "hdrs" || strings.Contains(v, "for-other") && id != "other" || strings.Contains(v, "smuggled") || strings.Contains(v, "{") {
					t.Errorf("server %s saw %s: %s", id, name, v)
				}
			}
		}
	}
	// A duplicate member is refused, not resolved either way.
	if _, err := callKey(t, fx, "hdrs", map[string]string{creds.HeadersHeader: `{"hdrs": {"X-A": "1"}, "hdrs": {"X-A": "2"}}`}); err == nil {
		t.Fatal("duplicate server member accepted")
	}
}

func jwt(aud any) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	return enc(map[string]string{"alg": "RS256"}) + "." + enc(map[string]any{"sub": "alice", "aud": aud}) + ".c2ln"
}

// Passthrough forwards the caller's token only when it is for the
// server's audience.
func TestCredentialsPassthroughAudience(t *testing.T) {
	fx := credGateway(t)
	good := jwt([]string{"https://gateway.example", "https://pass.example"})
	got, err := callKey(t, fx, "pass", map[string]string{"Authorization": "Bearer " + good, "X-Test-User": "alice"})
	if err != nil || !strings.Contains(got, "auth=Bearer "+good) {
		t.Fatalf("matching audience: %q, %v", got, err)
	}
	bad := jwt("https://gateway.example")
	status, body, _ := post(t, fx.url+"/servers/pass/mcp", "", initBody, "Accept", "application/json, text/event-stream", "Authorization", "Bearer "+bad, "X-Test-User", "alice")
	if status != http.StatusBadGateway || !strings.Contains(body, `passthrough refused: the caller's token is for \"https://gateway.example\", not the server's audience https://pass.example`) {
		t.Fatalf("token for another audience: %d %s", status, body)
	}
	for _, v := range fx.seen["pass"].all("Authorization") {
		if strings.Contains(v, bad) {
			t.Fatal("the upstream saw the token of another audience")
		}
	}
}
