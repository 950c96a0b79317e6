package oauthuser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// config returns the server's OAuth client configuration, discovering the
// authorization server and registering a client once.
func (m *Manager) config(ctx context.Context, s *server) (*oauth2.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oc != nil {
		return s.oc, nil
	}
	c := s.cfg
	var meta *oauthex.AuthServerMeta
	legacy := false
	if err := c.pinned(s.id); err != nil {
		return nil, err
	}
	// Pinned by its endpoints (no issuer): none comes from metadata the
	// server names, not the revocation endpoint either (RevocationURL as
	// configured, else none).
	byEndpoints := c.Issuer == "" && (c.AuthURL != "" || c.TokenURL != "")
	if !byEndpoints && (c.AuthURL == "" || c.TokenURL == "" || c.ClientID == "") {
		if c.Issuer == "" {
			if c.Resource == "" {
				return nil, fmt.Errorf("oauth_user server %q: no client_id and no issuer to register one at\nhint: set client_id in the catalog", s.id)
			}
			if m.ProbeChallenge && c.ResourceMetadataURL == "" {
				metaURL, scopes := m.probe(ctx, c.Resource)
				c.ResourceMetadataURL = metaURL
				if len(c.Scopes) == 0 {
					c.Scopes = scopes
				}
			}
			prm, absent, err := m.resourceMetadata(ctx, c.Resource, c.ResourceMetadataURL)
			switch {
			case err == nil:
				c.Issuer = prm.AuthorizationServers[0]
				if len(c.Scopes) == 0 {
					c.Scopes = prm.ScopesSupported
				}
			case c.ResourceMetadataURL == "" && absent:
				// No protected-resource metadata anywhere (404 at every
				// well-known location): a server of MCP 2025-03-26, whose
				// authorization server is the origin of its URL. Any
				// other failure (5xx, a timeout, a bad document) is
				// reported: the metadata may well exist.
				legacy = true
				c.Issuer = origin(c.Resource)
			default:
				return nil, fmt.Errorf("find the authorization server of server %q: %w\nhint: set the issuer in the catalog", s.id, err)
			}
		}
		var err error
		if legacy {
			meta, err = m.legacyMetadata(ctx, c.Issuer)
		} else {
			meta, err = auth.GetAuthServerMetadata(ctx, c.Issuer, m.client())
		}
		if err != nil {
			return nil, fmt.Errorf("discover the authorization server %s of server %q: %w", c.Issuer, s.id, err)
		}
		if meta == nil && legacy {
			// MCP 2025-03-26's default endpoints, at the server's origin.
			meta = &oauthex.AuthServerMeta{Issuer: c.Issuer, AuthorizationEndpoint: c.Issuer + "/authorize",
				TokenEndpoint: c.Issuer + "/token", RegistrationEndpoint: c.Issuer + "/register"}
		}
		if meta == nil {
			return nil, fmt.Errorf("discover the authorization server %s of server %q: no OAuth or OpenID metadata there\nhint: set the authorization and token URLs in the catalog", c.Issuer, s.id)
		}
		c.AuthURL = cmp(c.AuthURL, meta.AuthorizationEndpoint)
		c.TokenURL = cmp(c.TokenURL, meta.TokenEndpoint)
		c.RevocationURL = cmp(c.RevocationURL, meta.RevocationEndpoint)
	}
	var methods []string
	if meta != nil {
		methods = meta.TokenEndpointAuthMethodsSupported
	}
	// Set the style explicitly: x/oauth2's auto-detection retries a failed
	// request with the other style, and some servers then answer slow_down
	// or count the attempt twice.
	style := authStyle(c.ClientSecret, methods)
	if c.ClientID == "" && c.ClientMetadataURL != "" && meta != nil && meta.ClientIDMetadataDocumentSupported {
		// The client id is the URL of mcpgov's client metadata document
		// (OAuth Client ID Metadata Document): no registration, a public
		// client.
		c.ClientID, c.ClientSecret, style = c.ClientMetadataURL, "", oauth2.AuthStyleInParams
	}
	var registered *Registration
	if c.ClientID == "" && m.Clients != nil {
		// The client registered on an earlier run, for the same server
		// and redirect: the grant it got is bound to it.
		if reg, err := m.Clients.GetClient(ctx, s.id); err == nil && reg.Issuer == c.Issuer && reg.RedirectURL == c.RedirectURL && reg.ClientID != "" {
			c.ClientID, c.ClientSecret = reg.ClientID, reg.ClientSecret
			style = registeredStyle(reg.AuthMethod, reg.ClientSecret)
			registered = &reg
		}
	}
	if c.ClientID == "" {
		reg, err := m.register(ctx, s.id, meta, c)
		if err != nil {
			return nil, err
		}
		c.ClientID, c.ClientSecret = reg.ClientID, reg.ClientSecret
		style = registeredStyle(reg.TokenEndpointAuthMethod, reg.ClientSecret)
		registered = &Registration{Issuer: c.Issuer, RedirectURL: c.RedirectURL,
			ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, AuthMethod: reg.TokenEndpointAuthMethod}
		if m.Clients != nil {
			if err := m.Clients.PutClient(ctx, s.id, *registered); err != nil {
				return nil, err
			}
		}
	}
	s.reg = registered
	s.cfg = c
	s.oc = &oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: slices.Clone(c.Scopes),
		RedirectURL: c.RedirectURL,
		Endpoint:    oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: style},
	}
	s.revokeURL = c.RevocationURL
	return s.oc, nil
}

