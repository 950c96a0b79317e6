package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessParamHeaders: a tool whose input schema names arguments
// with x-mcp-header: the go-sdk client mirrors them into Mcp-Param-*
// headers and its calls pass; raw requests whose headers do not mirror the
// body (another value, a header missing, one for an absent argument, an
// undecodable one) are refused with -32020 and HTTP 400 before policy,
// and recorded as refused; the Base64 sentinel and numeric comparison of
// integers are honoured, for Mcp-Name too.
func TestStatelessParamHeaders(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "regional", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "query", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"region":{"type":"string","x-mcp-header":"Region"},
		"shard":{"type":"integer","x-mcp-header":"Shard"},
		"opts":{"type":"object","properties":{"dry":{"type":"boolean","x-mcp-header":"Dry"}}},
		"sql":{"type":"string"}}}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran " + string(req.Params.Arguments)}}}, nil
		})
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(upTS.Close)
	store := &recordStore{}
	base := &fakeGov{servers: []gateway.Server{{ID: "regional", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"regional": {ID: "regional", Status: catalog.StatusApproved}}}
	ts, _ := serveGateway(t, gateway.Options{Governance: recordingGov{fakeGov: base, sink: store}, Identify: headerUser})
	ep := ts.URL + "/servers/regional/mcp"

	rt := &gatewaytest.ParamHeaders{User: "ann"}
	c := mcp.NewClient(&mcp.Implementation{Name: "param-client", Version: "1"}, nil)
	cs, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ep, HTTPClient: &http.Client{Transport: rt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if _, err := cs.ListTools(await.Context(t), nil); err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(await.Context(t), &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"region": "eu-west 1 ", "shard": 7, "opts": map[string]any{"dry": true}, "sql": "select 1"}})
	if err != nil || res.IsError {
		t.Fatalf("go-sdk call with mirrored headers: %+v %v", res, err)
	}
	seen := rt.Seen()
	for _, want := range []string{"Mcp-Param-Region: =?base64?", "Mcp-Param-Shard: 7", "Mcp-Param-Dry: true"} {
		if !strings.Contains(seen, want) {
			t.Errorf("the go-sdk client sent %q, want %q among them", seen, want)
		}
	}

	call := func(id int, args string, header ...string) (int, rawAnswer) {
		return rawStateless(t, ep, "bob", id, "tools/call", `"name":"query","arguments":`+args, header...)
	}
	for _, c := range []struct {
		name   string
		args   string
		header []string
		status int
		says   string
	}{
		{"matching", `{"region":"us","shard":3,"sql":"x"}`, []string{"Mcp-Param-Region", "us", "Mcp-Param-Shard", "3.0"}, 200, ""},
		{"Base64", `{"region":"zürich","sql":"x"}`, []string{"Mcp-Param-Region", "=?base64?esO8cmljaA==?="}, 200, ""},
		{"nested boolean", `{"opts":{"dry":false}}`, []string{"Mcp-Param-Dry", "false"}, 200, ""},
		{"another value", `{"region":"us","sql":"x"}`, []string{"Mcp-Param-Region", "eu"}, 400, `Mcp-Param-Region header does not match the body's argument "region"`},
		{"header missing", `{"region":"us"}`, nil, 400, `missing Mcp-Param-Region header for argument "region"`},
		{"argument absent", `{"sql":"x"}`, []string{"Mcp-Param-Region", "us"}, 400, `Mcp-Param-Region header given for argument "region", which the body does not carry`},
		{"integer differs", `{"shard":3}`, []string{"Mcp-Param-Shard", "4"}, 400, `Mcp-Param-Shard header does not match`},
		{"bad Base64", `{"region":"us"}`, []string{"Mcp-Param-Region", "=?base64?***?="}, 400, "invalid Base64"},
	} {
		status, a := call(10, c.args, c.header...)
		if c.status == 200 {
			if status != 200 || a.Error != nil || a.Result.IsError {
				t.Errorf("%s: %d %+v, want it served", c.name, status, a)
			}
			continue
		}
		if status != c.status || a.Error == nil || a.Error.Code != -32020 || !strings.Contains(a.Error.Message, c.says) {
			t.Errorf("%s: %d %+v, want %d -32020 saying %q", c.name, status, a.Error, c.status, c.says)
		}
	}
	// Through /mcp, under the aggregated name: the annotations are read
	// from the list the client gets there.
	agg, err := c.Connect(await.Context(t), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: &http.Client{Transport: rt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agg.Close() })
	if _, err := agg.ListTools(await.Context(t), nil); err != nil {
		t.Fatal(err)
	}
	if res, err := agg.CallTool(await.Context(t), &mcp.CallToolParams{Name: "regional__query", Arguments: map[string]any{"region": "ap"}}); err != nil || res.IsError {
		t.Fatalf("go-sdk call through /mcp: %+v %v", res, err)
	}
	if status, a := rawStateless(t, ts.URL+"/mcp", "bob", 12, "tools/call", `"name":"regional__query","arguments":{"region":"ap"}`, "Mcp-Param-Region", "eu"); status != 400 || a.Error == nil || a.Error.Code != -32020 {
		t.Errorf("/mcp with a mismatched Mcp-Param-Region: %d %+v, want 400 -32020", status, a.Error)
	}

	store.mu.Lock()
	refused := 0
	for _, r := range store.recs {
		if r.Kind == audit.KindMessageRefused && r.Method == "tools/call" && strings.Contains(r.Reason, "Mcp-Param-") {
			refused++
		}
	}
	calls := 0
	for _, r := range store.recs {
		if r.Method == "tools/call" && r.Kind != audit.KindMessageRefused {
			calls++
		}
	}
	store.mu.Unlock()
	if refused != 6 || calls != 5 {
		t.Errorf("records: %d refusals naming a Mcp-Param header (want 6) and %d calls (want 5: the go-sdk ones and three raw)", refused, calls)
	}
}

