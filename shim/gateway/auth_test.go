package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// rbacGov is fakeGov with group RBAC on, as the assembly's cores have it.
type rbacGov struct{ *fakeGov }

func (g rbacGov) Core(id string, s gateway.SessionInfo) (*enforce.Core, error) {
	return enforce.New(enforce.Config{Server: g.entries[id], VersionApproved: true, Mode: catalog.ModeEnforce,
		Identity: s.Identity, Session: s.ID, GroupRBAC: true}), nil
}

// bearerIdentify accepts "Bearer USER:GROUP,GROUP".
func bearerIdentify(r *http.Request) (audit.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return audit.Identity{Method: "none"}, errors.New("no bearer token")
	}
	user, groups, _ := strings.Cut(tok, ":")
	if user == "bad" {
		return audit.Identity{Method: "none"}, errors.New(`token expired at 2026-01-01T00:00:00Z ("issuer")`)
	}
	return audit.Identity{Method: "jwt", Subject: user, Groups: strings.Split(groups, ",")}, nil
}

func authGateway(t *testing.T, gov gateway.Governance, auth gateway.AuthOptions) *httptest.Server {
	t.Helper()
	ts, _ := serveGateway(t, gateway.Options{Governance: gov, Identify: bearerIdentify, Auth: auth})
	return ts
}

type headerTransport struct {
	base  http.RoundTripper
	token string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+h.token)
	return h.base.RoundTrip(r)
}

func connectAs(t *testing.T, url, token string) (*mcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(t))
	t.Cleanup(cancel)
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: headerTransport{http.DefaultTransport, token}}}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// TestAuthChallenge: a request without a valid identity gets 401 with a
// challenge pointing at the endpoint's protected-resource metadata, which
// names the identity providers; a refused tools/call is reported for the
// record; too many failures from one address get 429.
func TestAuthChallenge(t *testing.T) {
	var mu sync.Mutex
	var refused []gateway.AuthRefusal
	now := time.Now()
	ts := authGateway(t, twoServers(t), gateway.AuthOptions{
		AuthorizationServers: []string{"https://idp.example.com"},
		MaxFailures:          3, FailureWindow: time.Minute,
		Now: func() time.Time { return now },
		Refused: func(_ context.Context, a gateway.AuthRefusal) {
			mu.Lock()
			refused = append(refused, a)
			mu.Unlock()
		},
	})
	status, body, hdr := post(t, ts.URL+"/servers/alpha/mcp", "", initBody)
	want := `Bearer resource_metadata="` + ts.URL + `/.well-known/oauth-protected-resource/servers/alpha/mcp"`
	if status != 401 || hdr.Get("WWW-Authenticate") != want || !strings.Contains(body, "authentication required: no bearer token") {
		t.Fatalf("no token: %d %q %q", status, hdr.Get("WWW-Authenticate"), body)
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	status, body, hdr = post(t, ts.URL+"/servers/alpha/mcp", "sid", call, "Authorization", "Bearer bad")
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token", error_description="token expired at 2026-01-01T00:00:00Z ('issuer')"`) ||
		!strings.Contains(body, `"id":7`) {
		t.Fatalf("bad token: %d %q %q", status, hdr.Get("WWW-Authenticate"), body)
	}
	mu.Lock()
	if len(refused) != 1 || refused[0].Tool != "echo" || refused[0].Server != "alpha" || !strings.Contains(refused[0].Reason, "expired") {
		t.Errorf("refused call not reported: %+v", refused)
	}
	mu.Unlock()

	resp, err := http.Get(ts.URL + "/.well-known/oauth-protected-resource/servers/alpha/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["resource"] != ts.URL+"/servers/alpha/mcp" || !slices.Equal(anyStrings(doc["authorization_servers"]), []string{"https://idp.example.com"}) {
		t.Fatalf("metadata: %v", doc)
	}
	if resp, _ := http.Get(ts.URL + "/.well-known/oauth-protected-resource/etc/passwd"); resp.StatusCode != 404 {
		t.Fatalf("metadata of no endpoint: %d", resp.StatusCode)
	}

	// Third failure: the address is now held off, even with a good token.
	post(t, ts.URL+"/mcp", "", initBody)
	status, body, hdr = post(t, ts.URL+"/mcp", "", initBody, "Authorization", "Bearer ann:eng")
	if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "too many failed authentications") {
		t.Fatalf("limit: %d %q", status, body)
	}
	now = now.Add(time.Minute)
	if status, _, _ = post(t, ts.URL+"/mcp", "", initBody, "Authorization", "Bearer ann:eng"); status != 200 {
		t.Fatalf("after the window: %d", status)
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// TestGroupRBAC: the caller's groups decide which servers /mcp aggregates
// and which tools are listed and callable; a server not theirs is 403 on
// its own endpoint, with the reason.
func TestGroupRBAC(t *testing.T) {
	gov := twoServers(t)
	gov.entries["alpha"].Tools.Deny = nil
	gov.entries["alpha"].Tools.Groups = map[string][]string{"secret": {"admins"}}
	gov.entries["beta"].Groups = []string{"ops"}
	ts := authGateway(t, rbacGov{gov}, gateway.AuthOptions{})

	eng, err := connectAs(t, ts.URL+"/mcp", "ann:eng")
	if err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, eng); !slices.Equal(got, []string{"alpha__echo"}) {
		t.Errorf("eng sees %v, want alpha__echo only", got)
	}
	for _, name := range []string{"alpha__secret", "beta__echo"} {
		if _, err := callText(t, eng, name); err == nil || !strings.Contains(err.Error(), "Unknown tool") {
			t.Errorf("eng called %s: %v", name, err)
		}
	}
	admin, err := connectAs(t, ts.URL+"/mcp", "bob:admins,ops")
	if err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, admin); !slices.Equal(got, []string{"alpha__echo", "alpha__secret", "beta__echo", "beta__sum"}) {
		t.Errorf("admin sees %v", got)
	}
	if text, err := callText(t, admin, "alpha__secret"); err != nil || text != "alpha:secret" {
		t.Errorf("admin call: %q %v", text, err)
	}
	status, body, _ := post(t, ts.URL+"/servers/beta/mcp", "", initBody, "Authorization", "Bearer ann:eng")
	if status != 403 || !strings.Contains(body, "ann may not use MCP server beta: it is for members of ops, and the caller's groups are eng") {
		t.Fatalf("beta for eng: %d %s", status, body)
	}
}
