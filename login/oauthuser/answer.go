package oauthuser

import (
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CodeURLElicitationRequired is the JSON-RPC error code of MCP
// 2025-11-25's URLElicitationRequiredError.
const CodeURLElicitationRequired = mcp.CodeURLElicitationRequired

// message is what the client shows the user beside the URL.
func (c *ConsentRequired) message() string {
	return fmt.Sprintf("mcpgov needs your permission to call %s on your behalf. Open the link, sign in and consent, then the call is retried.", c.Server)
}

// RPCError is the answer to a tools/call for a client that declared the
// elicitation.url capability: a URLElicitationRequiredError (-32042) with
// one URL-mode elicitation. After the grant, the gateway sends
// notifications/elicitation/complete with c.ElicitationID and the client
// retries the call.
func (c *ConsentRequired) RPCError() *jsonrpc.Error {
	data, _ := json.Marshal(map[string]any{"elicitations": []*mcp.ElicitParams{{
		Mode: "url", Message: c.message(), URL: c.URL, ElicitationID: c.ElicitationID,
	}}})
	return &jsonrpc.Error{Code: CodeURLElicitationRequired, Message: "URL elicitation required: consent needed for " + c.Server, Data: data}
}

// ConsentText is what a client without URL elicitation shows: why, and
// the consent URL (for the user's eyes: not for logs or records).
func (c *ConsentRequired) ConsentText() string { return c.message() + "\n\n" + c.URL }

// ToolResult is the answer for a client without URL elicitation: a tool
// error whose text carries the consent URL, so the agent can show it.
func (c *ConsentRequired) ToolResult() *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
		Text: c.ConsentText(),
	}}}
}

// Answer builds the gateway's reply: the JSON-RPC error when urlMode (the
// client supports URL elicitation), else the tool result's JSON.
func (c *ConsentRequired) Answer(urlMode bool) (result json.RawMessage, rpcErr *jsonrpc.Error) {
	if urlMode {
		return nil, c.RPCError()
	}
	b, _ := json.Marshal(c.ToolResult())
	return b, nil
}

// SupportsURLElicitation reads a client's initialize capabilities and
// reports whether it declared elicitation.url. The capabilities are
// untrusted: keys match exactly and duplicate members are an error, so the
// answer is what a JavaScript or Python client meant.
func SupportsURLElicitation(capabilities json.RawMessage) (bool, error) {
	if len(capabilities) == 0 {
		return false, nil
	}
	var caps struct {
		Elicitation *struct {
			URL *jsontext.Value `json:"url"`
		} `json:"elicitation"`
	}
	// Unknown members are fine (capabilities grow), duplicates are not.
	if err := jsonv2.Unmarshal(capabilities, &caps, jsonv2.RejectUnknownMembers(false)); err != nil {
		return false, fmt.Errorf("read the client's capabilities: %w", err)
	}
	return caps.Elicitation != nil && caps.Elicitation.URL != nil, nil
}
