package enforce

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// memServer is an in-process MCP server behind a session: it answers
// initialize, tools/list and tools/call from its own goroutine, through
// the session's FromUpstream, as a transport would.
type memServer struct {
	name  string
	tools []string
	sess  *Session
	route int
	in    chan []byte
	// answers receives the client's answers to the server's own requests.
	answers chan []byte

	mu    sync.Mutex
	calls []string // the tool names tools/call asked for, as received
	notes []string // the notifications received
}

func newMemServer(name string, tools ...string) *memServer {
	return &memServer{name: name, tools: tools, in: make(chan []byte, 64), answers: make(chan []byte, 8)}
}

func (m *memServer) WriteFrame(msg []byte) error {
	m.in <- append([]byte(nil), msg...)
	return nil
}

func (m *memServer) serve(ctx context.Context) {
	for {
		var frame []byte
		select {
		case frame = <-m.in:
		case <-ctx.Done():
			return
		}
		msg, err := rpc.Parse(frame)
		if err != nil {
			panic(err)
		}
		if msg.IsResponse() {
			m.answers <- frame
			continue
		}
		if msg.IsNotification() {
			m.mu.Lock()
			m.notes = append(m.notes, msg.Method)
			m.mu.Unlock()
			continue
		}
		var result any
		switch msg.Method {
		case "initialize":
			result = map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{"tools": map[string]any{}},
				"serverInfo": map[string]any{"name": m.name, "version": "1"}}
		case "tools/list":
			var tools []map[string]any
			for _, t := range m.tools {
				tools = append(tools, map[string]any{"name": t, "description": m.name + " " + t, "inputSchema": map[string]any{"type": "object"}})
			}
			result = map[string]any{"tools": tools}
		case "tools/call":
			var p struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(msg.Params, &p)
			m.mu.Lock()
			m.calls = append(m.calls, p.Name)
			m.mu.Unlock()
			result = map[string]any{"content": []map[string]any{{"type": "text", "text": m.name + " ran " + p.Name}}}
		}
		b, _ := json.Marshal(result)
		if err := m.sess.FromUpstream(ctx, m.route, rpc.ResultResponse(msg.ID, b)); err != nil {
			panic(err)
		}
	}
}

func (m *memServer) received() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// memClient collects what the session sends the client.
type memClient struct{ out chan *rpc.Message }

func (c *memClient) WriteFrame(msg []byte) error {
	m, err := rpc.Parse(msg)
	if err != nil {
		return fmt.Errorf("session wrote an invalid frame %s: %v", msg, err)
	}
	c.out <- m
	return nil
}

// next returns the next message for the client, failing the test when
// the session sends nothing while the test's deadline lasts.
func (c *memClient) next(t *testing.T) *rpc.Message {
	t.Helper()
	return await.Recv(t, c.out, "a message for the client")
}

// call sends a request and returns the answer to it (notifications that
// arrive first are returned in notes).
func (c *memClient) call(t *testing.T, s *Session, id int, method, params string) (*rpc.Message, []string) {
	t.Helper()
	frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params)
	if err := s.FromClient(context.Background(), []byte(frame)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for {
		m := c.next(t)
		if m.IsNotification() {
			notes = append(notes, m.Method)
			continue
		}
		if string(m.ID) != fmt.Sprint(id) {
			t.Fatalf("answer %s to a request the test did not send (waiting for %d)", m.Raw, id)
		}
		return m, notes
	}
}

func toolNames(t *testing.T, m *rpc.Message) []string {
	t.Helper()
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(m.Result, &r); err != nil {
		t.Fatalf("tools/list answer %s: %v", m.Raw, err)
	}
	var names []string
	for _, tool := range r.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func approvedCore(id string, deny ...string) *Core {
	return New(Config{Server: &catalog.Server{ID: id, Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: deny}}, VersionApproved: true})
}

func startAggregate(t *testing.T, opts SessionOptions, servers ...*memServer) (*Session, *memClient) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	client := &memClient{out: make(chan *rpc.Message, 64)}
	opts.Client = client
	for i, m := range servers {
		opts.Routes[i].Upstream = m
	}
	s := NewSession(opts)
	for i, m := range servers {
		m.sess, m.route = s, i
		go m.serve(ctx)
	}
	t.Cleanup(func() { cancel(); s.Wait() })
	return s, client
}

