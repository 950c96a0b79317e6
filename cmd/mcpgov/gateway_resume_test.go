package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// failoverProxy stands for a balancer that loses the first replica's
// connection mid-stream: it sends every request to before until it breaks
// the first streamed tools/call answer after its first progress event,
// then every request to after.
type failoverProxy struct {
	before, after string
	onCut         func() // called as the stream is cut, before the client sees it
	every         bool   // cut every streamed tools/call answer, not only the first

	served []string // X-Upstream of each tools/call POST and each resumption

	mu      sync.Mutex
	cut     bool
	resumes []string // Last-Event-ID, "@" + the replica that served it
}

func (p *failoverProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	target, cutDone := p.before, p.cut
	if p.cut {
		target = p.after
	}
	if id := r.Header.Get("Last-Event-ID"); r.Method == http.MethodGet && id != "" {
		p.resumes = append(p.resumes, id+"@"+target)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, r.Method, target+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.(http.Flusher).Flush()
	if up := resp.Header.Get("X-Upstream"); up != "" && (r.Header.Get("Last-Event-ID") != "" || bytes.Contains(body, []byte(`"tools/call"`))) {
		p.mu.Lock()
		p.served = append(p.served, r.Method+" "+r.Header.Get("Last-Event-ID")+"@"+up)
		p.mu.Unlock()
	}
	breakIt := (!cutDone || p.every) && r.Method == http.MethodPost && bytes.Contains(body, []byte(`"tools/call"`)) &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		_, _ = io.WriteString(w, line+"\n")
		if line == "" {
			w.(http.Flusher).Flush()
		}
		if breakIt && strings.HasPrefix(line, "data: ") && strings.Contains(line, "notifications/progress") {
			_, _ = io.WriteString(w, "\n")
			w.(http.Flusher).Flush()
			p.mu.Lock()
			p.cut = true
			p.mu.Unlock()
			if p.onCut != nil {
				p.onCut()
			}
			cancel()                    // the first replica sees its client go
			panic(http.ErrAbortHandler) // the client sees its stream break
		}
	}
}

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
	proxy := &failoverProxy{before: "http://" + a.addr, after: "http://" + b.addr}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	var mu sync.Mutex
	var progress []float64
	c := mcp.NewClient(&mcp.Implementation{Name: "resumer", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Progress)
			mu.Unlock()
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp"},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 2, "steps": 4}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(await.Context(t), params)
	if err != nil || res.IsError || len(res.Content) != 1 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "completed") {
		t.Fatalf("call across the broken stream: %+v, %v\nreplica A:\n%s\nreplica B:\n%s", res, err, a.log, b.log)
	}
	await.Until(t, "four progress notifications", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(progress) >= 4
	})
	mu.Lock()
	got := slices.Clone(progress)
	mu.Unlock()
	if !slices.Equal(got, []float64{1, 2, 3, 4}) {
		t.Errorf("progress = %v, want [1 2 3 4] (each once)", got)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	// pN-TAG_K: a POST stream of the first replica (named with its tag),
	// resumed once, on the second replica.
	if len(proxy.resumes) != 1 || !regexp.MustCompile(`^p\d+-[0-9a-f]{6}_\d+@http://`+regexp.QuoteMeta(b.addr)+`$`).MatchString(proxy.resumes[0]) {
		t.Errorf("resumptions %q, want one of a POST stream (pN-TAG_K), on %s", proxy.resumes, b.addr)
	}
	// The call ran once, on the first replica: the second one only
	// replayed its events.
	calls := func(r *replica) int {
		out, _ := exec.Command("mcpgov", "audit", "query", "--dir", r.audit, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
		return strings.Count(string(out), `"tool":"trigger-long-running-operation"`)
	}
	await.Until(t, "the first replica's record of the call", func() bool { return calls(a) >= 1 })
	if na, nb := calls(a), calls(b); na != 1 || nb != 0 {
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
	proxy := &failoverProxy{before: "http://" + a.addr, after: "http://" + b.addr, onCut: func() { a.kill9(t) }}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	var mu sync.Mutex
	var progress []float64
	c := mcp.NewClient(&mcp.Implementation{Name: "resumer", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Progress)
			mu.Unlock()
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp", MaxRetries: 1},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 4, "steps": 4}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(await.Context(t), params)
	if err == nil {
		proxy.mu.Lock()
		defer proxy.mu.Unlock()
		t.Fatalf("a call whose replica died answered: %+v (%v); resumes %q; progress %v\nB:\n%s", res, res.Content[0], proxy.resumes, progress, b.log)
	}
	t.Logf("the call failed: %v", err)
	mu.Lock()
	got := slices.Clone(progress)
	mu.Unlock()
	if !slices.Equal(got, []float64{1}) {
		t.Errorf("progress = %v, want [1]: what the dead replica logged, once", got)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if len(proxy.resumes) == 0 || !strings.HasSuffix(proxy.resumes[0], "@http://"+b.addr) {
		t.Errorf("resumptions %q, want them on %s", proxy.resumes, b.addr)
	}
	t.Logf("resumptions: %q", proxy.resumes)
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
	var replicas []*replica
	var backends []string
	for range 3 {
		r := startReplica(t, bundle, redis.URL())
		replicas, backends = append(replicas, r), append(backends, r.addr)
	}
	lb := startNginxWith(t, backends, "      add_header X-Upstream $upstream_addr;\n")
	proxy := &failoverProxy{before: lb, after: lb, every: true}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	var mu sync.Mutex
	progress := map[string][]float64{}
	c := mcp.NewClient(&mcp.Implementation{Name: "resumer", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			tok, _ := r.Params.ProgressToken.(string)
			progress[tok] = append(progress[tok], r.Params.Progress)
			mu.Unlock()
		},
	})
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ps.URL + "/servers/everything/mcp"},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	const calls = 3
	for i := range calls {
		tok := "tok" + strconv.Itoa(i)
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 4}}
		params.SetProgressToken(tok)
		res, err := cs.CallTool(await.Context(t), params)
		if err != nil || res.IsError || len(res.Content) != 1 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "completed") {
			t.Fatalf("call %d across its broken stream: %+v, %v", i, res, err)
		}
		await.Until(t, "four progress notifications of "+tok, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(progress[tok]) >= 4
		})
		mu.Lock()
		got := slices.Clone(progress[tok])
		mu.Unlock()
		if !slices.Equal(got, []float64{1, 2, 3, 4}) {
			t.Errorf("call %d: progress = %v, want [1 2 3 4] (each once)", i, got)
		}
	}
	proxy.mu.Lock()
	resumes, served := slices.Clone(proxy.resumes), slices.Clone(proxy.served)
	proxy.mu.Unlock()
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
	count := func(r *replica) int {
		out, _ := exec.Command("mcpgov", "audit", "query", "--dir", r.audit, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
		return strings.Count(string(out), `"tool":"trigger-long-running-operation"`)
	}
	await.Until(t, "the calls' records", func() bool {
		n := 0
		for _, r := range replicas {
			n += count(r)
		}
		return n >= calls
	})
	n := 0
	for _, r := range replicas {
		n += count(r)
	}
	if n != calls {
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
		init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`
		status, body, hdr := rawPost(b, url, "", init)
		sid := hdr.Get("Mcp-Session-Id")
		if status != 200 {
			b.Fatalf("initialize: %d %s", status, body)
		}
		rawPost(b, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
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
