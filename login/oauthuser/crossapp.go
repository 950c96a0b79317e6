package oauthuser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// GrantJWTBearer is RFC 7523's grant, by which an authorization server
// takes an ID-JAG.
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// CrossApp obtains a token for a remote MCP server from the person's
// identity provider, with no consent screen (cross-app access, MCP's
// enterprise-managed authorization): the person's ID token is exchanged
// at the identity provider (RFC 8693) for an identity assertion
// authorization grant (ID-JAG) naming the server's authorization server
// and the server, which that authorization server takes in a JWT-bearer
// grant (RFC 7523) for an access token. The identity provider decides,
// by its policy, whether the person may reach the server.
type CrossApp struct {
	// IdPIssuer is the identity provider; its metadata gives the token
	// endpoint, unless IdPTokenURL names it. IdPClientID and
	// IdPClientSecret are mcpgov's client there (no secret: a public
	// client).
	IdPIssuer       string
	IdPTokenURL     string
	IdPClientID     string
	IdPClientSecret string
	// ClientID and ClientSecret are mcpgov's client at the server's
	// authorization server (client_secret_basic).
	ClientID     string
	ClientSecret string
	// Resource is the server's URL; its protected-resource metadata
	// (RFC 9728; at ResourceMetadataURL when known) names the
	// authorization server.
	Resource            string
	ResourceMetadataURL string
	// ServerIssuer, when set, is the authorization server ClientID is
	// registered with: the metadata must name it, and ClientSecret goes
	// nowhere else. Unset, the metadata's first authorization server is
	// used (a caller sending a secret should set it: the server's own
	// metadata then chooses where the secret goes).
	ServerIssuer string
	Scopes       []string
	// HTTPClient reaches them all (http.DefaultClient when nil).
	HTTPClient *http.Client
}

