package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayResumeAcrossReplicas: two `mcpgov gateway serve` replicas
// share a real Redis. A go-sdk client (2025-11-25, sessions) calls
// server-everything's trigger-long-running-operation (4 progress steps)
// through the first replica; its answer stream breaks after the first
// progress event, and from then on the balancer sends everything to the
// second replica. The client resumes with GET and Last-Event-ID there:
// the second replica, which never ran the call, replays from the shared
// event log what the first one appended and follows it until the answer,
// so the client gets progress 2, 3, 4 and the answer, each exactly once.
func TestGatewayResumeAcrossReplicas(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	a, b := startReplica(t, bundle, redis.URL()), startReplica(t, bundle, redis.URL())
	proxy := &gatewaytest.CutProxy{Before: "http://" + a.addr, After: "http://" + b.addr}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	c := gatewaytest.NewProgressClient("resumer")
	cs := connectAt(t, c.Client, &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp"}, "2025-11-25", "2025-11-25", nil)
	params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 2, "steps": 4}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(await.Context(t), params)
	if err != nil || res.IsError || len(res.Content) != 1 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "completed") {
		t.Fatalf("call across the broken stream: %+v, %v\nreplica A:\n%s\nreplica B:\n%s", res, err, a.log, b.log)
	}
	await.Until(t, "four progress notifications", func() bool { return len(c.Progress()) >= 4 })
	if got := c.Progress(); !slices.Equal(got, []float64{1, 2, 3, 4}) {
		t.Errorf("progress = %v, want [1 2 3 4] (each once)", got)
	}
	// pN-TAG_K: a POST stream of the first replica (named with its tag),
	// resumed once, on the second replica.
	if resumes := proxy.Resumes(); len(resumes) != 1 || !regexp.MustCompile(`^p\d+-[0-9a-f]{6}_\d+@http://`+regexp.QuoteMeta(b.addr)+`$`).MatchString(resumes[0]) {
		t.Errorf("resumptions %q, want one of a POST stream (pN-TAG_K), on %s", resumes, b.addr)
	}
	// The call ran once, on the first replica: the second one only
	// replayed its events.
	const tool = "trigger-long-running-operation"
	await.Until(t, "the first replica's record of the call", func() bool { return a.toolCalls(tool) >= 1 })
	if na, nb := a.toolCalls(tool), b.toolCalls(tool); na != 1 || nb != 0 {
		t.Errorf("the call is recorded %d times by the replica that ran it and %d by the one that resumed its stream, want 1 and 0", na, nb)
	}
}

// TestGatewayResumeAfterReplicaDied is the documented limit: the replica
// running a call is killed (SIGKILL, with its stdio server) right after
// the first progress event of its answer stream reached the client. The
// client resumes on the other replica, which replays what reached the
// store (nothing past that event: no duplicate) and follows the log; once
// the stream has been quiet for the stream lease (6 s) and the dead
// replica's lease on it has lapsed, it ends the stream, the client's
// reconnection finds the same, and the call fails instead of hanging for
// the idle timeout (30 minutes).
func TestGatewayResumeAfterReplicaDied(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	a := startReplica(t, bundle, redis.URL())
	b := startReplica(t, bundle, redis.URL()) // the default idle timeout: 30 minutes
	proxy := &gatewaytest.CutProxy{Before: "http://" + a.addr, After: "http://" + b.addr, OnCut: func() { a.kill9(t) }}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	c := gatewaytest.NewProgressClient("resumer")
	cs := connectAt(t, c.Client, &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp", MaxRetries: 1}, "2025-11-25", "2025-11-25", nil)
	params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 4, "steps": 4}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(await.Context(t), params)
	if err == nil {
		t.Fatalf("a call whose replica died answered: %+v (%v); resumes %q; progress %v\nB:\n%s", res, res.Content[0], proxy.Resumes(), c.Progress(), b.log)
	}
	t.Logf("the call failed: %v", err)
	if got := c.Progress(); !slices.Equal(got, []float64{1}) {
		t.Errorf("progress = %v, want [1]: what the dead replica logged, once", got)
	}
	resumes := proxy.Resumes()
	if len(resumes) == 0 || !strings.HasSuffix(resumes[0], "@http://"+b.addr) {
		t.Errorf("resumptions %q, want them on %s", resumes, b.addr)
	}
	t.Logf("resumptions: %q", resumes)
}

