package creds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"golang.org/x/oauth2"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim"
)

// oauthClient is the client-credentials grant: one token per server, kept
// in the vault as the shared entry (user "") and fetched again ahead of
// its expiry, once across processes.
func (in *Injector) oauthClient(ctx context.Context, s *catalog.Server, req Request) (shim.Credentials, error) {
	if in.Vault == nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("oauth_client keeps its token in the vault: %w", in.noVault()), Hint: "configure the vault key (MCPGOV_VAULT_KEY, a secret reference)"}
	}
	fetch := func(ctx context.Context, _ vault.Token) (vault.Token, error) { return in.clientCredentials(ctx, s) }
	token := func(ctx context.Context) (string, error) {
		t, err := in.Vault.Token(ctx, "", s.ID, fetch)
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	}
	// Fetched now, so a server whose grant fails is not started.
	if _, err := token(ctx); err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err, Hint: "check the auth block's client_id, client_secret or client_assertion_key reference and token endpoint"}
	}
	return dynamic(s, req.Stdio, token)
}

// oauthUser injects the person's token from the vault, refreshed with its
// refresh token ahead of expiry. The grant itself (authorization code,
// consent) is obtained by login/oauthuser, which stores it in the vault.
func (in *Injector) oauthUser(ctx context.Context, s *catalog.Server, req Request) (shim.Credentials, error) {
	a := s.Auth
	if req.User == "" {
		return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("the server uses each person's OAuth grant and the caller is anonymous"), Hint: "log in (`mcpgov login`)"}
	}
	if in.OAuthUsers != nil {
		token := func(ctx context.Context) (string, error) { return in.OAuthUsers.Token(ctx, req.User, s.ID) }
		if _, err := token(ctx); err != nil {
			return shim.Credentials{}, &Error{Server: s.ID, Err: err, Hint: fmt.Sprintf("%s consents to mcpgov calling the server for them (the consent link)", req.User)}
		}
		if az, ok := in.OAuthUsers.(OAuthUserAuthorizers); ok && !req.Stdio && a.Header == "" && a.Query == "" && a.Env == "" {
			// The grant answers the server's challenges too: a token it
			// stops taking mid-session is refreshed, or the call gets a
			// new consent link.
			return shim.Credentials{Authorizer: az.Authorizer(req.User, s.ID)}, nil
		}
		return dynamic(s, req.Stdio, token)
	}
	if in.Vault == nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: in.noVault(), Hint: "configure the vault key (MCPGOV_VAULT_KEY, a secret reference)"}
	}
	refresh := func(ctx context.Context, cur vault.Token) (vault.Token, error) {
		if cur.RefreshToken == "" {
			return vault.Token{}, fmt.Errorf("no grant for %s: %w", req.User, vault.ErrNotFound)
		}
		// A grant is refreshed only at the authorization server that
		// issued it, for the client it was issued to (the catalog may name
		// another since): its refresh token is not sent anywhere else. A
		// grant stored before grants named their issuer is bound to the
		// one in force now.
		as := cmpStr(a.Issuer, a.TokenURL)
		var ok bool
		if cur.Issuer, cur.ClientID, ok = oauthuser.BindGrant(cur.Issuer, cur.ClientID, as, a.ClientID); !ok {
			return vault.Token{}, fmt.Errorf("the grant of %s was issued by another authorization server or client than the catalog names now (%s): it is not refreshed there; a new consent is needed: %w", req.User, as, vault.ErrNotFound)
		}
		tokenURL, err := in.tokenURL(ctx, a)
		if err != nil {
			return vault.Token{}, err
		}
		secret, err := in.clientSecret(ctx, a)
		if err != nil {
			return vault.Token{}, err
		}
		c := oauth2.Config{ClientID: a.ClientID, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: a.Scopes}
		t, err := c.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, in.client()), &oauth2.Token{RefreshToken: cur.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
		if err != nil {
			return vault.Token{}, fmt.Errorf("refresh the grant at %s: %w", tokenURL, oauthuser.TokenError(err))
		}
		// The grant stays bound to the authorization server and client that
		// issued it (login/oauthuser refreshes and revokes it only there).
		return vault.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry, Scopes: cur.Scopes,
			Issuer: cur.Issuer, ClientID: cur.ClientID}, nil
	}
	token := func(ctx context.Context) (string, error) {
		t, err := in.Vault.Token(ctx, req.User, s.ID, refresh)
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	}
	if _, err := token(ctx); err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err, Hint: fmt.Sprintf("authorize the server for %s first (its OAuth consent)", req.User)}
	}
	return dynamic(s, req.Stdio, token)
}

// tokenExchange trades the caller's inbound token for one for the server
// (RFC 8693) at the auth block's token endpoint, once per session. Each
// exchange and each refusal is recorded (never a token).
func (in *Injector) tokenExchange(ctx context.Context, s *catalog.Server, req Request) (shim.Credentials, error) {
	tok, err := in.exchange(ctx, s, req)
	if err != nil {
		in.record(vault.Event{Action: vault.ActionRefused, Key: vault.Key{User: req.User, Server: s.ID, Name: "token_exchange"}, Kind: vault.KindToken, Reason: err.Error()})
		return shim.Credentials{}, err
	}
	in.record(vault.Event{Action: ActionExchange, Key: vault.Key{User: req.User, Server: s.ID, Name: "token_exchange"}, Kind: vault.KindToken, Reason: exchangeWhat(s.Auth)})
	return bearer(s, req.Stdio, tok)
}

// ActionExchange is the credential record of a token exchange that gave
// the server a token.
const ActionExchange = "exchange"

