package enforce

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
)

// Sources of what the post hook is asked about (Call.Source): every path
// by which a server's content reaches the model.
const (
	SourceTool          = "tool"           // a tools/call or tasks/result result
	SourceResource      = "resource"       // a resources/read result
	SourcePrompt        = "prompt"         // a prompts/get result
	SourceServerRequest = "server_request" // sampling/createMessage or elicitation/create params
)

// CodePolicyRefused is the JSON-RPC error code of a request other than a
// tools/call that mcpgov refused (a tools/call gets a tool result with
// isError instead, so the model can adapt).
const CodePolicyRefused = -32003

// BeginRequest follows a resources/read or prompts/get: the identity and
// audit checks a tools/call gets, then, through FinishCall, the post hooks
// on its result and one record. Params are read with exact keys; the
// record keeps the resource URI or the prompt's name and arguments.
func (c *Core) BeginRequest(ctx context.Context, method string, params json.RawMessage) (*CallState, Verdict) {
	var p struct {
		URI       string         `json:"uri"`
		Name      string         `json:"name"`
		Arguments jsontext.Value `json:"arguments"`
	}
	_ = jsonv2.Unmarshal(params, &p)
	call := &Call{Params: params, Identity: c.cfg.Identity, Client: c.clientInfo(), Session: c.cfg.Session,
		RequestRef: audit.RequestRefFrom(ctx)}
	switch method {
	case "resources/read":
		call.Source = SourceResource
		uri, _ := json.Marshal(p.URI)
		call.Arguments = json.RawMessage(`{"uri":` + string(uri) + `}`)
	case "prompts/get":
		call.Source, call.Tool = SourcePrompt, p.Name
		call.Arguments = json.RawMessage(p.Arguments)
	}
	now := time.Now()
	st := &CallState{Call: call, method: method, start: now, forwarded: now,
		decision: audit.Decision{Allow: true, Mode: string(c.cfg.Mode), Revision: c.cfg.BundleRevision}}
	if v, stop := c.preChecks(ctx, st); stop {
		return st, asError(v)
	}
	return st, pass
}

// asError turns a denial's tool result into a JSON-RPC error, for
// requests whose results have no isError.
func asError(v Verdict) Verdict {
	if v.Error != nil || v.Result == nil {
		return v
	}
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	msg := "mcpgov refused this request"
	if jsonv2.Unmarshal(v.Result, &r) == nil && len(r.Content) > 0 {
		msg = r.Content[0].Text
	}
	return Verdict{Error: &jsonrpc.Error{Code: CodePolicyRefused, Message: msg}}
}

// FilterServerRequest runs the post hooks on what a server sends the
// client in its own requests (sampling/createMessage messages go to the
// model, elicitation/create text to the user) and records it. It returns
// the params to forward (redacted, or as they were when nil), or an error
// to answer the server with instead of forwarding.
func (c *Core) FilterServerRequest(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, *jsonrpc.Error) {
	if c.cfg.Hooks == nil && !c.keeps() {
		return nil, nil
	}
	now := time.Now()
	st := &CallState{Call: &Call{Source: SourceServerRequest, Params: params, Identity: c.cfg.Identity, Client: c.clientInfo(), Session: c.cfg.Session},
		method: method, start: now, forwarded: now,
		decision: audit.Decision{Allow: true, Mode: string(c.cfg.Mode), Revision: c.cfg.BundleRevision}}
	out, reply, outcome, redactions := c.filterResult(ctx, st, params)
	if c.wants(st) {
		rec := c.callRecord(st, outcome)
		rec.Result = summarize(out, redactions)
		if reply := c.release(ctx, rec, reply); reply.Error != nil {
			return nil, reply.Error
		}
	}
	if outcome == audit.OutcomeDenied {
		return nil, &jsonrpc.Error{Code: CodePolicyRefused, Message: fmt.Sprintf("mcpgov withheld this %s: %s", method, st.decision.Reasons)}
	}
	return reply.Result, nil
}