// TestStatelessNameBase64: an Mcp-Name in the Base64 sentinel is decoded
// before it is compared with the body.
func TestStatelessNameBase64(t *testing.T) {
	url, _, _ := statelessGateway(t)
	ep := url + "/servers/alpha/mcp"
	status, a := rawStateless(t, ep, "dan", 1, "tools/call", `"name":"echo","arguments":{}`, "Mcp-Name", "=?base64?ZWNobw==?=")
	if status != 200 || len(a.Result.Content) != 1 || a.Result.Content[0].Text != "alpha:echo" {
		t.Errorf("Mcp-Name echo in Base64: %d %+v, want the call served", status, a)
	}
	status, a = rawStateless(t, ep, "dan", 2, "tools/call", `"name":"echo","arguments":{}`, "Mcp-Name", "=?base64?c2VjcmV0?=")
	if status != 400 || a.Error == nil || a.Error.Code != -32020 || !strings.Contains(a.Error.Message, `"secret" does not match the body's name "echo"`) {
		t.Errorf("Mcp-Name secret in Base64 for echo: %d %+v, want 400 -32020", status, a.Error)
	}
}

// TestStatelessCacheFields: list and read results carry the revision's
// cache fields, private to the caller (what the gateway lists depends on
// the caller's groups) and stale at once.
func TestStatelessCacheFields(t *testing.T) {
	url, _, _ := statelessGateway(t)
	status, a := rawStateless(t, url+"/servers/alpha/mcp", "dan", 1, "tools/list", `"cursor":null`)
	if status != 200 || a.Result.ResultType != "complete" || a.Result.TTLMs == nil || *a.Result.TTLMs != 0 || a.Result.CacheScope != "private" || len(a.Result.Tools) != 1 {
		t.Fatalf("tools/list: %d %+v, want resultType complete, ttlMs 0, cacheScope private and the one allowed tool", status, a.Result)
	}
}

// TestStatelessParamHeadersPageCap: an upstream that pages its tools one
// by one, past the 100 pages the gateway lists to learn the x-mcp-header
// annotations: a call for a tool on a later page is refused (it cannot be
// checked) rather than forwarded with its Mcp-Param-* headers unchecked;
// a tool on an early page is still checked and served.
func TestStatelessParamHeadersPageCap(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "paged", Version: "1"}, &mcp.ServerOptions{PageSize: 1})
	annotated := json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`)
	handler := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran"}}}, nil
	}
	s.AddTool(&mcp.Tool{Name: "a_first", InputSchema: annotated}, handler)
	for i := range 120 {
		s.AddTool(&mcp.Tool{Name: fmt.Sprintf("m_%03d", i), InputSchema: json.RawMessage(`{"type":"object"}`)}, handler)
	}
	s.AddTool(&mcp.Tool{Name: "z_last", InputSchema: annotated}, handler)
	upTS := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(upTS.Close)
	base := &fakeGov{servers: []gateway.Server{{ID: "paged", URL: upTS.URL}},
		entries: map[string]*catalog.Server{"paged": {ID: "paged", Status: catalog.StatusApproved}}}
	ts, _ := serveGateway(t, gateway.Options{Governance: base, Identify: headerUser})
	ep := ts.URL + "/servers/paged/mcp"

	if status, a := rawStateless(t, ep, "bob", 1, "tools/call", `"name":"z_last","arguments":{"region":"us"}`, "Mcp-Param-Region", "eu"); status != http.StatusBadGateway || a.Error == nil || !strings.Contains(a.Error.Message, "more than 100 pages") {
		t.Errorf("a tool past the 100th page with a mismatched Mcp-Param-Region: %d %+v, want 502 saying the list has more than 100 pages", status, a.Error)
	}
	if status, a := rawStateless(t, ep, "bob", 2, "tools/call", `"name":"a_first","arguments":{"region":"us"}`, "Mcp-Param-Region", "eu"); status != http.StatusBadRequest || a.Error == nil || a.Error.Code != -32020 {
		t.Errorf("a tool on the first page with a mismatched Mcp-Param-Region: %d %+v, want 400 -32020", status, a.Error)
	}
	if status, a := rawStateless(t, ep, "bob", 3, "tools/call", `"name":"a_first","arguments":{"region":"us"}`, "Mcp-Param-Region", "us"); status != http.StatusOK || a.Error != nil || a.Result.IsError {
		t.Errorf("a tool on the first page with a matching Mcp-Param-Region: %d %+v, want it served", status, a)
	}
}
