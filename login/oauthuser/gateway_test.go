package oauthuser_test

// The end-to-end rig: Dex (authorization server), the bearer-auth MCP
// server of oauthusertest (upstream), and a minimal gateway built here
// with go-sdk the way mcpgov's gateway wires the package: Token per call,
// ConsentRequired answered by Answer, RedirectHandler mounted, and the
// grant event completing the elicitation.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const upstreamID = "upstream"

// countingStore counts reads, so a test knows when concurrent callers have
// all passed their first look at the grant.
type countingStore struct {
	oauthuser.MemoryStore
	gets atomic.Int32
}

func (s *countingStore) Get(ctx context.Context, k oauthuser.Key) (oauthuser.Token, error) {
	s.gets.Add(1)
	return s.MemoryStore.Get(ctx, k)
}

// eventLog records events and lets the gateway react to grants.
type eventLog struct {
	mu      sync.Mutex
	events  []oauthuser.Event
	onGrant func(oauthuser.Event)
}

func (l *eventLog) OAuthEvent(_ context.Context, e oauthuser.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	on := l.onGrant
	l.mu.Unlock()
	if e.Kind == oauthuser.EventGrant && on != nil {
		on(e)
	}
}

func (l *eventLog) count(k oauthuser.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (l *eventLog) last(k oauthuser.EventKind) oauthuser.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if l.events[i].Kind == k {
			return l.events[i]
		}
	}
	return oauthuser.Event{}
}

type rig struct {
	dex         *oauthusertest.Dex
	upstream    *oauthusertest.ResourceServer
	mgr         *oauthuser.Manager
	store       *countingStore
	events      *eventLog
	gateway     string // the test gateway's MCP endpoint
	cfg         oauthuser.Config
	upstreamURL string
	sessions    sync.Map // elicitation id -> *mcp.ServerSession
	clients     sync.Map // *mcp.ClientSession -> *consents
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigExpiry(t, "10m")
}

// newRigExpiry is newRig with Dex's access tokens living tokenExpiry.
func newRigExpiry(t *testing.T, tokenExpiry string) *rig {
	t.Helper()
	ctx := await.Context(t)
	gwLn := oauthusertest.Listen(t)
	gwBase := "http://" + gwLn.Addr().String()
	r := &rig{store: &countingStore{}, events: &eventLog{}}
	r.dex = oauthusertest.StartDexExpiry(t, gwBase+"/oauth/callback", tokenExpiry)

	upLn := oauthusertest.Listen(t)
	upBase := "http://" + upLn.Addr().String()
	up, err := oauthusertest.NewResourceServer(ctx, r.dex.Issuer, oauthusertest.ClientID, upBase+"/mcp", upBase+"/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	r.upstream, r.upstreamURL = up, upBase+"/mcp"
	serve(t, upLn, up.Handler)

	r.mgr = &oauthuser.Manager{Store: r.store, Sink: r.events, LockDir: t.TempDir()}
	r.cfg = oauthuser.Config{
		Issuer: r.dex.Issuer, ClientID: oauthusertest.ClientID, ClientSecret: oauthusertest.ClientSecret,
		Scopes: []string{"openid", "email", "offline_access"}, RedirectURL: gwBase + "/oauth/callback",
		Resource: upBase + "/mcp",
	}
	if err := r.mgr.AddServer(upstreamID, r.cfg); err != nil {
		t.Fatal(err)
	}
	r.events.onGrant = func(e oauthuser.Event) {
		// The consent is done: tell the client that waits on it.
		if ss, ok := r.sessions.Load(e.ElicitationID); ok {
			_ = ss.(*mcp.ServerSession).NotifyElicitationComplete(context.Background(), &mcp.ElicitationCompleteParams{ElicitationID: e.ElicitationID})
		}
	}

	srv := mcp.NewServer(&mcp.Implementation{Name: "test-gateway", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "upstream's whoami, called with the user's token"}, r.whoami(upBase+"/mcp"))
	mux := http.NewServeMux()
	mux.Handle("/oauth/callback", r.mgr.RedirectHandler())
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	serve(t, gwLn, mux)
	r.gateway = gwBase + "/mcp"
	return r
}

func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// whoami is the gateway's tool: the caller's identity (a header stands in
// for the gateway's inbound auth), a token for it, the upstream call.
func (r *rig) whoami(upstreamURL string) mcp.ToolHandlerFor[struct{}, any] {
	return func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		user := req.Extra.Header.Get("X-Test-User")
		tok, err := r.mgr.Token(ctx, user, upstreamID)
		var cr *oauthuser.ConsentRequired
		if errors.As(err, &cr) {
			caps, _ := json.Marshal(req.Session.InitializeParams().Capabilities)
			urlMode, err := oauthuser.SupportsURLElicitation(caps)
			if err != nil {
				return nil, nil, err
			}
			r.sessions.Store(cr.ElicitationID, req.Session)
			if urlMode {
				return nil, nil, cr.RPCError()
			}
			return cr.ToolResult(), nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		text, err := callUpstream(ctx, upstreamURL, tok)
		if err != nil {
			return nil, nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
	}
}

type headers struct {
	base http.RoundTripper
	h    map[string]string
}

func (h headers) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range h.h {
		req.Header.Set(k, v)
	}
	return h.base.RoundTrip(req)
}

func callUpstream(ctx context.Context, url, token string) (string, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "gateway-upstream-leg", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: headers{http.DefaultTransport, map[string]string{"Authorization": "Bearer " + token}}}}, nil)
	if err != nil {
		return "", err
	}
	defer s.Close()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		return "", err
	}
	return resultText(res), nil
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// consents counts the browser consents a URL-elicitation client played.
type consents struct {
	n        atomic.Int32
	urlMode  bool
	pages    chan string
	complete chan string // elicitation ids of notifications/elicitation/complete
}

