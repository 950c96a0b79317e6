package gateway

import (
	"context"
	"net/http"

	"github.com/mcpgov/mcpgov/audit"
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