// Token runs both grants for the person whose ID token idToken is and
// returns the authorization server's access token. Errors carry the
// servers' error codes, never a token.
func (c *CrossApp) Token(ctx context.Context, idToken string) (Token, error) {
	if idToken == "" {
		return Token{}, errors.New("cross-app access needs the person's ID token from the identity provider")
	}
	m := &Manager{HTTPClient: c.HTTPClient}
	prm, _, err := m.resourceMetadata(ctx, c.Resource, c.ResourceMetadataURL)
	if err != nil {
		return Token{}, fmt.Errorf("find the authorization server of %s: %w", c.Resource, err)
	}
	issuer := prm.AuthorizationServers[0]
	if c.ServerIssuer != "" {
		issuer = ""
		for _, as := range prm.AuthorizationServers {
			if strings.TrimSuffix(as, "/") == strings.TrimSuffix(c.ServerIssuer, "/") {
				issuer = as
			}
		}
		if issuer == "" {
			return Token{}, fmt.Errorf("the protected-resource metadata of %s names %s as its authorization server, not %s (server_issuer): refusing to send the client's secret there", c.Resource, strings.Join(prm.AuthorizationServers, ", "), c.ServerIssuer)
		}
	}
	meta, err := auth.GetAuthServerMetadata(ctx, issuer, m.client())
	if err != nil {
		return Token{}, fmt.Errorf("discover the authorization server %s: %w", issuer, err)
	}
	if meta == nil || meta.TokenEndpoint == "" {
		return Token{}, fmt.Errorf("the authorization server %s publishes no token endpoint", issuer)
	}
	if len(meta.GrantTypesSupported) > 0 && !slices.Contains(meta.GrantTypesSupported, GrantJWTBearer) {
		return Token{}, fmt.Errorf("the authorization server %s does not take JWT-bearer grants (its grant_types_supported: %s), so it cannot take an ID-JAG", issuer, strings.Join(meta.GrantTypesSupported, ", "))
	}
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = prm.ScopesSupported
	}

	idpToken := c.IdPTokenURL
	if idpToken == "" {
		// OpenID discovery: an identity provider that takes no
		// authorization-code flow from mcpgov need not list PKCE, which
		// the go-sdk's authorization-server discovery insists on.
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, m.client()), strings.TrimSuffix(c.IdPIssuer, "/"))
		if err != nil {
			return Token{}, fmt.Errorf("discover the identity provider %s: %w", c.IdPIssuer, err)
		}
		if idpToken = p.Endpoint().TokenURL; idpToken == "" {
			return Token{}, fmt.Errorf("the identity provider %s publishes no token endpoint", c.IdPIssuer)
		}
	}

	// 1. At the identity provider (go-sdk's RFC 8693 request): the ID
	// token for an ID-JAG whose audience is the authorization server,
	// for the server.
	idp := &oauthex.ClientCredentials{ClientID: c.IdPClientID}
	if c.IdPClientSecret != "" {
		idp.ClientSecretAuth = &oauthex.ClientSecretAuth{ClientSecret: c.IdPClientSecret}
	}
	jag, err := oauthex.ExchangeToken(ctx, idpToken, &oauthex.TokenExchangeRequest{
		RequestedTokenType: oauthex.TokenTypeIDJAG, Audience: meta.Issuer, Resource: c.Resource, Scope: scopes,
		SubjectToken: idToken, SubjectTokenType: oauthex.TokenTypeIDToken,
	}, idp, m.client())
	if err != nil {
		return Token{}, fmt.Errorf("token exchange at the identity provider (%s): %w", idpToken, TokenError(err))
	}
	if typ, _ := jag.Extra("issued_token_type").(string); typ != oauthex.TokenTypeIDJAG {
		return Token{}, fmt.Errorf("the identity provider answered the exchange with a %q, not an ID-JAG (%s)", typ, oauthex.TokenTypeIDJAG)
	}

	// 2. At the authorization server: the ID-JAG as a JWT-bearer grant.
	form := url.Values{"grant_type": {GrantJWTBearer}, "assertion": {jag.AccessToken}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	at, err := c.post(ctx, meta.TokenEndpoint, form, c.ClientID, c.ClientSecret, "the authorization server")
	if err != nil {
		return Token{}, err
	}
	t := Token{AccessToken: at.AccessToken, RefreshToken: at.RefreshToken, TokenType: at.TokenType, Scopes: scopes}
	if at.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(time.Duration(at.ExpiresIn) * time.Second)
	}
	if at.Scope != "" {
		t.Scopes = strings.Fields(at.Scope)
	}
	return t, nil
}

type tokenAnswer struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	RefreshToken    string `json:"refresh_token"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
	Error           string `json:"error"`
	Description     string `json:"error_description"`
}

// post sends a token request, authenticating as clientID (Basic with a
// secret, else client_id in the form).
func (c *CrossApp) post(ctx context.Context, endpoint string, form url.Values, clientID, secret, who string) (tokenAnswer, error) {
	if secret == "" && clientID != "" {
		form.Set("client_id", clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	m := &Manager{HTTPClient: c.HTTPClient}
	resp, err := m.client().Do(req)
	if err != nil {
		return tokenAnswer{}, fmt.Errorf("%s (%s): %w", who, endpoint, err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := jsonv2.UnmarshalRead(io.LimitReader(resp.Body, 1<<20), &a, jsonv2.RejectUnknownMembers(false)); err != nil {
		return tokenAnswer{}, fmt.Errorf("%s (%s) answered %s with no token response: %w", who, endpoint, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || a.AccessToken == "" {
		return tokenAnswer{}, fmt.Errorf("%s (%s) refused the %s grant: %s: %s", who, endpoint, grantName(form.Get("grant_type")), resp.Status, ErrorAnswer(a.Error, a.Description))
	}
	return a, nil
}

func grantName(g string) string {
	if g == GrantJWTBearer {
		return "JWT-bearer"
	}
	return g
}