// pinned refuses a configuration that would let the server's metadata
// choose where a grant or a secret goes: an authorization server pinned
// by some of its endpoints and not the issuer must have both the
// authorization and token endpoints (and a client id: there is no
// metadata to register at), and a client secret needs the authorization
// server pinned, by its issuer or its endpoints.
func (c Config) pinned(server string) error {
	if c.Issuer == "" && (c.AuthURL != "" || c.TokenURL != "") {
		switch {
		case c.AuthURL == "":
			return fmt.Errorf("oauth_user server %q: the token URL is set without the authorization URL or the issuer, and the authorization endpoint is not taken from the metadata the server names\nhint: set authorization_url too, or pin the authorization server with issuer", server)
		case c.TokenURL == "":
			return fmt.Errorf("oauth_user server %q: the authorization URL is set without the token URL or the issuer, and the token endpoint is not taken from the metadata the server names\nhint: set token_url too, or pin the authorization server with issuer", server)
		case c.ClientID == "":
			return fmt.Errorf("oauth_user server %q: the authorization and token URLs are set without a client id, and without an issuer there is no metadata to register a client at\nhint: set client_id", server)
		}
		return nil
	}
	if c.ClientSecret != "" && c.Issuer == "" {
		return fmt.Errorf("oauth_user server %q: a client secret is configured but the authorization server is not pinned, so the metadata the server names would choose where the secret and the grant's refresh token go\nhint: pin it with the issuer the client is registered at (issuer, or --oauth-issuer for the shim), or with both the authorization and token URLs", server)
	}
	return nil
}

// authServer is the authorization server a grant obtained with s's
// configuration (as discovered) is bound to: its issuer, or the token
// endpoint of one pinned by its endpoints.
func (s *server) authServer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authServerLocked()
}

// authServerLocked is authServer with s.mu held.
func (s *server) authServerLocked() string {
	if s.cfg.Issuer != "" {
		return s.cfg.Issuer
	}
	return s.cfg.TokenURL
}

