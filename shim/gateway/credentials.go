package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// CredentialSource is implemented by a Governance that gives upstreams
// outbound credentials (shim/creds): for each server a session starts,
// from the caller's identity and initialize request (its token, for
// passthrough; X-Mcpgov-Mcp-Headers, for caller headers). An error
// leaves the server out of the session: nothing is started without the
// credentials its catalog entry asks for.
type CredentialSource interface {
	Credentials(ctx context.Context, r *http.Request, who audit.Identity, srv Server) (shim.Credentials, error)
}

func (h *Handler) credentials(r *http.Request, who audit.Identity, srv Server) (shim.Credentials, error) {
	cs, ok := h.opts.Governance.(CredentialSource)
	if !ok {
		return shim.Credentials{}, nil
	}
	return cs.Credentials(r.Context(), r, who, srv)
}

// ConsentNeeded is an outbound-credential error a person's consent
// resolves (login/oauthuser.ConsentRequired): the initialize that needed
// it is answered with a URL-mode elicitation (MCP 2025-11-25) when the
// client declared elicitation.url, else with an error whose text carries
// the consent URL; the client initializes again once consent is given.
type ConsentNeeded interface {
	error
	RPCError() *jsonrpc.Error
	ConsentText() string
}

// consentAnswer is the answer to the initialize m that needed consent.
func consentAnswer(m *rpc.Message, c ConsentNeeded) []byte {
	if takesURLElicitation(m.Params) {
		return rpc.ErrorResponse(m.ID, c.RPCError())
	}
	return rpc.ErrorResponse(m.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: c.ConsentText()})
}

// takesURLElicitation reads initialize's capabilities.elicitation.url,
// with exact keys and duplicate members refused (untrusted JSON).
func takesURLElicitation(params json.RawMessage) bool {
	var p struct {
		Capabilities struct {
			Elicitation *struct {
				URL *jsontext.Value `json:"url"`
			} `json:"elicitation"`
		} `json:"capabilities"`
	}
	if jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false)) != nil {
		return false
	}
	return p.Capabilities.Elicitation != nil && p.Capabilities.Elicitation.URL != nil
}
