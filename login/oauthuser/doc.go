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
// Wiring in the gateway (a few lines):
//
//	m := &oauthuser.Manager{Store: vault, Sink: auditSink, LockDir: stateDir}
//	m.AddServer(entry.ID, oauthuser.Config{Issuer: a.Issuer, ClientID: a.ClientID,
//		ClientSecret: resolvedSecret, Scopes: a.Scopes,
//		RedirectURL: publicURL + "/oauth/callback", Resource: entry.URL})
//	mux.Handle("/oauth/callback", m.RedirectHandler())
//
//	// per tools/call to an oauth_user server, user = the caller's identity (issuer + subject):
//	tok, err := m.Token(ctx, user, entry.ID)
//	var cr *oauthuser.ConsentRequired
//	if errors.As(err, &cr) {
//		urlMode, _ := oauthuser.SupportsURLElicitation(initializeParams.capabilities)
//		result, rpcErr := cr.Answer(urlMode) // forward one of the two; remember cr.ElicitationID → session
//	}
//	upstreamReq.Header.Set("Authorization", "Bearer "+tok)
//
//	// in the Sink, on EventGrant: notifications/elicitation/complete
//	// {"elicitationId": e.ElicitationID} to the session that got cr.
//	// on logout / offboarding: m.Revoke(ctx, user, "")
//
// The shim fronting a remote server uses the same Manager with a
// KeyringStore (login.Keyring as its SecretStore), a loopback redirect
// (a public client, http://127.0.0.1:PORT/...) and LockDir in the user's
// state directory, so several shims refresh a grant once.
//
// Consents in flight (state, PKCE verifier) live in the Manager's memory:
// a gateway with replicas must route the redirect to the replica that made
// the consent URL, or the state moves to the shared store.
package oauthuser
