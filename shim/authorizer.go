package shim

import (
	"context"
	"net/http"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Authorizer gives a Streamable HTTP upstream its bearer token and
// answers the server's authorization challenges (a 401 or a 403 with
// WWW-Authenticate), as an MCP client's OAuth support does: the shim
// fronting a remote server directly uses login/oauthuser's Remote.
type Authorizer interface {
	// Authorization is the Authorization header value for the next
	// request: "" sends none (no grant yet: the server's 401 says where to
	// get one).
	Authorization(ctx context.Context) (string, error)
	// Challenged is told that the server refused call with c. It returns
	// Retry when the request is to be sent again (a token is there now,
	// fresh or stepped up), else the answer to give the client in its
	// place (a consent link), or nil to pass the refusal on.
	Challenged(ctx context.Context, c Challenge) ChallengeResult
}

// Challenge is one refusal of an HTTP upstream.
type Challenge struct {
	Status int         // 401 or 403
	Header http.Header // the response's headers (WWW-Authenticate)
	// Sent is the Authorization header the refused request carried.
	Sent string
	// Call is the refused message; Init is the client's initialize (its
	// capabilities say whether it takes URL elicitations), nil before.
	Call, Init *rpc.Message
	// Attempt counts the retries of Call so far.
	Attempt int
}

// ChallengeResult is what an Authorizer decided for a Challenge.
type ChallengeResult struct {
	Retry bool
	// Answer is a complete JSON-RPC response to Call.
	Answer []byte
}

// maxAuthRetries bounds how often one message is resent after refusals,
// so a server that refuses every token cannot loop the shim.
const maxAuthRetries = 3

// Notifier is an Authorizer that also has messages of its own for the
// client (notifications/elicitation/complete once a consent it linked to
// is given): WithAuthorizer hands it a function that delivers one as if
// the server had sent it.
type Notifier interface {
	SetNotify(func(frame []byte))
}

// WithAuthorizer makes u ask a for its bearer token on every request and
// on every 401 or 403 refusal.
func (u *HTTPUpstream) WithAuthorizer(a Authorizer) *HTTPUpstream {
	u.rt.authorizer = a
	u.auth = a
	u.notifier(a)
	return u
}

func (u *HTTPUpstream) notifier(a Authorizer) {
	if n, ok := a.(Notifier); ok {
		n.SetNotify(func(frame []byte) { u.deliver(frameResult{frame: frame}) })
	}
}
