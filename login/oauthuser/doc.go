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
// The shim fronting a remote server directly (`mcpgov shim --url`) uses
// Remote, a shim.Authorizer around a Manager with a KeyringStore
// (login.Keyring as its SecretStore) and a loopback RedirectURL served by
// RedirectHandler: the server's 401 challenge gives ResourceMetadataURL and
// Scopes, the browser opens or the call gets the link. The gateway's
// upstream sessions use Manager.Authorizer, so a token the server stops
// taking is refreshed, or the call gets a new consent link.
//
// The gateway sets ProbeChallenge: it makes a person's consent link before
// it has talked to the server, so discovery first asks the server for its
// 401 challenge (where its metadata is, which scopes it wants). A consent
// handed to a session's client as a URL-mode elicitation is announced to
// that session (notifications/elicitation/complete) when the grant lands
// in this process. AuthorizationServer is the same discovery for a client
// that is not a person's (oauth_client).
//
// Consents in flight (state, PKCE verifier) live in a PendingStore: the
// Manager's memory by default, or a store the gateway's replicas share
// (policy/state's Redis: a state is taken once with GETDEL), so the
// redirect may reach any replica. Dynamically registered clients live in
// Clients when set (the shim: the keyring; the gateway's replicas: the
// shared store, sealed), else in the Manager's memory: a restart then
// registers a new client, whose grants need a new consent.
package oauthuser
