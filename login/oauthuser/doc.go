// Package oauthuser gives mcpgov per-user OAuth credentials for upstream
// MCP servers (catalog auth method oauth_user): authorization code with
// PKCE per user and server, tokens kept in a TokenStore, refreshed ahead of
// expiry once per grant across goroutines and processes, revoked on logout
// or offboarding, and an Event for every grant, refresh, use, revocation
// and consent request, never with a token in it.
//
// When a call needs a token the user has not granted (or that the
// authorization server no longer honours), Token returns a
// *ConsentRequired. The gateway answers the call with it: a
// URLElicitationRequiredError (-32042, MCP 2025-11-25) for clients that
// declared elicitation.url, else a tool error carrying the consent URL.
// The user consents in a browser, the authorization server redirects to
// RedirectHandler, which stores the tokens and emits EventGrant; the
// gateway then sends notifications/elicitation/complete and the retried
// call gets its token.
//
// The authorization server is the configured issuer, else the first one
// the server's RFC 9728 metadata names (at ResourceMetadataURL, else the
// well-known locations). Without a client id, mcpgov registers itself
// (RFC 7591) once per Manager.
//
// Wiring in the gateway:
//
//	m := &oauthuser.Manager{Store: vault, Sink: auditSink, LockDir: stateDir,
//		CheckUser: browserIsUser} // the gateway's login cookie vs the consent's user
//	m.AddServer(entry.ID, oauthuser.Config{Issuer: a.Issuer, ClientID: a.ClientID,
//		ClientSecret: resolvedSecret, Scopes: a.Scopes,
//		RedirectURL: publicURL + "/oauth/callback", Resource: entry.URL})
//	mux.Handle("/oauth/callback", m.RedirectHandler())
//
//	// per tools/call to an oauth_user server; user = issuer + subject of the caller:
//	tok, err := m.Token(ctx, user, entry.ID)
//	var cr *oauthuser.ConsentRequired
//	if errors.As(err, &cr) {
//		urlMode, err := oauthuser.SupportsURLElicitation(initialize.params.capabilities)
//		result, rpcErr := cr.Answer(urlMode) // answer with one; keep cr.ElicitationID → session
//	}
//	upstreamReq.Header.Set("Authorization", "Bearer "+tok)
//
//	// upstream answered 403 insufficient_scope:
//	_, scopes := oauthuser.ReadChallenge(resp.Header)
//	cr, err := m.StepUp(ctx, user, entry.ID, scopes) // answer cr as above; ErrScopeLoop: fail the call
//
//	// Sink, on EventGrant: send notifications/elicitation/complete
//	// {"elicitationId": e.ElicitationID} to the session that got cr.
//	// logout or offboarding: m.Revoke(ctx, user, "")
//
// The shim fronting a remote server directly uses the same Manager with a
// KeyringStore (login.Keyring as its SecretStore), a loopback RedirectURL
// served by RedirectHandler, and LockDir in the user's state directory so
// several shims refresh a grant once; when the server answers 401 before
// any configuration is known, ReadChallenge gives ResourceMetadataURL and
// Scopes.
//
// Consents in flight (state, PKCE verifier) and dynamically registered
// clients live in the Manager's memory: a gateway with replicas must route
// the redirect to the replica that made the consent URL (or keep them in
// the shared store), and a restart registers a new client, whose grants
// then need a new consent.
package oauthuser
