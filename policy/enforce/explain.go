package enforce

import (
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Explanation is the `data` of a JSON-RPC error mcpgov answers with, under
// the "mcpgov" key: why, by which rule of which bundle revision, and what
// to do. Clients that show only the message get the same reason there.
type Explanation struct {
	Reason         string `json:"reason"`
	Rule           string `json:"rule,omitempty"`
	BundleRevision string `json:"bundle_revision,omitempty"`
	Remediation    string `json:"remediation,omitempty"`
	RequestURL     string `json:"request_url,omitempty"`
}

// explained returns e with the explanation as its data.
func explained(e *jsonrpc.Error, x Explanation) *jsonrpc.Error {
	b, err := json.Marshal(struct {
		Mcpgov Explanation `json:"mcpgov"`
	}{x})
	if err == nil {
		e.Data = b
	}
	return e
}

// remediation says how to get access: the catalog's request URL when it
// has one.
func (c *Core) remediation() string {
	if c.cfg.RequestURL != "" {
		return "request access at " + c.cfg.RequestURL
	}
	return "ask your administrator to approve it in the catalog"
}

// unknownTool is the error for a tool the client may not call: to the
// model it is an unknown tool (-32602, as the server itself would say),
// and the message and data say why and what to do.
func (c *Core) unknownTool(tool, reason, rule string) *jsonrpc.Error {
	fix := c.remediation()
	return explained(&jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Unknown tool: " + tool + " (mcpgov: " + reason + "; " + fix + ")"},
		Explanation{Reason: reason, Rule: rule, BundleRevision: c.cfg.BundleRevision, Remediation: fix, RequestURL: c.cfg.RequestURL})
}