// TestSessionAggregates drives one engine session with two in-process
// upstreams: a merged tools/list, calls routed by route__tool, a tool the
// catalog denies on one of them, and a reload mid-session that changes a
// rule for every new call.
func TestSessionAggregates(t *testing.T) {
	github := newMemServer("github", "create_issue", "delete_repo")
	files := newMemServer("files", "read", "write")
	s, client := startAggregate(t, SessionOptions{Routes: []Route{
		{Name: "github", Core: approvedCore("github", "delete_repo")},
		{Name: "files", Core: approvedCore("files")},
	}}, github, files)

	init, _ := client.call(t, s, 1, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}`)
	if !strings.Contains(string(init.Result), `"serverInfo":{"name":"mcpgov"`) || !strings.Contains(string(init.Result), `"protocolVersion":"2025-06-18"`) {
		t.Fatalf("initialize answered %s", init.Raw)
	}
	if err := s.FromClient(context.Background(), []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)); err != nil {
		t.Fatal(err)
	}

	list, _ := client.call(t, s, 2, "tools/list", `{}`)
	if got, want := toolNames(t, list), []string{"files__read", "files__write", "github__create_issue"}; !slices.Equal(got, want) {
		t.Fatalf("merged tools/list = %v, want %v (github's delete_repo denied by its entry)", got, want)
	}

	for i, tc := range []struct{ name, text string }{
		{"github__create_issue", "github ran create_issue"},
		{"files__write", "files ran write"},
	} {
		res, _ := client.call(t, s, 10+i, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, tc.name))
		if !strings.Contains(string(res.Result), tc.text) {
			t.Errorf("tools/call %s answered %s, want %q", tc.name, res.Raw, tc.text)
		}
	}

	denied, _ := client.call(t, s, 20, "tools/call", `{"name":"github__delete_repo","arguments":{}}`)
	if denied.Error == nil || !strings.Contains(string(denied.Error), "Unknown tool") {
		t.Errorf("denied tool answered %s, want an Unknown tool error", denied.Raw)
	}
	unknown, _ := client.call(t, s, 21, "tools/call", `{"name":"nowhere__read","arguments":{}}`)
	if unknown.Error == nil || !strings.Contains(string(unknown.Error), "Unknown tool: nowhere__read") {
		t.Errorf("a tool of no route answered %s", unknown.Raw)
	}

	// The files entry now denies write: every new call sees it, and the
	// client is told to list again.
	if err := s.Reload(1, approvedCore("files", "write")); err != nil {
		t.Fatal(err)
	}
	after, notes := client.call(t, s, 30, "tools/call", `{"name":"files__write","arguments":{}}`)
	if !slices.Contains(notes, "notifications/tools/list_changed") {
		t.Errorf("reload sent %v, want notifications/tools/list_changed", notes)
	}
	if after.Error == nil || !strings.Contains(string(after.Error), "Unknown tool") {
		t.Errorf("after the reload files__write answered %s, want it denied", after.Raw)
	}
	relisted, _ := client.call(t, s, 31, "tools/list", `{}`)
	if got, want := toolNames(t, relisted), []string{"files__read", "github__create_issue"}; !slices.Equal(got, want) {
		t.Errorf("tools/list after the reload = %v, want %v", got, want)
	}
	read, _ := client.call(t, s, 32, "tools/call", `{"name":"files__read","arguments":{}}`)
	if !strings.Contains(string(read.Result), "files ran read") {
		t.Errorf("files__read after the reload answered %s", read.Raw)
	}

	if got := github.received(); !slices.Equal(got, []string{"create_issue"}) {
		t.Errorf("github ran %v, want only create_issue (the denied tool never reaches it)", got)
	}
	if got := files.received(); !slices.Equal(got, []string{"write", "read"}) {
		t.Errorf("files ran %v, want write (before the reload) and read", got)
	}
	for _, m := range []*memServer{github, files} {
		m.mu.Lock()
		if !slices.Contains(m.notes, "notifications/initialized") {
			t.Errorf("%s did not get notifications/initialized: %v", m.name, m.notes)
		}
		m.mu.Unlock()
	}
}

// TestSessionVirtualServer serves a subset of tools across two upstreams.
func TestSessionVirtualServer(t *testing.T) {
	github := newMemServer("github", "create_issue", "delete_repo")
	files := newMemServer("files", "read", "write")
	s, client := startAggregate(t, SessionOptions{
		Routes: []Route{{Name: "github", Core: approvedCore("github")}, {Name: "files", Core: approvedCore("files")}},
		Tools:  map[string]bool{"github__create_issue": true, "files__read": true},
	}, github, files)
	list, _ := client.call(t, s, 1, "tools/list", `{}`)
	if got, want := toolNames(t, list), []string{"files__read", "github__create_issue"}; !slices.Equal(got, want) {
		t.Fatalf("virtual tools/list = %v, want %v", got, want)
	}
	res, _ := client.call(t, s, 2, "tools/call", `{"name":"files__write","arguments":{}}`)
	if res.Error == nil || !strings.Contains(string(res.Error), "Unknown tool") {
		t.Errorf("a tool outside the virtual server answered %s", res.Raw)
	}
	if got := files.received(); len(got) != 0 {
		t.Errorf("files ran %v, want nothing", got)
	}
}

// TestSessionAggregateServerRequests gives two upstreams' own requests
// distinct ids toward the client and routes the client's answers back.
func TestSessionAggregateServerRequests(t *testing.T) {
	a, b := newMemServer("a"), newMemServer("b")
	s, client := startAggregate(t, SessionOptions{Routes: []Route{{Name: "a"}, {Name: "b"}}}, a, b)
	ctx := context.Background()
	// Both ask with id 1.
	for i := range 2 {
		if err := s.FromUpstream(ctx, i, []byte(`{"jsonrpc":"2.0","id":1,"method":"roots/list"}`)); err != nil {
			t.Fatal(err)
		}
	}
	first, second := client.next(t), client.next(t)
	if string(first.ID) == string(second.ID) {
		t.Fatalf("both requests reached the client with id %s", first.ID)
	}
	if err := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":`+string(second.ID)+`,"result":{"roots":[]}}`)); err != nil {
		t.Fatal(err)
	}
	// The answer reaches one server only, with the id it asked with.
	select {
	case got := <-b.answers:
		if !strings.Contains(string(got), `"id":1`) {
			t.Errorf("b got %s", got)
		}
	case got := <-a.answers:
		t.Errorf("the answer to b's request reached a: %s", got)
	}
}
