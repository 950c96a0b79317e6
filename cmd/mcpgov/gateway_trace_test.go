package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// otlpSpan is a span as the collector's file exporter writes it.
type otlpSpan struct {
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId"`
	TraceState   string `json:"traceState"`
	Name         string `json:"name"`
	Kind         int    `json:"kind"`
	Start        string `json:"startTimeUnixNano"`
	End          string `json:"endTimeUnixNano"`
	Attributes   []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"attributes"`
	Status struct {
		Code int `json:"code"`
	} `json:"status"`
}

// attr is the attribute key's value as its JSON text ("" when absent):
// {"stringValue":"x"} is "x", others their raw JSON.
func (s otlpSpan) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key != key {
			continue
		}
		var v struct {
			S *string `json:"stringValue"`
		}
		if json.Unmarshal(a.Value, &v) == nil && v.S != nil {
			return *v.S
		}
		return string(a.Value)
	}
	return ""
}

// receivedSpans reads the spans in the collector's output file (whole
// lines only: the collector may be writing the last one), with the
// resource's service.name of each.
func receivedSpans(t *testing.T, file string) ([]otlpSpan, string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, ""
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	var spans []otlpSpan
	var service string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var req struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []struct {
						Key   string `json:"key"`
						Value struct {
							StringValue string `json:"stringValue"`
						} `json:"value"`
					} `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []otlpSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			t.Fatalf("collector output %s: %v", file, err)
		}
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.StringValue
				}
			}
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
	}
	return spans, service
}

