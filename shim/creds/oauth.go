package creds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"golang.org/x/oauth2"

	"github.com/mcpgov/mcpgov/catalog"
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
			return vault.Token{}, describeOAuthError(err)
		}
		return vault.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry, Scopes: cur.Scopes}, nil
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
// (RFC 8693) at the auth block's token endpoint, once per session.
func (in *Injector) tokenExchange(ctx context.Context, s *catalog.Server, req Request) (shim.Credentials, error) {
	a := s.Auth
	subject := inboundToken(req.Inbound)
	if subject == "" {
		return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("token exchange needs the caller's bearer token; there is none"), Hint: "reach the server through the gateway with an identity provider's token"}
	}
	tokenURL, err := in.tokenURL(ctx, a)
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err}
	}
	secret, err := in.clientSecret(ctx, a)
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err}
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":        {subject},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
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
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err}
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(secret))
	resp, err := in.client().Do(hreq)
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("token exchange: %w", err)}
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := jsonv2.UnmarshalRead(resp.Body, &out, jsonv2.RejectUnknownMembers(false)); err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("token exchange: %s answered %s: %w", tokenURL, resp.Status, err)}
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("token exchange refused by %s: %s %s", tokenURL, out.Error, out.Description)}
	}
	return bearer(s, req.Stdio, out.AccessToken)
}

// describeOAuthError keeps the token endpoint's error code and text, not
// its body (which may echo what was sent).
func describeOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Errorf("token endpoint refused: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		return fmt.Errorf("token endpoint answered %s", re.Response.Status)
	}
	return err
}