// connect opens a client session to the gateway as user. With urlMode the
// client declares URL elicitation and, like an IDE, consents when a call
// answers -32042, waits for the elicitation to complete and retries.
func (r *rig) connect(t *testing.T, user string, urlMode bool) (*mcp.ClientSession, *consents) {
	t.Helper()
	ctx := await.Context(t)
	cs := &consents{urlMode: urlMode, pages: make(chan string, 16), complete: make(chan string, 16)}
	opts := &mcp.ClientOptions{}
	if urlMode {
		opts.Capabilities = &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}}
		opts.ElicitationCompleteHandler = func(_ context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
			cs.complete <- req.Params.ElicitationID
		}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, opts)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: r.gateway,
		HTTPClient: &http.Client{Transport: headers{http.DefaultTransport, map[string]string{"X-Test-User": user}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.clients.Store(s, cs)
	return s, cs
}

// call calls whoami; a URL-elicitation client that is asked to consent
// opens the URL in its browser, waits for the completion and retries.
func (r *rig) call(t *testing.T, s *mcp.ClientSession) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(await.Context(t), &mcpCall)
	var rpcErr *jsonrpc.Error
	v, _ := r.clients.Load(s)
	if cs := v.(*consents); cs.urlMode && errors.As(err, &rpcErr) && rpcErr.Code == oauthuser.CodeURLElicitationRequired {
		var data struct {
			Elicitations []mcp.ElicitParams `json:"elicitations"`
		}
		if err := jsonv2.Unmarshal(rpcErr.Data, &data); err != nil || len(data.Elicitations) != 1 || data.Elicitations[0].Mode != "url" {
			t.Fatalf("-32042 data = %s (%v), want one url elicitation", rpcErr.Data, err)
		}
		e := data.Elicitations[0]
		cs.n.Add(1)
		status, page, cerr := oauthusertest.Consent(await.Context(t), e.URL)
		if cerr != nil || status != http.StatusOK {
			t.Fatalf("consent: %d %v\n%s\ndex log:\n%s", status, cerr, page, r.dex.Log)
		}
		cs.pages <- page
		if id := await.Recv(t, cs.complete, "notifications/elicitation/complete"); id != e.ElicitationID {
			t.Fatalf("completed elicitation %q, want %q", id, e.ElicitationID)
		}
		res, err = s.CallTool(await.Context(t), &mcpCall)
	}
	if err != nil {
		t.Fatalf("call whoami through the gateway: %v\ndex log:\n%s", err, r.dex.Log)
	}
	return res
}

// consentOnce runs a first call through a URL-elicitation client, so the
// rig's user holds a grant.
func (r *rig) consentOnce(t *testing.T, user string) *mcp.ClientSession {
	t.Helper()
	s, cs := r.connect(t, user, true)
	if got := resultText(r.call(t, s)); got != oauthusertest.User {
		t.Fatalf("whoami after consent = %q, want %q", got, oauthusertest.User)
	}
	if cs.n.Load() != 1 {
		t.Fatalf("consents = %d, want 1", cs.n.Load())
	}
	return s
}

var mcpCall = mcp.CallToolParams{Name: "whoami"}
