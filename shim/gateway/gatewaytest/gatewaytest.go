// Package gatewaytest has what the gateway's tests share, in process and
// end to end: a go-sdk client that keeps the progress notifications it
// gets, a proxy that breaks a streamed tools/call answer mid-stream, as a
// balancer losing a replica's connection does, and a client transport
// that keeps the Mcp-Param-* headers it sends; a client that accepts
// every elicitation, and a transport that sends its retries to another
// replica than its other requests.
package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ProgressClient is a go-sdk client that keeps the progress notifications
// it gets, in arrival order and per progress token. The client runs
// notification handlers on a goroutine of their own: a call's answer can
// reach the caller before its last progress is kept, so tests wait for it.
type ProgressClient struct {
	*mcp.Client

	mu      sync.Mutex
	all     []float64
	byToken map[string][]float64
}

// NewProgressClient returns a client named name.
func NewProgressClient(name string) *ProgressClient {
	c := &ProgressClient{byToken: map[string][]float64{}}
	c.Client = mcp.NewClient(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			tok, _ := r.Params.ProgressToken.(string)
			c.mu.Lock()
			c.all = append(c.all, r.Params.Progress)
			c.byToken[tok] = append(c.byToken[tok], r.Params.Progress)
			c.mu.Unlock()
		},
	})
	return c
}

// Progress is every progress value got so far, in arrival order.
func (c *ProgressClient) Progress() []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.all)
}

// ProgressOf is the progress values got so far for token, in arrival
// order.
func (c *ProgressClient) ProgressOf(token string) []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byToken[token])
}

// CutProxy stands for a balancer that loses a replica's connection
// mid-stream. It sends every request to Before until it has cut a stream,
// then to After (to Before when After is empty). It breaks a streamed
// tools/call answer right after its first progress event: the first one
// only, or every one with Every. OnCut, when set, runs as a stream is cut,
// before its client sees the break. It notes each resumption (a GET with
// Last-Event-ID) as "ID@TARGET", and, when the replica names itself in an
// X-Upstream header (nginx's $upstream_addr), each tools/call POST and
// resumption it served as "METHOD ID@UPSTREAM".
type CutProxy struct {
	Before, After string
	Every         bool
	OnCut         func()

	mu      sync.Mutex
	cut     bool
	resumes []string
	served  []string
}

// Resumes is the resumptions so far, as "LAST-EVENT-ID@TARGET".
func (p *CutProxy) Resumes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.resumes)
}

// Served is the tools/call POSTs and resumptions the replicas served, as
// "METHOD LAST-EVENT-ID@UPSTREAM".
func (p *CutProxy) Served() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.served)
}

func (p *CutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	target, cutDone := p.Before, p.cut
	if p.cut && p.After != "" {
		target = p.After
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
	call := bytes.Contains(body, []byte(`"tools/call"`))
	if up := resp.Header.Get("X-Upstream"); up != "" && (r.Header.Get("Last-Event-ID") != "" || call) {
		p.mu.Lock()
		p.served = append(p.served, r.Method+" "+r.Header.Get("Last-Event-ID")+"@"+up)
		p.mu.Unlock()
	}
	breakIt := (!cutDone || p.Every) && r.Method == http.MethodPost && call &&
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
			if p.OnCut != nil {
				p.OnCut()
			}
			cancel()                    // the replica sees its client go
			panic(http.ErrAbortHandler) // the client sees its stream break
		}
	}
	w.(http.Flusher).Flush()
}