// TestGatewayTracesOTLP runs the gateway with --otlp-traces to a real
// OpenTelemetry Collector. Calls carrying a traceparent header go through
// it to the fake server (one allowed, one denied by the catalog) and to
// server-everything; the collector's file then holds one span per call in
// the caller's trace, its parent the caller's span, named and described
// as the conventions for MCP say, with the decision, the rule and the id
// of the call's audit record, and children for the policy decision and
// the upstream round trip; no argument value is in any span.
func TestGatewayTracesOTLP(t *testing.T) {
	for _, prog := range []string{"otelcol-mcpgov", "mcp-server-everything"} {
		if ok, err := haveProgram(prog); err != nil {
			t.Fatal(err)
		} else if !ok {
			t.Skipf("%s is not installed (make otelcol; make test installs server-everything)", prog)
		}
	}
	bundle := writeGuardedBundle(t)
	catalogPath := filepath.Join(bundle, "catalog.toml")
	cat, err := os.ReadFile(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, catalogPath, strings.Replace(string(cat), "[servers.fake]\nstatus = \"approved\"\n", "[servers.fake]\nstatus = \"approved\"\n[servers.fake.tools]\ndeny = [\"list_notes\"]\n", 1))
	dir := t.TempDir()
	auditDir := filepath.Join(dir, "audit")
	collectorAddr, out := freePort(t), filepath.Join(dir, "traces.jsonl")
	startCollector(t, collectorAddr, out)
	addr := freeAddr(t)
	g := runGateway(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+auditDir),
		"--bundle", bundle, "--listen", addr, "--allow-anonymous", "--otlp-traces", "http://"+collectorAddr)
	base := "http://" + addr
	ctx := await.Context(t)

	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	hc := &http.Client{Transport: headerTransport{http.Header{
		"Traceparent": {"00-" + traceID + "-" + parentID + "-01"},
		"Tracestate":  {"congo=t61rcWkgMzE"},
	}}}
	connect := func(endpoint string) *mcp.ClientSession {
		t.Helper()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "traces", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + endpoint, HTTPClient: hc}, nil)
		if err != nil {
			t.Fatalf("connect: %v\n%s", err, g.stderr())
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	const sentinel = "argument-sentinel-5e1f"
	fake := connect("/servers/fake/mcp")
	if res, err := fake.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 40, "b": 2}}); err != nil || res.IsError {
		t.Fatalf("add: %v %+v", err, res)
	}
	if _, err := fake.CallTool(ctx, &mcp.CallToolParams{Name: "list_notes", Arguments: map[string]any{"filter": sentinel}}); err == nil {
		t.Fatal("the denied tool was callable")
	}
	everything := connect("/servers/everything/mcp")
	if res, err := everything.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": sentinel}}); err != nil || res.IsError {
		t.Fatalf("echo: %v %+v", err, res)
	}
	// A session of 2025-11-25 opens the GET stream and ends with DELETE:
	// both get spans too.
	legacy, err := mcp.NewClient(&mcp.Implementation{Name: "traces", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/fake/mcp", HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect with a session: %v\n%s", err, g.stderr())
	}
	if _, err := legacy.ListTools(ctx, nil); err != nil {
		t.Fatalf("tools/list in a session: %v", err)
	}
	legacy.Close()

	var spans []otlpSpan
	var service string
	find := func(name string) *otlpSpan {
		for i := range spans {
			if spans[i].Name == name {
				return &spans[i]
			}
		}
		return nil
	}
	await.Until(t, "the calls' spans in the collector's file", func() bool {
		spans, service = receivedSpans(t, out)
		return find("tools/call add") != nil && find("tools/call list_notes") != nil && find("tools/call echo") != nil &&
			find("GET /servers/{id}/mcp") != nil && find("DELETE /servers/{id}/mcp") != nil
	})
	initialize := find("initialize")
	if initialize == nil || initialize.attr("mcp.session.id") == "" {
		t.Fatalf("no initialize span with its session: %+v", initialize)
	}
	for _, c := range []struct{ name, method, status string }{
		{"GET /servers/{id}/mcp", "GET", "200"},
		{"DELETE /servers/{id}/mcp", "DELETE", "204"},
	} {
		s := find(c.name)
		if s.TraceID != traceID || s.ParentSpanID != parentID || s.Kind != 2 {
			t.Errorf("span %q: trace %s parent %s kind %d; want the caller's trace and span", s.Name, s.TraceID, s.ParentSpanID, s.Kind)
		}
		for key, want := range map[string]string{
			"http.request.method": c.method, "http.route": "/servers/{id}/mcp", "mcpgov.server.id": "fake",
			"http.response.status_code": `{"intValue":"` + c.status + `"}`, "mcp.session.id": initialize.attr("mcp.session.id"),
			"mcpgov.identity.method": "anonymous",
		} {
			if got := s.attr(key); got != want {
				t.Errorf("span %q: %s = %q, want %q", s.Name, key, got, want)
			}
		}
	}

	// The audit trail says which record each call made.
	records := map[string]struct{ ID, Session string }{}
	q, err := exec.Command("mcpgov", "audit", "query", "--dir", auditDir, "--format", "jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("audit query: %v\n%s", err, q)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(q)), "\n") {
		var r struct{ ID, Session, Tool string }
		if json.Unmarshal([]byte(line), &r) == nil && r.Tool != "" {
			records[r.Tool] = struct{ ID, Session string }{r.ID, r.Session}
		}
	}

	if service != "mcpgov-gateway" {
		t.Errorf("service.name %q", service)
	}
	// The go-sdk client speaks the stateless revision with the gateway:
	// the denied tool's -32602 is answered with 400, as it requires.
	for _, c := range []struct {
		tool, server, decision, rule, status string
	}{
		{"add", "fake", "allow", "", "200"},
		{"list_notes", "fake", "deny", "catalog-tools", "400"},
		{"echo", "everything", "allow", "", "200"},
	} {
		s := find("tools/call " + c.tool)
		if s.TraceID != traceID || s.ParentSpanID != parentID || s.TraceState != "congo=t61rcWkgMzE" || s.Kind != 2 {
			t.Errorf("span %q: trace %s parent %s state %q kind %d; want the caller's trace and span", s.Name, s.TraceID, s.ParentSpanID, s.TraceState, s.Kind)
		}
		rec := records[c.tool]
		for key, want := range map[string]string{
			"mcp.method.name": "tools/call", "gen_ai.tool.name": c.tool, "mcpgov.server.id": c.server,
			"mcpgov.decision": c.decision, "mcpgov.audit.record_id": rec.ID, "mcp.session.id": rec.Session,
			"server.address": "127.0.0.1", "http.response.status_code": `{"intValue":"` + c.status + `"}`,
			"mcpgov.identity.method": "anonymous", "mcp.protocol.version": "2026-07-28",
		} {
			if got := s.attr(key); got != want || want == "" {
				t.Errorf("span %q: %s = %q, want %q", s.Name, key, got, want)
			}
		}
		if s.attr("jsonrpc.request.id") == "" {
			t.Errorf("span %q has no jsonrpc.request.id", s.Name)
		}
		if c.rule != "" && !strings.Contains(s.attr("mcpgov.rule_ids"), `"`+c.rule+`"`) {
			t.Errorf("span %q: rule ids %s, want %s", s.Name, s.attr("mcpgov.rule_ids"), c.rule)
		}
		if (c.decision == "deny") != (s.Status.Code == 2) {
			t.Errorf("span %q: status %d", s.Name, s.Status.Code)
		}
		children := map[string]bool{}
		for _, child := range spans {
			if child.ParentSpanID == s.SpanID && child.TraceID == traceID {
				children[child.Name] = true
				if child.Start < s.Start || child.End > s.End {
					t.Errorf("child %q of %q lies outside it", child.Name, s.Name)
				}
			}
		}
		if !children["mcpgov policy"] {
			t.Errorf("span %q has no policy child (children %v)", s.Name, children)
		}
		if children["mcpgov upstream"] != (c.decision == "allow") {
			t.Errorf("span %q: upstream child %v, want it only for the allowed call", s.Name, children["mcpgov upstream"])
		}
	}
	// /metrics counts the spans: sent (the collector has them), none dropped.
	await.Until(t, "/metrics counting the spans sent", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		m, _ := io.ReadAll(resp.Body)
		return regexp.MustCompile(`(?m)^mcpgov_gateway_spans_sent_total [1-9]`).Match(m) &&
			regexp.MustCompile(`(?m)^mcpgov_gateway_spans_dropped_total 0$`).Match(m)
	})
	raw, _ := os.ReadFile(out)
	if bytes.Contains(raw, []byte(sentinel)) || bytes.Contains(raw, []byte(`"a"`)) {
		t.Errorf("an argument value reached the collector")
	}
	if t.Failed() {
		t.Logf("collector output:\n%s\ngateway:\n%s", raw, g.stderr())
	}
}