func (in *Injector) record(e vault.Event) {
	if in.Audit != nil {
		in.Audit(e)
	}
}

// exchangeWhat says what an exchange asked for, for its record.
func exchangeWhat(a catalog.Auth) string {
	what := "at " + cmpStr(a.Issuer, a.TokenURL)
	if a.Audience != "" {
		what += " for audience " + a.Audience
	}
	if a.Resource != "" {
		what += " for resource " + a.Resource
	}
	return what
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (in *Injector) exchange(ctx context.Context, s *catalog.Server, req Request) (string, error) {
	a := s.Auth
	subject := inboundToken(req.Inbound)
	if subject == "" {
		return "", &Error{Server: s.ID, Err: errors.New("token exchange needs the caller's bearer token; there is none"), Hint: "reach the server through the gateway with an identity provider's token"}
	}
	tokenURL, err := in.tokenURL(ctx, a)
	if err != nil {
		return "", &Error{Server: s.ID, Err: err}
	}
	secret, err := in.clientSecret(ctx, a)
	if err != nil {
		return "", &Error{Server: s.ID, Err: err}
	}
	subjectType := a.SubjectTokenType
	if subjectType == "" {
		subjectType = "access_token"
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":        {subject},
		"subject_token_type":   {catalog.SubjectTokenTypes[subjectType]},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	if a.Audience != "" {
		form.Set("audience", a.Audience)
	}
	if a.Resource != "" {
		form.Set("resource", a.Resource)
	}
	if len(a.Scopes) > 0 {
		form.Set("scope", strings.Join(a.Scopes, " "))
	}
	if a.ConnectorID != "" {
		form.Set("connector_id", a.ConnectorID)
	}
	if secret == "" {
		form.Set("client_id", a.ClientID) // a public client
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &Error{Server: s.ID, Err: err}
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		hreq.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(secret))
	}
	resp, err := in.client().Do(hreq)
	if err != nil {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange: %w", err)}
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
		Error           string `json:"error"`
		Description     string `json:"error_description"`
	}
	if err := jsonv2.UnmarshalRead(io.LimitReader(resp.Body, 1<<20), &out, jsonv2.RejectUnknownMembers(false)); err != nil {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange: %s answered %s with no token response: %w", tokenURL, resp.Status, err)}
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange of the caller's %s%s refused by %s (%s): %s", subjectType, forWhat(a), tokenURL, resp.Status, oauthuser.ErrorAnswer(out.Error, out.Description)),
			Hint: exchangeHint(out.Error, a)}
	}
	if out.IssuedTokenType != "" && out.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange at %s issued a %s, not the access token asked for", tokenURL, out.IssuedTokenType)}
	}
	if a.Audience != "" {
		// An issuer may answer with a token for someone else (Dex, asked
		// for a peer that does not trust the gateway's client, leaves it
		// out of aud): that token is not sent where it is not meant for.
		// A token whose audience cannot be read (opaque, or a JWT with no
		// aud) is refused too: the catalog's audience promises a check,
		// and the gateway has no introspection to make it another way, so
		// forwarding it would fail open. An issuer that only issues
		// opaque tokens is configured without audience (resource names
		// the server instead), where no check is promised.
		aud, err := audiences(out.AccessToken)
		if err != nil {
			return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange at %s gave a token whose audience cannot be read (not a JWT with an aud claim), so it cannot be checked against the audience %q the catalog asks for", tokenURL, a.Audience),
				Hint: "have the issuer issue JWT access tokens with an aud claim for that audience; if it only issues opaque tokens, drop audience from the server's auth block (name the server with resource), and no audience check is made"}
		}
		if !slices.Contains(aud, a.Audience) {
			return "", &Error{Server: s.ID, Err: fmt.Errorf("token exchange at %s gave a token for %s, not for the audience %q the catalog asks for", tokenURL, strings.Join(quoted(aud), ", "), a.Audience),
				Hint: "allow the gateway's client to obtain tokens for that audience at the issuer (Dex: the audience's client lists the gateway's in trustedPeers, and the scopes ask for audience:server:client_id:AUDIENCE)"}
		}
	}
	return out.AccessToken, nil
}

// forWhat names what an exchange asked for, for its refusal.
func forWhat(a catalog.Auth) string {
	var parts []string
	if a.Audience != "" {
		parts = append(parts, "audience "+strconv.Quote(a.Audience))
	}
	if a.Resource != "" {
		parts = append(parts, "resource "+strconv.Quote(a.Resource))
	}
	if len(a.Scopes) > 0 {
		parts = append(parts, "scopes "+strconv.Quote(strings.Join(a.Scopes, " ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return " for " + strings.Join(parts, ", ")
}

// exchangeHint is what to check for a refused exchange.
func exchangeHint(code string, a catalog.Auth) string {
	switch code {
	case "invalid_client", "unauthorized_client":
		return "check the auth block's client_id and client_secret reference"
	case "access_denied", "invalid_grant":
		return "the issuer did not accept the caller's token as its subject: check subject_token_type and that the issuer trusts the caller's identity provider"
	case "invalid_request", "request_not_supported", "unsupported_token_type":
		if a.ConnectorID != "" {
			return "check subject_token_type and connector_id (" + a.ConnectorID + ") against the issuer's configuration"
		}
		return "check subject_token_type, and whether the issuer needs a connector_id (Dex does)"
	case "invalid_target", "invalid_scope":
		return "the issuer does not issue tokens for that audience, resource or scopes to the gateway's client"
	case "server_error":
		return "the issuer's log says why (Dex answers so when a scope asks for an audience whose client does not list the gateway's in trustedPeers)"
	}
	return ""
}