// TestGatewayResumeBehindNginx: three replicas share a real Redis behind
// nginx round robin; every streamed tools/call answer of a go-sdk
// client's session is cut after its first progress event, and the client
// resumes through nginx, on whichever replica it picks. Each of three
// long calls is answered, with its progress 1-4 each once, and recorded
// once across the three audit trails.
func TestGatewayResumeBehindNginx(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	replicas, backends := startReplicaSet(t, 3, bundle, redis.URL())
	lb := startNginxWith(t, backends, "      add_header X-Upstream $upstream_addr;\n")
	proxy := &gatewaytest.CutProxy{Before: lb, Every: true}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	c := gatewaytest.NewProgressClient("resumer")
	cs := connectAt(t, c.Client, &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp"}, "2025-11-25", "2025-11-25", nil)
	const calls = 3
	for i := range calls {
		tok := "tok" + strconv.Itoa(i)
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 4}}
		params.SetProgressToken(tok)
		res, err := cs.CallTool(await.Context(t), params)
		if err != nil || res.IsError || len(res.Content) != 1 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "completed") {
			t.Fatalf("call %d across its broken stream: %+v, %v", i, res, err)
		}
		await.Until(t, "four progress notifications of "+tok, func() bool { return len(c.ProgressOf(tok)) >= 4 })
		if got := c.ProgressOf(tok); !slices.Equal(got, []float64{1, 2, 3, 4}) {
			t.Errorf("call %d: progress = %v, want [1 2 3 4] (each once)", i, got)
		}
	}
	resumes, served := proxy.Resumes(), proxy.Served()
	posts := 0
	for _, id := range resumes {
		if strings.HasPrefix(id, "p") {
			posts++
		}
	}
	if posts != calls {
		t.Errorf("resumptions %q: want one per call (%d)", resumes, calls)
	}
	t.Logf("served (method Last-Event-ID@replica): %q", served)
	count := func() int {
		n := 0
		for _, r := range replicas {
			n += r.toolCalls("trigger-long-running-operation")
		}
		return n
	}
	await.Until(t, "the calls' records", func() bool { return count() >= calls })
	if n := count(); n != calls {
		t.Errorf("the %d calls are recorded %d times across the replicas", calls, n)
	}
}

// BenchmarkGatewayEventLog measures what the shared event log adds to a
// tools/call whose answer is streamed (Accept: text/event-stream, as the
// go-sdk client asks): one more round trip to Redis per event. json is
// the same call answered as JSON (not logged), sse the streamed one;
// with no store, sse is logged in the replica's memory.
func BenchmarkGatewayEventLog(b *testing.B) {
	redis := statetest.Start(b) // skips without redis-server
	bundle := writeBundle(b)
	id := 0
	for _, store := range []struct{ name, url string }{{"memory", ""}, {"redis", redis.URL()}} {
		r := startReplica(b, bundle, store.url)
		url := "http://" + r.addr + "/servers/fake/mcp"
		sid := initSession(b, url, "bench")
		for _, accept := range []string{"json", "sse"} {
			b.Run(store.name+"-"+accept, func(b *testing.B) {
				for range b.N {
					id++ // new ids: the call log answers a repeated one
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(
						`{"jsonrpc":"2.0","id":`+strconv.Itoa(id)+`,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Mcp-Session-Id", sid)
					req.Header.Set("Accept", "application/json")
					if accept == "sse" {
						req.Header.Set("Accept", "application/json, text/event-stream")
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(body), `"text":"x"`) || (accept == "sse") != strings.HasPrefix(string(body), "id: ") {
						b.Fatalf("call: %d %s", resp.StatusCode, body)
					}
				}
			})
		}
	}
}
