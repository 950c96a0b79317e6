package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// startReplicas starts n gateway replicas on bundle sharing the store at
// url, each with a state directory of its own (as on separate machines);
// extra[i], when given, are replica i's own flags.
func startReplicas(t *testing.T, n int, bundle, url string, extra ...[]string) (bases []string, logs []func() string) {
	t.Helper()
	for i := range n {
		args := []string{"--bundle", bundle, "--allow-anonymous", "--store", url}
		if i < len(extra) {
			args = append(args, extra[i]...)
		}
		base, log := serveGateway(t, sandboxEnv(t), args...)
		bases, logs = append(bases, base), append(logs, log)
	}
	return bases, logs
}

// editCatalog rewrites bundle's catalog.toml, replacing each old (the
// first of each pair) with its new, once.
func editCatalog(t *testing.T, bundle string, oldNew ...string) {
	t.Helper()
	path := filepath.Join(bundle, "catalog.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(text, oldNew[i]) {
			t.Fatalf("catalog.toml has no %q", oldNew[i])
		}
		text = strings.Replace(text, oldNew[i], oldNew[i+1], 1)
	}
	writeFileAtomic(t, path, text)
}

// callText calls tool on cs and returns its text, and whether it is a
// tool error (a refusal).
func callText(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return err.Error(), true
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

// TestGatewayReplicasShareState: three replicas share one real Redis.
// A per-user limit of 5 calls a minute holds across them exactly (calls
// spread over sessions on all three: 5 pass, the rest are refused with the
// retry time); a bundle change is enforced by every replica; with Redis
// killed, the two replicas in store_down = enforce refuse calls that need
// a counter while the one in audit counts locally and says so; once
// Redis is back, all three serve again without a restart.
func TestGatewayReplicasShareState(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	catalogPath := filepath.Join(bundle, "catalog.toml")
	cat, err := os.ReadFile(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	limited := strings.Replace(string(cat), "[servers.fake.launch]", "[servers.fake.limits.tools]\necho = 5\n[servers.fake.launch]", 1)
	writeFileAtomic(t, catalogPath, limited)
	bases, logs := startReplicas(t, 3, bundle, redis.URL(), nil, nil, []string{"--store-down", "audit"})
	ctx := await.Context(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "scale", Version: "1"}, nil)
	sessions := make([]*mcp.ClientSession, len(bases))
	for i, base := range bases {
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/fake/mcp"}, nil)
		if err != nil {
			t.Fatalf("connect to replica %d: %v\n%s", i, err, logs[i]())
		}
		defer cs.Close()
		sessions[i] = cs
	}

	passed, refused := 0, 0
	for i := range 12 {
		text, isErr := callText(t, sessions[i%3], "echo", map[string]any{"message": "hi"})
		switch {
		case !isErr && text == "hi":
			passed++
		case isErr && strings.Contains(text, "rate limit of 5 calls per minute reached for tool echo of server fake"):
			refused++
		default:
			t.Fatalf("call %d on replica %d: %q (error %v)", i, i%3, text, isErr)
		}
	}
	if passed != 5 || refused != 7 {
		t.Fatalf("across three replicas: %d passed, %d refused; want 5 and 7", passed, refused)
	}

	// A bundle change: every replica refuses add from then on.
	start := time.Now()
	writeFileAtomic(t, catalogPath, strings.Replace(limited, "[servers.fake.launch]", "[servers.fake.tools]\ndeny = [\"add\"]\n[servers.fake.launch]", 1))
	for i, cs := range sessions {
		await.Until(t, "replica enforcing the changed bundle", func() bool {
			_, isErr := callText(t, cs, "add", map[string]any{"a": 1, "b": 2})
			return isErr
		})
		t.Logf("replica %d enforces the changed bundle %v after the write", i, time.Since(start).Round(time.Millisecond))
	}

	// Redis dies: enforce replicas refuse, the audit one counts locally.
	redis.Kill()
	for i := range 2 {
		if text, isErr := callText(t, sessions[i], "echo", map[string]any{"message": "down"}); !isErr {
			t.Errorf("replica %d (store_down enforce) served a call with the store down: %q", i, text)
		}
	}
	if text, isErr := callText(t, sessions[2], "echo", map[string]any{"message": "down"}); isErr || text != "down" {
		t.Errorf("replica 2 (store_down audit) with the store down: %q (error %v)", text, isErr)
	}
	for i := range 2 {
		await.Until(t, "enforce replica reporting the outage", func() bool {
			return strings.Contains(logs[i](), "calls that need a rate-limit or budget counter, and sessions new to this replica, are refused until it is back (store_down = enforce)")
		})
	}
	await.Until(t, "audit replica reporting the degraded limits", func() bool {
		return strings.Contains(logs[2](), "rate limits and budgets are counted by this replica alone, and sessions new to it start their taint facts over, until it is back (store_down = audit)")
	})

	// Redis is back (empty: no persistence): every replica serves again.
	redis.Start()
	for i, cs := range sessions {
		await.Until(t, "replica serving again once Redis is back", func() bool {
			text, isErr := callText(t, cs, "echo", map[string]any{"message": "up"})
			return !isErr && text == "up"
		})
		await.Until(t, "replica reporting the recovery", func() bool { return strings.Contains(logs[i](), "answers again") })
	}
}

// TestGatewayReplicaStartsWhileStoreDown: a replica started while its
// Redis is down stays alive (/healthz 200), is not ready (/readyz 503
// naming the store and why), and answers MCP requests 503 with
// Retry-After; once Redis starts, it becomes ready without a restart,
// serves a session, and that session is served by a second replica too:
// it signs with the replicas' shared key, not one of its own.
func TestGatewayReplicaStartsWhileStoreDown(t *testing.T) {
	redis := statetest.Start(t)
	redis.Kill()
	bundle := writeBundle(t)
	bases, logs := startReplicas(t, 1, bundle, redis.URL())
	get := func(path string) (int, string) {
		resp, err := http.Get(bases[0] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Not ready from the start ("starting" until its first try at the
	// store fails), then with the reason.
	// /readyz is unauthenticated: it gives the reason's class, never the
	// store's address or its error; those are in the log only.
	await.Until(t, "/readyz saying the store is unavailable", func() bool {
		code, body := get("/readyz")
		if code != http.StatusServiceUnavailable || strings.Contains(body, redis.Sock) || strings.Contains(body, "unix://") {
			t.Fatalf("/readyz with the store down: %d %q", code, body)
		}
		return body == "not ready: the shared state store is unavailable\n"
	})
	code, body, _ := rawPost(t, bases[0]+"/servers/fake/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "mcpgov gateway not ready") {
		t.Fatalf("initialize with the store down: %d %q", code, body)
	}
	await.Until(t, "the replica logging the store's address and why it waits", func() bool {
		l := logs[0]()
		return strings.Contains(l, "not ready (/readyz says why) until the store answers") &&
			strings.Contains(l, "the shared state store is unavailable (unix://"+redis.Sock+")")
	})

	redis.Start()
	await.Until(t, "the replica ready once Redis is up", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	if !strings.Contains(logs[0](), "now ready") {
		t.Fatalf("no recovery note:\n%s", logs[0]())
	}
	ctx := await.Context(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "late", Version: "1"}, nil)
	// A 2025-11-25 session: what a second replica must serve from its
	// signed id (under 2026-07-28 there is no session to hand over).
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: bases[0] + "/servers/fake/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect once ready: %v\n%s", err, logs[0]())
	}
	defer cs.Close()
	if text, isErr := callText(t, cs, "echo", map[string]any{"message": "up"}); isErr || text != "up" {
		t.Fatalf("call once ready: %q (error %v)", text, isErr)
	}
	other, _ := startReplicas(t, 1, bundle, redis.URL())
	code, body, _ = rawPost(t, other[0]+"/servers/fake/mcp", cs.ID(), `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"elsewhere"}}}`)
	if code != http.StatusOK || !strings.Contains(body, `"id":7`) || !strings.Contains(body, "elsewhere") {
		t.Fatalf("the session on a second replica: %d %q", code, body)
	}
}

// TestGatewayReplicasShareBudgets: two replicas on one real Redis, a
// daily budget of 0.25 EUR per user and calls of 0.10: across sessions
// on both replicas, two calls pass and the rest are refused naming the
// budget (each replica counting alone would have let four pass).
func TestGatewayReplicasShareBudgets(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	editCatalog(t, bundle,
		"mode = \"enforce\"\n", "mode = \"enforce\"\n\n[catalog.budgets]\ncurrency = \"EUR\"\nuser_per_day = 0.25\n",
		"[servers.fake.launch]", "[servers.fake.prices]\ncall = 0.1\n\n[servers.fake.launch]")
	bases, logs := startReplicas(t, 2, bundle, redis.URL())
	ctx := await.Context(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "budgets", Version: "1"}, nil)
	passed, refused := 0, 0
	for i := range 6 {
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: bases[i%2] + "/servers/fake/mcp"}, nil)
		if err != nil {
			t.Fatalf("connect to replica %d: %v\n%s", i%2, err, logs[i%2]())
		}
		text, isErr := callText(t, cs, "echo", map[string]any{"message": "hi"})
		cs.Close()
		switch {
		case !isErr && text == "hi":
			passed++
		case isErr && strings.Contains(text, "your daily budget of 0.25 EUR is spent (0.20 so far; this call costs 0.10)"):
			refused++
		default:
			t.Fatalf("call %d on replica %d: %q (error %v)", i, i%2, text, isErr)
		}
	}
	if passed != 2 || refused != 4 {
		t.Fatalf("across two replicas: %d passed, %d refused; want 2 and 4", passed, refused)
	}
}

