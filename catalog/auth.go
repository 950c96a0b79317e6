package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// AuthType is how mcpgov authenticates to a server on the caller's behalf
// (outbound credentials).
type AuthType string

// Auth types.
const (
	AuthNone AuthType = "none"
	// AuthAPIKey: one shared key, injected as a header, a query parameter
	// or an environment variable.
	AuthAPIKey AuthType = "api_key"
	// AuthAPIKeyPerUser: each person's own key, from the vault
	// (`mcpgov creds set SERVER`), injected like a shared key.
	AuthAPIKeyPerUser AuthType = "api_key_per_user"
	// AuthOAuthUser: each person's OAuth authorization-code grant; the
	// tokens live in the vault.
	AuthOAuthUser AuthType = "oauth_user"
	// AuthOAuthClient: the OAuth client-credentials grant, one token per
	// server.
	AuthOAuthClient AuthType = "oauth_client"
	// AuthPassthrough: the caller's inbound token, forwarded only when its
	// audience is the server's (MCP's security guidance forbids passing a
	// token through blindly).
	AuthPassthrough AuthType = "passthrough"
	// AuthHeaders: headers the caller supplies per server in
	// X-Mcpgov-Mcp-Headers, delivered to that server only.
	AuthHeaders AuthType = "headers"
	// AuthTokenExchange: the caller's token exchanged for one for the
	// server (RFC 8693) at the identity provider.
	AuthTokenExchange AuthType = "token_exchange"
	// AuthCrossApp: cross-app access (MCP's enterprise-managed
	// authorization): the caller's ID token exchanged at the identity
	// provider (RFC 8693) for an identity assertion grant (ID-JAG) that
	// the server's authorization server takes in a JWT-bearer grant (RFC
	// 7523) for the server's token; no consent screen.
	AuthCrossApp AuthType = "cross_app"
)

var authTypes = []AuthType{AuthNone, AuthAPIKey, AuthAPIKeyPerUser, AuthOAuthUser, AuthOAuthClient, AuthPassthrough, AuthHeaders, AuthTokenExchange, AuthCrossApp}

