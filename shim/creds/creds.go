// Package creds gives an upstream the outbound credentials its catalog
// entry's auth block asks for (catalog.Auth): a shared or per-user API
// key in a header, query parameter or environment variable, an OAuth
// token (client credentials, a person's grant, a token exchange), the
// caller's own token when its audience is the server's, or headers the
// caller supplied for that server only.
//
// Secrets come from references (login/secretref) and the vault
// (login/vault); a value is never put in an error.
package creds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim"
)

// Request is what credentials are sought for.
type Request struct {
	Server *catalog.Server
	// User is whose vault entries are used (UserOf the caller's
	// identity); "" for nobody, which per-user auth refuses.
	User string
	// Stdio says the upstream is launched (credentials go in its
	// environment), not reached over HTTP.
	Stdio bool
	// Inbound is the caller's request at the gateway (its token for
	// passthrough and token exchange, X-Mcpgov-Mcp-Headers); nil in the
	// shim.
	Inbound *http.Request
}

// UserOf is the vault's name for the person behind id: their email, else
// their subject; "" when unauthenticated.
func UserOf(id audit.Identity) string {
	if !id.Authenticated() || id.Method == "anonymous" {
		return ""
	}
	if id.Email != "" {
		return id.Email
	}
	return id.Subject
}

// Injector resolves credentials.
type Injector struct {
	Vault *vault.Vault
	// VaultErr is why there is no Vault, for the servers that need one.
	VaultErr error
	Secrets  *secretref.Resolver
	// HTTPClient reaches token endpoints and discovery documents;
	// http.DefaultClient when nil.
	HTTPClient *http.Client

	// OAuthUsers, when set, gives a person's token for an oauth_user
	// server, asking for their consent when they have no usable grant
	// (login/oauthuser.Manager, its consent answered by the gateway);
	// without it, the vault's grants are used as they are.
	OAuthUsers OAuthUserTokens

	// Audit, when set, receives a record of each token exchange and its
	// refusals (never a token).
	Audit func(vault.Event)

	mu        sync.Mutex
	endpoints map[string]string // issuer -> token endpoint
}

// OAuthUserTokens gives user's access token for server, refreshed as
// needed; an error that asks for consent says how to give it.
type OAuthUserTokens interface {
	Token(ctx context.Context, user, server string) (string, error)
}

// OAuthUserAuthorizers is what OAuthUsers also offers when it can answer
// an HTTP server's challenges for a grant (login/oauthuser.Manager).
type OAuthUserAuthorizers interface {
	Authorizer(user, server string) shim.Authorizer
}

// Error is a refusal to give an upstream credentials: the server is then
// not started (fail closed). Hint says what to do.
type Error struct {
	Server string
	Err    error
	Hint   string
}

func (e *Error) Error() string { return fmt.Sprintf("credentials for server %s: %v", e.Server, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// For returns the credentials of req's server.
func (in *Injector) For(ctx context.Context, req Request) (shim.Credentials, error) {
	s := req.Server
	if s == nil {
		return shim.Credentials{}, nil
	}
	a := s.Auth
	fail := func(hint string, format string, args ...any) (shim.Credentials, error) {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf(format, args...), Hint: hint}
	}
	switch a.Kind() {
	case catalog.AuthNone:
		return shim.Credentials{}, nil
	case catalog.AuthAPIKey:
		if in.Secrets == nil {
			return fail("", "no secret resolver")
		}
		v, err := in.Secrets.Resolve(ctx, a.Secret)
		if err != nil {
			return fail("set the secret the catalog references ("+a.Secret+") where mcpgov runs", "%w", err)
		}
		return place(s, req.Stdio, v)
	case catalog.AuthAPIKeyPerUser:
		if req.User == "" {
			return fail("log in (`mcpgov login`) so mcpgov knows whose key to use", "the server uses each person's own key and the caller is anonymous")
		}
		if in.Vault == nil {
			return fail("configure the vault key (MCPGOV_VAULT_KEY, a secret reference)", "%w", in.noVault())
		}
		v, err := in.Vault.APIKey(ctx, req.User, s.ID)
		if errors.Is(err, vault.ErrNotFound) {
			return fail(fmt.Sprintf("store your key: mcpgov creds set %s", s.ID), "%s has no key stored for it", req.User)
		}
		if err != nil {
			return fail("", "%w", err)
		}
		return place(s, req.Stdio, v)
	case catalog.AuthOAuthClient:
		return in.oauthClient(ctx, s, req)
	case catalog.AuthOAuthUser:
		return in.oauthUser(ctx, s, req)
	case catalog.AuthPassthrough:
		return passthrough(s, req)
	case catalog.AuthHeaders:
		return callerHeaders(s, req)
	case catalog.AuthTokenExchange:
		return in.tokenExchange(ctx, s, req)
	case catalog.AuthCrossApp:
		return in.crossApp(ctx, s, req)
	}
	return fail("", "auth type %q is not supported", a.Type)
}

// place puts a key where the auth block says.
func place(s *catalog.Server, stdio bool, value string) (shim.Credentials, error) {
	a := s.Auth
	switch {
	case a.Env != "":
		if !stdio {
			return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("auth.env %s needs a stdio server; this one is reached over HTTP", a.Env), Hint: "use auth.header or auth.query"}
		}
		return shim.Credentials{Env: []string{a.Env + "=" + value}}, nil
	case stdio:
		return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("a stdio server takes its key in an environment variable"), Hint: "set auth.env"}
	case a.Query != "":
		return shim.Credentials{Apply: func(r *http.Request) error {
			q := r.URL.Query()
			q.Set(a.Query, value)
			r.URL.RawQuery = q.Encode()
			return nil
		}}, nil
	default:
		return shim.Credentials{Apply: func(r *http.Request) error {
			r.Header.Set(a.Header, a.Prefix+value)
			return nil
		}}, nil
	}
}