// TestGatewayReplicasShareTaint: the starter's session-taint policy on
// two replicas of one real Redis. A session reads private data and
// ingests untrusted content through replica 0 (echo: the server's
// data_scope is pii, echo is listed untrusted); its next call, to the
// egress tool add, goes to replica 1, which resumes the session and
// refuses the call naming the call on replica 0 that tainted it. A fresh
// session may call add on either replica.
func TestGatewayReplicasShareTaint(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	editCatalog(t, bundle, "[servers.fake.launch]", "data_scope = [\"pii\"]\n[servers.fake.tools]\nuntrusted = [\"echo\"]\negress = [\"add\"]\n[servers.fake.launch]")
	if err := os.MkdirAll(filepath.Join(bundle, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"authz.rego", "taint.rego"} {
		rego, err := os.ReadFile(filepath.Join("..", "..", "catalog", "starter", "policies", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFileAtomic(t, filepath.Join(bundle, "policies", name), string(rego))
	}
	bases, logs := startReplicas(t, 2, bundle, redis.URL())
	open := func(base string) string {
		t.Helper()
		status, body, hdr := rawPost(t, base+"/servers/fake/mcp", "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"taint","version":"1"}}}`)
		sid := hdr.Get("Mcp-Session-Id")
		if status != http.StatusOK || sid == "" {
			t.Fatalf("initialize: %d %s", status, body)
		}
		if status, body, _ := rawPost(t, base+"/servers/fake/mcp", sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != http.StatusAccepted {
			t.Fatalf("initialized: %d %s", status, body)
		}
		return sid
	}
	const add = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`
	fresh := open(bases[1])
	if status, body, _ := rawPost(t, bases[1]+"/servers/fake/mcp", fresh, add); status != http.StatusOK || strings.Contains(body, "can send data out") || strings.Contains(body, `"isError":true`) {
		t.Fatalf("add in a fresh session: %d %s", status, body)
	}
	sid := open(bases[0])
	if status, body, _ := rawPost(t, bases[0]+"/servers/fake/mcp", sid, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a web page"}}}`); status != http.StatusOK || !strings.Contains(body, "a web page") {
		t.Fatalf("echo on replica 0: %d %s\n%s", status, body, logs[0]())
	}
	status, body, _ := rawPost(t, bases[1]+"/servers/fake/mcp", sid, add)
	if status != http.StatusOK || !strings.Contains(body, "tool add can send data out, and this session has read pii data (call 1, fake/echo, record ") ||
		!strings.Contains(body, "the catalog's data_scope of fake") || !strings.Contains(body, "the catalog marks echo's results untrusted") {
		t.Fatalf("add on replica 1 after the session was tainted on replica 0: %d %s\n%s", status, body, logs[1]())
	}
}