// Auth is a server's [servers.ID.auth] table. Secrets are never inline:
// Secret and ClientSecret are references ("env:NAME", "file:PATH",
// "keyring:SERVICE/ACCOUNT", "vault:NAME"; see login/secretref).
//
// The old free-text form (auth = "oauth") still loads: it is kept in
// Legacy, means no outbound credentials, and Load warns about it.
type Auth struct {
	Type AuthType `json:"type,omitempty"`

	// Secret references the shared key (api_key).
	Secret string `json:"secret,omitempty"`
	// Header, Query and Env say where a key or token goes: a request
	// header (HTTP), a query parameter (HTTP) or an environment variable
	// of the launched command (stdio). Prefix goes before the value in a
	// header ("Bearer ").
	Header string `json:"header,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Query  string `json:"query,omitempty"`
	Env    string `json:"env,omitempty"`

	// OAuth (oauth_user, oauth_client, token_exchange): the issuer, or its
	// endpoints when it publishes no discovery document.
	Issuer           string `json:"issuer,omitempty"`
	AuthorizationURL string `json:"authorizationUrl,omitempty"`
	TokenURL         string `json:"tokenUrl,omitempty"`
	// RevocationURL (oauth_user) is the RFC 7009 revocation endpoint of
	// an authorization server pinned by its endpoints (authorization_url
	// and token_url, no issuer): without it a grant withdrawn here
	// (`gateway creds revoke`, logout) is only removed here. With an
	// issuer it overrides the one the issuer's metadata names.
	RevocationURL string `json:"revocationUrl,omitempty"`
	ClientID      string `json:"clientId,omitempty"`
	ClientSecret  string `json:"clientSecret,omitempty"` // a reference
	// ClientAssertionKey (oauth_client) references a PEM private key
	// (PKCS#8, EC or RSA): mcpgov authenticates at the token endpoint with
	// a JWT it signs with the key (RFC 7523 private_key_jwt) instead of a
	// client secret. ClientAssertionAlg is its algorithm (ES256 for a
	// P-256 key, RS256 for RSA by default).
	ClientAssertionKey string `json:"clientAssertionKey,omitempty"`
	ClientAssertionAlg string `json:"clientAssertionAlg,omitempty"`
	// ClientMetadataURL (oauth_user, no client_id) is the https URL of
	// mcpgov's OAuth Client ID Metadata Document, used as the client id at
	// authorization servers that support them instead of registering.
	ClientMetadataURL string   `json:"clientMetadataUrl,omitempty"`
	Scopes            []string `json:"scopes,omitempty"`
	// Resource (RFC 8707) and Audience name the server the token is for;
	// for passthrough, Audience is what the caller's token must carry.
	Resource string `json:"resource,omitempty"`
	Audience string `json:"audience,omitempty"`

	// SubjectTokenType (token_exchange) is what the caller's token is,
	// as RFC 8693 names it: "access_token" (the default), "id_token" or
	// "jwt".
	SubjectTokenType string `json:"subjectTokenType,omitempty"`
	// ConnectorID (token_exchange) is sent as connector_id: Dex exchanges
	// only tokens of an identity provider it has a connector for, and
	// must be told which (a parameter outside RFC 8693; other issuers
	// ignore it).
	ConnectorID string `json:"connectorId,omitempty"`

	// ServerClientID and ServerClientSecret (cross_app) are mcpgov's
	// client at the server's authorization server, which takes the
	// ID-JAG; ClientID and ClientSecret are then its client at the
	// identity provider (Issuer).
	ServerClientID     string `json:"serverClientId,omitempty"`
	ServerClientSecret string `json:"serverClientSecret,omitempty"` // a reference
	// ServerIssuer (cross_app) pins the server's authorization server:
	// its protected-resource metadata must name it. Required with
	// ServerClientSecret, which is sent there.
	ServerIssuer string `json:"serverIssuer,omitempty"`

	// Legacy is the old free-text value ("oauth", "api-key").
	Legacy string `json:"legacy,omitempty"`

	unknown []string // keys UnmarshalTOML did not know, reported by Load
	bad     []string // values of the wrong TOML type
}

// authKeys are the table's keys, for strict decoding.
var authKeys = map[string]func(a *Auth) any{
	"type": func(a *Auth) any { return (*string)(&a.Type) }, "secret": func(a *Auth) any { return &a.Secret },
	"header": func(a *Auth) any { return &a.Header }, "prefix": func(a *Auth) any { return &a.Prefix },
	"query": func(a *Auth) any { return &a.Query }, "env": func(a *Auth) any { return &a.Env },
	"issuer": func(a *Auth) any { return &a.Issuer }, "authorization_url": func(a *Auth) any { return &a.AuthorizationURL },
	"token_url": func(a *Auth) any { return &a.TokenURL }, "client_id": func(a *Auth) any { return &a.ClientID },
	"revocation_url": func(a *Auth) any { return &a.RevocationURL },
	"client_secret":  func(a *Auth) any { return &a.ClientSecret }, "scopes": func(a *Auth) any { return &a.Scopes },
	"resource": func(a *Auth) any { return &a.Resource }, "audience": func(a *Auth) any { return &a.Audience },
	"client_assertion_key": func(a *Auth) any { return &a.ClientAssertionKey },
	"client_assertion_alg": func(a *Auth) any { return &a.ClientAssertionAlg },
	"client_metadata_url":  func(a *Auth) any { return &a.ClientMetadataURL },
	"subject_token_type":   func(a *Auth) any { return &a.SubjectTokenType }, "connector_id": func(a *Auth) any { return &a.ConnectorID },
	"server_client_id": func(a *Auth) any { return &a.ServerClientID }, "server_client_secret": func(a *Auth) any { return &a.ServerClientSecret },
	"server_issuer": func(a *Auth) any { return &a.ServerIssuer },
}

// SubjectTokenTypes are the RFC 8693 token types a token_exchange's
// subject_token_type may name, by their short names.
var SubjectTokenTypes = map[string]string{
	"access_token": "urn:ietf:params:oauth:token-type:access_token",
	"id_token":     "urn:ietf:params:oauth:token-type:id_token",
	"jwt":          "urn:ietf:params:oauth:token-type:jwt",
}

// UnmarshalTOML implements toml.Unmarshaler: a string is the old free-text
// form, a table the structured one. Unknown keys are kept for Load to
// report with their line (the decoder marks everything under an
// Unmarshaler as decoded).
func (a *Auth) UnmarshalTOML(data any) error {
	*a = Auth{}
	switch v := data.(type) {
	case string:
		a.Legacy = v
		return nil
	case map[string]any:
		for k, val := range v {
			dst, ok := authKeys[k]
			if !ok {
				a.unknown = append(a.unknown, k)
				continue
			}
			switch p := dst(a).(type) {
			case *string:
				s, ok := val.(string)
				if !ok {
					a.bad = append(a.bad, k)
				}
				*p = s
			case *[]string:
				list, ok := val.([]any)
				if !ok {
					a.bad = append(a.bad, k)
				}
				for _, e := range list {
					s, ok := e.(string)
					if !ok {
						a.bad = append(a.bad, k)
						break
					}
					*p = append(*p, s)
				}
			}
		}
		slices.Sort(a.unknown)
		slices.Sort(a.bad)
		return nil
	default:
		return fmt.Errorf("auth: want a table ([servers.ID.auth]) or, in the old form, a string")
	}
}

// Kind is the auth type in effect: none for the old free-text form and an
// absent block.
func (a Auth) Kind() AuthType {
	if a.Type == "" {
		return AuthNone
	}
	return a.Type
}

// String is a one-line description, without any secret (references only).
func (a Auth) String() string {
	if a.Type == "" {
		return a.Legacy
	}
	return string(a.Type)
}

// IsZero reports whether no auth is set at all (for omitzero).
func (a Auth) IsZero() bool { return a.Type == "" && a.Legacy == "" }

// validateAuth reports what is wrong with s's auth block; warn gets what is
// only deprecated.
func (v *validator) auth(s *Server, at func(keys ...string) []string, warn func(path []string, format string, args ...any)) {
	a := s.Auth
	for _, k := range a.unknown {
		v.add(at("auth", k), "server %s: auth: unknown key %q", s.ID, k)
	}
	for _, k := range a.bad {
		v.add(at("auth", k), "server %s: auth.%s: wrong type", s.ID, k)
	}
	if a.Type == "" {
		if a.Legacy != "" {
			warn(at("auth"), "server %s: auth = %q is the old free-text form and injects no credentials; write an [servers.%s.auth] table (type = \"none\", \"api_key\", …)", s.ID, a.Legacy, s.ID)
		}
		return
	}
	if !slices.Contains(authTypes, a.Type) {
		v.add(at("auth", "type"), "server %s: auth.type %q: want one of %s", s.ID, a.Type, joinTypes())
		return
	}
	need := func(key, val string) {
		if val == "" {
			v.add(at("auth"), "server %s: auth type %s needs %s", s.ID, a.Type, key)
		}
	}
	ref := func(key, val string) {
		if val == "" {
			return
		}
		r, err := ParseSecretRef(val)
		if m, ok := secret.Detect("", r.Name); err == nil && ok && m.Strong {
			v.add(at("auth", key), "server %s: auth.%s holds a literal secret (%s) after its scheme; reference it instead (\"env:NAME\", \"vault:NAME\", …)", s.ID, key, m.Kind)
			return
		}
		if err != nil {
			if m, ok := secret.Detect(key, val); ok {
				v.add(at("auth", key), "server %s: auth.%s holds a literal secret (%s); secrets are referenced, never inline: use \"env:NAME\", \"file:PATH\", \"keyring:SERVICE/ACCOUNT\" or \"vault:NAME\"", s.ID, key, m.Kind)
				return
			}
			v.add(at("auth", key), "server %s: auth.%s: %v", s.ID, key, err)
		}
	}
	ref("secret", a.Secret)
	ref("client_secret", a.ClientSecret)
	ref("client_assertion_key", a.ClientAssertionKey)
	ref("server_client_secret", a.ServerClientSecret)
	places := 0
	for _, p := range []string{a.Header, a.Query, a.Env} {
		if p != "" {
			places++
		}
	}
	if a.Header != "" && http.CanonicalHeaderKey(a.Header) != "" && strings.ContainsAny(a.Header, " :\r\n") {
		v.add(at("auth", "header"), "server %s: auth.header %q is not a header name", s.ID, a.Header)
	}
	switch a.Type {
	case AuthAPIKey, AuthAPIKeyPerUser:
		if a.Type == AuthAPIKey {
			need("secret", a.Secret)
		}
		if places != 1 {
			v.add(at("auth"), "server %s: auth type %s needs exactly one of header, query or env (where the key goes)", s.ID, a.Type)
		}
	case AuthOAuthUser, AuthOAuthClient, AuthTokenExchange, AuthCrossApp:
		// A server reached over HTTP names its authorization server in
		// its protected-resource metadata (RFC 9728): oauth_user and
		// oauth_client may leave the issuer to discovery, and oauth_user
		// its client to registration (RFC 7591) or a client metadata
		// document.
		discovers := s.Launch.URL != "" && a.Type != AuthTokenExchange && a.Type != AuthCrossApp
		if a.Issuer == "" && a.TokenURL == "" && !discovers {
			v.add(at("auth"), "server %s: auth type %s needs issuer or token_url", s.ID, a.Type)
		}
		if a.Type != AuthOAuthUser || !discovers {
			need("client_id", a.ClientID)
		}
		if a.Type == AuthOAuthUser && a.Issuer == "" && a.AuthorizationURL == "" && !discovers {
			v.add(at("auth"), "server %s: auth type oauth_user needs issuer or authorization_url", s.ID)
		}
		// A shared secret goes to the token endpoint: left to discovery,
		// the server's own metadata would choose where (any host). A
		// registered or metadata-document client has no secret to lose,
		// and a private_key_jwt assertion names its audience.
		if discovers && a.ClientSecret != "" && a.Issuer == "" && a.TokenURL == "" && (a.Type != AuthOAuthUser || a.AuthorizationURL == "") {
			v.add(at("auth", "client_secret"), "server %s: auth.client_secret is set but the authorization server is left to discovery, so the server's metadata would choose where the secret is sent; pin it with issuer (or token_url), as registered with that authorization server", s.ID)
		}
		// oauth_user pinned by its endpoints, not its issuer: every
		// endpoint is pinned, none comes from the metadata the server
		// names (it would get the consent, the code, or at revocation the
		// refresh token with the client secret).
		if discovers && a.Type == AuthOAuthUser && a.Issuer == "" && (a.TokenURL != "") != (a.AuthorizationURL != "") {
			have, lack := "token_url", "authorization_url"
			if a.TokenURL == "" {
				have, lack = lack, have
			}
			v.add(at("auth", have), "server %s: auth.%s is set without %s or issuer, so the server's metadata would choose the %s; pin the authorization server with issuer, or set both authorization_url and token_url (and revocation_url, else a grant withdrawn here is not revoked at the authorization server)", s.ID, have, lack, strings.Replace(lack, "_url", " endpoint", 1))
		}
		if discovers && a.Type == AuthOAuthUser && a.Issuer == "" && a.AuthorizationURL != "" && a.TokenURL != "" && a.ClientID == "" {
			v.add(at("auth"), "server %s: auth type oauth_user with authorization_url and token_url (no issuer) needs client_id: there is no authorization server metadata to register a client with", s.ID)
		}
	case AuthPassthrough:
		need("audience", a.Audience)
	}
	if a.ClientAssertionKey != "" {
		if a.Type != AuthOAuthClient {
			v.add(at("auth", "client_assertion_key"), "server %s: auth.client_assertion_key is for auth type oauth_client (private_key_jwt), not %s", s.ID, a.Type)
		}
		if a.ClientSecret != "" {
			v.add(at("auth", "client_assertion_key"), "server %s: auth has both client_secret and client_assertion_key; the client authenticates with one: keep client_assertion_key for private_key_jwt, client_secret for a shared secret", s.ID)
		}
	}
	if a.ClientAssertionAlg != "" {
		if !slices.Contains(ClientAssertionAlgs, a.ClientAssertionAlg) {
			v.add(at("auth", "client_assertion_alg"), "server %s: auth.client_assertion_alg %q: want one of %s", s.ID, a.ClientAssertionAlg, strings.Join(ClientAssertionAlgs, ", "))
		}
		if a.ClientAssertionKey == "" {
			v.add(at("auth", "client_assertion_alg"), "server %s: auth.client_assertion_alg is set without client_assertion_key (the key it signs with)", s.ID)
		}
	}
	if a.RevocationURL != "" && a.Type != AuthOAuthUser {
		v.add(at("auth", "revocation_url"), "server %s: auth.revocation_url is for auth type oauth_user, not %s", s.ID, a.Type)
	}
	if a.ClientMetadataURL != "" {
		if a.Type != AuthOAuthUser {
			v.add(at("auth", "client_metadata_url"), "server %s: auth.client_metadata_url is for auth type oauth_user, not %s", s.ID, a.Type)
		}
		if !strings.HasPrefix(a.ClientMetadataURL, "https://") || len(a.ClientMetadataURL) == len("https://") {
			v.add(at("auth", "client_metadata_url"), "server %s: auth.client_metadata_url %q must be an https URL (where mcpgov's client metadata document is published)", s.ID, a.ClientMetadataURL)
		}
	}
	if a.Type == AuthCrossApp {
		need("server_client_id", a.ServerClientID)
		if a.ServerClientSecret != "" && a.ServerIssuer == "" {
			v.add(at("auth", "server_client_secret"), "server %s: auth.server_client_secret is set without server_issuer, so the server's metadata would choose where the secret is sent; pin the authorization server that registered server_client_id with server_issuer", s.ID)
		}
	} else {
		for _, kv := range []struct{ k, v string }{{"server_client_id", a.ServerClientID}, {"server_client_secret", a.ServerClientSecret}, {"server_issuer", a.ServerIssuer}} {
			if kv.v != "" {
				v.add(at("auth", kv.k), "server %s: auth.%s is for cross_app, not %s", s.ID, kv.k, a.Type)
			}
		}
	}
	if a.Type == AuthTokenExchange {
		if _, ok := SubjectTokenTypes[a.SubjectTokenType]; a.SubjectTokenType != "" && !ok {
			v.add(at("auth", "subject_token_type"), "server %s: auth.subject_token_type %q: want access_token, id_token or jwt (the caller's token, as RFC 8693 names it)", s.ID, a.SubjectTokenType)
		}
	} else {
		for _, kv := range []struct{ k, v string }{{"subject_token_type", a.SubjectTokenType}, {"connector_id", a.ConnectorID}} {
			if kv.v != "" {
				v.add(at("auth", kv.k), "server %s: auth.%s is for token_exchange, not %s", s.ID, kv.k, a.Type)
			}
		}
	}
	for _, u := range []struct{ key, val string }{{"issuer", a.Issuer}, {"authorization_url", a.AuthorizationURL}, {"token_url", a.TokenURL}, {"revocation_url", a.RevocationURL}, {"server_issuer", a.ServerIssuer}} {
		if u.val != "" && !strings.HasPrefix(u.val, "https://") && !strings.HasPrefix(u.val, "http://") {
			v.add(at("auth", u.key), "server %s: auth.%s %q must start with https:// or http://", s.ID, u.key, u.val)
		}
	}
	if a.Type == AuthNone || a.Type == AuthPassthrough || a.Type == AuthHeaders {
		if a.Secret != "" || a.ClientSecret != "" || a.ClientAssertionKey != "" || a.ServerClientSecret != "" {
			v.add(at("auth"), "server %s: auth type %s takes no secret", s.ID, a.Type)
		}
	}
}

// ClientAssertionAlgs are the JWS algorithms of auth.client_assertion_alg.
var ClientAssertionAlgs = []string{"ES256", "ES384", "ES512", "RS256", "PS256"}

func joinTypes() string {
	s := make([]string, len(authTypes))
	for i, t := range authTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// SecretRef is a parsed secret reference: Scheme "env", "file", "keyring",
// "vault" or another a secret source registers, and what it names.
type SecretRef struct {
	Scheme string
	Name   string
}

// String is the reference as written.
func (r SecretRef) String() string { return r.Scheme + ":" + r.Name }

// ParseSecretRef parses "scheme:name". The scheme is lower-case letters,
// digits and '-'; a value that does not look like a reference is refused,
// so a literal secret is never taken for one.
func ParseSecretRef(s string) (SecretRef, error) {
	scheme, name, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || name == "" || strings.TrimSpace(name) != name {
		return SecretRef{}, fmt.Errorf("secret reference %q: want SCHEME:NAME (env:NAME, file:PATH, keyring:SERVICE/ACCOUNT, vault:NAME)", redactRef(s))
	}
	for _, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return SecretRef{}, fmt.Errorf("secret reference %q: scheme %q: use lower-case letters, digits and '-'", redactRef(s), redactRef(scheme))
		}
	}
	if scheme == "keyring" {
		if svc, acct, ok := strings.Cut(name, "/"); !ok || svc == "" || acct == "" {
			return SecretRef{}, fmt.Errorf("secret reference %q: want keyring:SERVICE/ACCOUNT", redactRef(s))
		}
	}
	if scheme == "https" || scheme == "http" {
		return SecretRef{}, fmt.Errorf("secret reference %q: a URL is not a secret reference", redactRef(s))
	}
	return SecretRef{Scheme: scheme, Name: name}, nil
}

// redactRef masks a value that may be a literal secret written where a
// reference belongs, for messages.
func redactRef(s string) string {
	if _, ok := secret.Detect("secret", s); ok {
		return secret.Mask(s)
	}
	return s
}

// authJSON is Auth's structured form in JSON.
type authJSON Auth

// MarshalJSON writes the old free-text form as a string and the
// structured block as an object (server.json's governance block, --json).
func (a Auth) MarshalJSON() ([]byte, error) {
	if a.Type == "" {
		return json.Marshal(a.Legacy)
	}
	return json.Marshal(authJSON(a))
}

// UnmarshalJSON reads what MarshalJSON writes; unknown members are errors.
func (a *Auth) UnmarshalJSON(b []byte) error {
	*a = Auth{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.Legacy)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v authJSON
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	*a = Auth(v)
	return nil
}

// TOMLInline is the block as a TOML inline table ("{ type = "api_key", … }"),
// or the old form's string; "" when none is set.
func (a Auth) TOMLInline() string {
	if a.Type == "" {
		if a.Legacy == "" {
			return ""
		}
		return tomldoc.String(a.Legacy)
	}
	var parts []string
	for _, kv := range []struct{ k, v string }{
		{"type", string(a.Type)}, {"secret", a.Secret}, {"header", a.Header}, {"prefix", a.Prefix}, {"query", a.Query}, {"env", a.Env},
		{"issuer", a.Issuer}, {"authorization_url", a.AuthorizationURL}, {"token_url", a.TokenURL}, {"revocation_url", a.RevocationURL}, {"client_id", a.ClientID},
		{"client_secret", a.ClientSecret}, {"resource", a.Resource}, {"audience", a.Audience},
		{"subject_token_type", a.SubjectTokenType}, {"connector_id", a.ConnectorID},
		{"server_client_id", a.ServerClientID}, {"server_client_secret", a.ServerClientSecret}, {"server_issuer", a.ServerIssuer},
		{"client_assertion_key", a.ClientAssertionKey}, {"client_assertion_alg", a.ClientAssertionAlg}, {"client_metadata_url", a.ClientMetadataURL},
	} {
		if kv.v != "" {
			parts = append(parts, kv.k+" = "+tomldoc.String(kv.v))
		}
	}
	if len(a.Scopes) > 0 {
		parts = append(parts, "scopes = "+tomldoc.Strings(a.Scopes))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}