// bearer places an OAuth access token: in auth.header (Authorization by
// default) after auth.prefix ("Bearer " by default), or auth.env.
func bearer(s *catalog.Server, stdio bool, token string) (shim.Credentials, error) {
	a := *s
	if a.Auth.Header == "" && a.Auth.Query == "" && a.Auth.Env == "" {
		if stdio {
			return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("a stdio server takes its token in an environment variable"), Hint: "set auth.env"}
		}
		a.Auth.Header = "Authorization"
		if a.Auth.Prefix == "" {
			a.Auth.Prefix = "Bearer "
		}
	}
	return place(&a, stdio, token)
}

// dynamic applies a token fetched per request (so the vault's refresh
// ahead of expiry takes effect on a long session).
func dynamic(s *catalog.Server, stdio bool, token func(context.Context) (string, error)) (shim.Credentials, error) {
	if stdio {
		t, err := token(context.Background())
		if err != nil {
			return shim.Credentials{}, &Error{Server: s.ID, Err: err}
		}
		return bearer(s, true, t)
	}
	return shim.Credentials{Apply: func(r *http.Request) error {
		t, err := token(r.Context())
		if err != nil {
			return err
		}
		c, err := bearer(s, false, t)
		if err != nil {
			return err
		}
		return c.Apply(r)
	}}, nil
}

func (in *Injector) noVault() error {
	if in.VaultErr != nil {
		return fmt.Errorf("no vault: %w", in.VaultErr)
	}
	return errors.New("no vault configured")
}

func (in *Injector) client() *http.Client {
	if in.HTTPClient != nil {
		return in.HTTPClient
	}
	return http.DefaultClient
}

// tokenURL is the auth block's token endpoint, discovered from its issuer
// when not given.
func (in *Injector) tokenURL(ctx context.Context, a catalog.Auth) (string, error) {
	if a.TokenURL != "" {
		return a.TokenURL, nil
	}
	in.mu.Lock()
	u, ok := in.endpoints[a.Issuer]
	in.mu.Unlock()
	if ok {
		return u, nil
	}
	// RFC 8414 metadata or OpenID discovery, whichever the issuer
	// publishes (an OAuth-only authorization server has no OpenID
	// configuration).
	meta, err := oauthuser.IssuerMetadata(ctx, in.client(), a.Issuer)
	if err != nil && strings.HasSuffix(a.Issuer, "/") {
		meta, err = oauthuser.IssuerMetadata(ctx, in.client(), strings.TrimSuffix(a.Issuer, "/"))
	}
	if err != nil {
		return "", fmt.Errorf("discover the token endpoint of %s: %w", a.Issuer, err)
	}
	if meta.TokenEndpoint == "" {
		return "", fmt.Errorf("the authorization server %s publishes no token endpoint", a.Issuer)
	}
	u = meta.TokenEndpoint
	in.mu.Lock()
	if in.endpoints == nil {
		in.endpoints = map[string]string{}
	}
	in.endpoints[a.Issuer] = u
	in.mu.Unlock()
	return u, nil
}

func (in *Injector) clientSecret(ctx context.Context, a catalog.Auth) (string, error) {
	if a.ClientSecret == "" {
		return "", nil
	}
	if in.Secrets == nil {
		return "", errors.New("no secret resolver")
	}
	return in.Secrets.Resolve(ctx, a.ClientSecret)
}