// registeredStyle is how a registered client sends its secret.
func registeredStyle(method, secret string) oauth2.AuthStyle {
	if method == "client_secret_post" || secret == "" {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// authStyle picks how a client secret is sent: Basic unless the server
// lists only client_secret_post (RFC 8414 makes Basic the default).
func authStyle(secret string, methods []string) oauth2.AuthStyle {
	if secret == "" {
		return oauth2.AuthStyleInParams
	}
	if len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// register registers mcpgov as a client (RFC 7591) with the redirect URL,
// asking for the first token endpoint method the server supports in the
// order basic, post, none.
func (m *Manager) register(ctx context.Context, id string, meta *oauthex.AuthServerMeta, c Config) (*oauthex.ClientRegistrationResponse, error) {
	if meta == nil || meta.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("oauth_user server %q: no client_id configured and %s offers no dynamic client registration\nhint: register mcpgov there and set client_id (and the secret) in the catalog", id, c.Issuer)
	}
	method := "client_secret_basic"
	if ms := meta.TokenEndpointAuthMethodsSupported; len(ms) > 0 {
		method = ""
		for _, want := range []string{"client_secret_basic", "client_secret_post", "none"} {
			if slices.Contains(ms, want) {
				method = want
				break
			}
		}
		if method == "" {
			return nil, fmt.Errorf("oauth_user server %q: %s supports none of the token endpoint methods mcpgov uses (%s)", id, c.Issuer, strings.Join(ms, ", "))
		}
	}
	reg, err := oauthex.RegisterClient(ctx, meta.RegistrationEndpoint, &oauthex.ClientRegistrationMetadata{
		RedirectURIs: []string{c.RedirectURL}, TokenEndpointAuthMethod: method, ClientName: "mcpgov",
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scope: strings.Join(c.Scopes, " "),
	}, m.client())
	if err != nil {
		return nil, fmt.Errorf("register mcpgov as a client of %s for server %q: %w", c.Issuer, id, err)
	}
	return reg, nil
}

// legacyMetadata reads the RFC 8414 metadata a server of MCP 2025-03-26
// publishes at its origin. Such servers may name an issuer under a path
// of the origin (the document is at the root all the same); it is taken
// when it is on the same origin, which served the document. Endpoints
// must be https, or http on loopback. No document (404) is nil: the
// default endpoints apply.
func (m *Manager) legacyMetadata(ctx context.Context, base string) (*oauthex.AuthServerMeta, error) {
	at := base + "/.well-known/oauth-authorization-server"
	meta, err := m.serverMeta(ctx, at)
	if errors.Is(err, errNoMetadata) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if origin(meta.Issuer) != base {
		return nil, fmt.Errorf("%s names issuer %q, not on %s", at, meta.Issuer, base)
	}
	for _, e := range []string{meta.AuthorizationEndpoint, meta.TokenEndpoint, meta.RegistrationEndpoint, meta.RevocationEndpoint} {
		if e != "" && !secureURL(e) {
			return nil, fmt.Errorf("%s: endpoint %q is neither https nor loopback", at, e)
		}
	}
	return meta, nil
}

// secureURL: https, or http to a loopback host.
func secureURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// origin is the scheme and host of a URL (its authorization base in MCP
// 2025-03-26).
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// resourceMetadata reads the resource's RFC 9728 metadata at metaURL when
// known, else where MCP says to look (the endpoint's path, then the root).
// go-sdk checks that the metadata is for this resource and that the
// servers are https or loopback.
// absent reports that every location answered 404 (the server publishes
// no metadata), the one case the 2025-03-26 fallback is for.
func (m *Manager) resourceMetadata(ctx context.Context, resource, metaURL string) (_ *oauthex.ProtectedResourceMetadata, absent bool, _ error) {
	u, err := url.Parse(resource)
	if err != nil || u.Host == "" {
		return nil, false, fmt.Errorf("resource %q is not a URL", resource)
	}
	pathURL, rootURL, origin := *u, *u, *u
	pathURL.Path = "/.well-known/oauth-protected-resource/" + strings.TrimLeft(u.Path, "/")
	rootURL.Path = "/.well-known/oauth-protected-resource"
	origin.Path = ""
	pathURL.RawQuery, rootURL.RawQuery, origin.RawQuery = "", "", ""
	tries := []struct{ meta, resource string }{{pathURL.String(), resource}, {rootURL.String(), origin.String()}}
	if metaURL != "" {
		tries = append(tries[:0:0], append([]struct{ meta, resource string }{{metaURL, resource}}, tries...)...)
	}
	var errs []error
	absent = true
	for _, try := range tries {
		prm, err := oauthex.GetProtectedResourceMetadata(ctx, try.meta, try.resource, m.client())
		if err != nil {
			errs = append(errs, err)
			absent = absent && notFound(err)
			continue
		}
		if len(prm.AuthorizationServers) == 0 {
			errs = append(errs, fmt.Errorf("%s names no authorization server", try.meta))
			absent = false
			continue
		}
		return prm, false, nil
	}
	return nil, absent, errors.Join(errs...)
}

// notFound says whether err is the go-sdk's discovery answer to a 404:
// its status error is unexported and reads "bad status 404" (oauthex's
// getJSON), wrapped with the URL it asked.
func notFound(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "bad status 404" {
			return true
		}
	}
	return false
}

// ReadChallenge reads the Bearer challenge of an upstream's 401 or 403
// (RFC 6750, RFC 9728): where its protected-resource metadata is and which
// scopes it asks for, for Config.ResourceMetadataURL and Config.Scopes.
// A malformed header yields nothing.
func ReadChallenge(h http.Header) (metadataURL string, scopes []string) {
	cs, err := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil {
		return "", nil
	}
	for _, c := range cs {
		if c.Scheme == "bearer" {
			return c.Params["resource_metadata"], strings.Fields(c.Params["scope"])
		}
	}
	return "", nil
}

// probeBody is the request probe sends: a JSON-RPC ping, which a server
// that takes no token answers (or refuses for want of a session) without
// starting anything.
const probeBody = `{"jsonrpc":"2.0","id":"mcpgov-probe","method":"ping"}`

// probe asks the MCP server at resource, without a token, for its 401
// challenge: where its protected-resource metadata is, and the scopes it
// asks for (MCP's scope selection takes the challenge's first). Any other
// answer, or none, yields nothing, and discovery goes on at the
// well-known locations.
func (m *Manager) probe(ctx context.Context, resource string) (metaURL string, scopes []string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resource, strings.NewReader(probeBody))
	if err != nil {
		return "", nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := m.client().Do(req)
	if err != nil {
		return "", nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusUnauthorized {
		return "", nil
	}
	return ReadChallenge(resp.Header)
}

// AuthorizationServer finds the authorization server of the MCP server at
// resource as an MCP client does (RFC 9728): the server's 401 challenge,
// then its protected-resource metadata at the challenge's location or the
// well-known ones, then the first authorization server it names, whose
// RFC 8414 or OpenID metadata it returns. For a client that is not a
// person's (oauth_client), which needs only the token endpoint: unlike a
// person's consent, it does not require the server to offer PKCE.
func AuthorizationServer(ctx context.Context, client *http.Client, resource string) (*oauthex.AuthServerMeta, error) {
	m := &Manager{HTTPClient: client}
	metaURL, _ := m.probe(ctx, resource)
	prm, _, err := m.resourceMetadata(ctx, resource, metaURL)
	if err != nil {
		return nil, fmt.Errorf("find the authorization server of %s: %w", resource, err)
	}
	issuer := prm.AuthorizationServers[0]
	if u, err := url.Parse(issuer); err != nil || u.Host == "" || !secureURL(issuer) {
		return nil, fmt.Errorf("the authorization server %q of %s is not an https (or loopback) URL", issuer, resource)
	}
	return m.issuerMetadata(ctx, issuer)
}

// IssuerMetadata reads the metadata of the authorization server issuer
// names (RFC 8414, then OpenID discovery, each where the issuer's path
// puts it): the document must name the same issuer, and its token
// endpoint must be https or loopback.
func IssuerMetadata(ctx context.Context, client *http.Client, issuer string) (*oauthex.AuthServerMeta, error) {
	return (&Manager{HTTPClient: client}).issuerMetadata(ctx, issuer)
}

func (m *Manager) issuerMetadata(ctx context.Context, issuer string) (*oauthex.AuthServerMeta, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("the authorization server %q is not a URL", issuer)
	}
	path := strings.TrimRight(u.Path, "/")
	base := u.Scheme + "://" + u.Host
	var errs []error
	for _, at := range []string{base + "/.well-known/oauth-authorization-server" + path, base + "/.well-known/openid-configuration" + path, base + path + "/.well-known/openid-configuration"} {
		meta, err := m.serverMeta(ctx, at)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if meta.Issuer != issuer {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", at, meta.Issuer, issuer))
			continue
		}
		if meta.TokenEndpoint != "" && !secureURL(meta.TokenEndpoint) {
			return nil, fmt.Errorf("%s: token endpoint %q is neither https nor loopback", at, meta.TokenEndpoint)
		}
		return meta, nil
	}
	return nil, fmt.Errorf("discover the authorization server %s: %w", issuer, errors.Join(errs...))
}

// errNoMetadata is serverMeta's answer when there is no document (404).
var errNoMetadata = errors.New("no metadata document")

// serverMeta reads one authorization server metadata document: duplicate
// members refused, unknown ones ignored; none there (404) is
// errNoMetadata.
func (m *Manager) serverMeta(ctx context.Context, at string) (*oauthex.AuthServerMeta, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, at, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s answered %s: %w", at, resp.Status, errNoMetadata)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", at, resp.Status)
	}
	var meta oauthex.AuthServerMeta
	if err := jsonv2.UnmarshalRead(io.LimitReader(resp.Body, 1<<20), &meta, jsonv2.RejectUnknownMembers(false)); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	return &meta, nil
}
