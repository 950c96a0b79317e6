package enforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Separator joins a route's name and a tool's name in an aggregated
// session (DESIGN §9: server__tool).
const Separator = "__"

// aggregateCall answers or routes one call of the client in an
// aggregated session: initialize and tools/list are answered from every
// route, tools/call goes to the route its name names, ping is answered
// here. Other methods name no route and are refused.
func (s *Session) aggregateCall(ctx context.Context, m *rpc.Message, run func(bool, func())) error {
	switch m.Method {
	case "tools/call":
		return s.aggregateToolCall(ctx, m, run)
	case "ping":
		return s.client.WriteFrame(rpc.ResultResponse(m.ID, json.RawMessage(`{}`)))
	case "initialize", "tools/list":
		c, err := s.pending.add(m.ID, m.Method, -1, nil)
		if err != nil {
			return s.client.WriteFrame(rpc.ErrorResponse(nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: mcpgov: " + err.Error()}))
		}
		c.forwarded = true
		s.finishing.add()
		go func() {
			defer s.finishing.done()
			var out []byte
			if m.Method == "initialize" {
				out = s.aggregateInitialize(ctx, m)
			} else {
				out = s.aggregateTools(ctx, m)
			}
			if s.pending.forget(c) {
				_ = s.client.WriteFrame(out)
			}
		}()
		return nil
	}
	return s.client.WriteFrame(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound,
		Message: fmt.Sprintf("mcpgov: %s is not available through an aggregated endpoint; use the server's own endpoint", m.Method)}))
}

// aggregateInitialize initializes every route with the client's params
// and answers with the first protocol version they agreed on and the
// tools capability. A route that fails to initialize is reported; the
// client gets an error only when none succeeded.
func (s *Session) aggregateInitialize(ctx context.Context, m *rpc.Message) []byte {
	cl := clientInfo(m.Params)
	results := make([]json.RawMessage, len(s.routes))
	errs := make([]error, len(s.routes))
	var wg sync.WaitGroup
	for i := range s.routes {
		if core := s.core(i); core != nil {
			core.SetClient(cl)
		}
		wg.Go(func() { results[i], errs[i] = s.ownCall(ctx, i, "initialize", m.Params) })
	}
	wg.Wait()
	version := ""
	for i, r := range results {
		if errs[i] != nil {
			s.warnf("upstream %s did not initialize: %v", s.routes[i].name, errs[i])
			continue
		}
		var init struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		if jsonv2.Unmarshal(r, &init) == nil && version == "" {
			version = init.ProtocolVersion
		}
	}
	if version == "" {
		return rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: no upstream server initialized"})
	}
	result, _ := json.Marshal(map[string]any{
		"protocolVersion": version,
		"capabilities":    map[string]any{"tools": map[string]any{"listChanged": true}},
		"serverInfo":      map[string]any{"name": s.name, "version": s.ver},
	})
	return rpc.ResultResponse(m.ID, result)
}

// aggregateTools lists every route's tools through its core, names them
// route__tool, keeps only a virtual server's tools, and answers with one
// page.
func (s *Session) aggregateTools(ctx context.Context, m *rpc.Message) []byte {
	lists := make([][]json.RawMessage, len(s.routes))
	errs := make([]error, len(s.routes))
	var wg sync.WaitGroup
	for i := range s.routes {
		wg.Go(func() { lists[i], errs[i] = s.listTools(ctx, i, s.core(i)) })
	}
	wg.Wait()
	tools := []json.RawMessage{}
	for i, list := range lists {
		if errs[i] != nil {
			// One route's failure hides its tools, not the others'.
			s.warnf("tools of upstream %s left out of the list: %v", s.routes[i].name, errs[i])
			continue
		}
		for _, t := range list {
			var def struct {
				Name string `json:"name"`
			}
			if jsonv2.Unmarshal(t, &def) != nil || def.Name == "" {
				continue
			}
			name := s.routes[i].name + Separator + def.Name
			if s.tools != nil && !s.tools[name] {
				continue
			}
			quoted, _ := jsontext.AppendQuote(nil, name)
			renamed, err := rpc.ReplaceMember(t, "name", quoted)
			if err != nil {
				continue
			}
			tools = append(tools, renamed)
		}
	}
	result, _ := json.Marshal(map[string]any{"tools": tools})
	return rpc.ResultResponse(m.ID, result)
}

// aggregateToolCall routes a tools/call by its route__tool name, with the
// name the upstream knows.
func (s *Session) aggregateToolCall(ctx context.Context, m *rpc.Message, run func(bool, func())) error {
	name := toolName(m.Params)
	ri, tool := s.routeOf(name)
	if ri < 0 || s.tools != nil && !s.tools[name] {
		return s.client.WriteFrame(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
			Message: fmt.Sprintf("Unknown tool: %s", name)}))
	}
	quoted, _ := jsontext.AppendQuote(nil, tool)
	params, err := rpc.ReplaceMember(m.Params, "name", quoted)
	if err != nil {
		return s.client.WriteFrame(rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: mcpgov: " + err.Error()}))
	}
	return s.forward(ctx, ri, m, params, run)
}

// RouteOf returns the index of the route an aggregated session's
// namespaced name (route__tool, or route__prompt) goes to; -1 for none.
func (s *Session) RouteOf(name string) int {
	ri, _ := s.routeOf(name)
	return ri
}

// routeOf splits route__tool into the route's index and the tool's name;
// -1 when no route has that name. The longest matching route name wins,
// so route names may themselves contain the separator.
func (s *Session) routeOf(name string) (int, string) {
	best, tool := -1, ""
	for i := range s.routes {
		prefix := s.routes[i].name + Separator
		if strings.HasPrefix(name, prefix) && len(name) > len(prefix) && (best < 0 || len(prefix) > len(s.routes[best].name)+len(Separator)) {
			best, tool = i, name[len(prefix):]
		}
	}
	return best, tool
}
