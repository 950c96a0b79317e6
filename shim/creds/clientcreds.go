package creds

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
)

// clientCredentials fetches a client-credentials token for s (auth type
// oauth_client) at its token endpoint: the configured one, the issuer's,
// or, with neither, the one of the authorization server the server's
// protected-resource metadata names (RFC 9728). The client authenticates
// with its secret, or with a JWT signed with its key (RFC 7523
// private_key_jwt, auth.client_assertion_key).
func (in *Injector) clientCredentials(ctx context.Context, s *catalog.Server) (vault.Token, error) {
	a := s.Auth
	tokenURL, issuer, err := in.clientTokenEndpoint(ctx, s)
	if err != nil {
		return vault.Token{}, err
	}
	cc := clientcredentials.Config{ClientID: a.ClientID, TokenURL: tokenURL, Scopes: a.Scopes, EndpointParams: url.Values{}}
	resource := a.Resource
	if resource == "" && a.Issuer == "" && a.TokenURL == "" {
		// Found through the server's own metadata: the token is for that
		// server (RFC 8707, as MCP asks of its clients).
		resource = s.Launch.URL
	}
	if resource != "" {
		cc.EndpointParams.Set("resource", resource)
	}
	if a.Audience != "" {
		cc.EndpointParams.Set("audience", a.Audience)
	}
	if a.ClientAssertionKey != "" {
		// The assertion's audience is the authorization server: its issuer
		// identifier when known, else its token endpoint (RFC 7523 3).
		aud := issuer
		if aud == "" {
			aud = tokenURL
		}
		assertion, err := in.clientAssertion(ctx, a, aud)
		if err != nil {
			return vault.Token{}, err
		}
		cc.EndpointParams.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		cc.EndpointParams.Set("client_assertion", assertion)
		cc.AuthStyle = oauth2.AuthStyleInParams // client_id in the form, no secret
	} else if cc.ClientSecret, err = in.clientSecret(ctx, a); err != nil {
		return vault.Token{}, err
	}
	t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, in.client()))
	if err != nil {
		return vault.Token{}, fmt.Errorf("client-credentials grant at %s: %w", tokenURL, oauthuser.TokenError(err))
	}
	return vault.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: t.Expiry, Scopes: a.Scopes}, nil
}

// clientTokenEndpoint is the token endpoint of s's client-credentials
// grant and, when known, its authorization server's issuer.
func (in *Injector) clientTokenEndpoint(ctx context.Context, s *catalog.Server) (tokenURL, issuer string, err error) {
	a := s.Auth
	if a.TokenURL != "" || a.Issuer != "" {
		u, err := in.tokenURL(ctx, a)
		return u, a.Issuer, err
	}
	resource := a.Resource
	if resource == "" {
		resource = s.Launch.URL
	}
	if resource == "" {
		return "", "", errors.New("no issuer or token_url, and no server URL to discover the authorization server from")
	}
	key := "resource:" + resource
	in.mu.Lock()
	u, ok := in.endpoints[key]
	iss := in.endpoints[key+"#issuer"]
	in.mu.Unlock()
	if ok {
		return u, iss, nil
	}
	meta, err := oauthuser.AuthorizationServer(ctx, in.client(), resource)
	if err != nil {
		return "", "", err
	}
	if meta.TokenEndpoint == "" {
		return "", "", fmt.Errorf("the authorization server %s publishes no token endpoint", meta.Issuer)
	}
	in.mu.Lock()
	if in.endpoints == nil {
		in.endpoints = map[string]string{}
	}
	in.endpoints[key], in.endpoints[key+"#issuer"] = meta.TokenEndpoint, meta.Issuer
	in.mu.Unlock()
	return meta.TokenEndpoint, meta.Issuer, nil
}

// assertionLifetime bounds a client assertion: long enough for the token
// request, short enough that a copy is soon worthless.
const assertionLifetime = 2 * time.Minute

// clientAssertion is a fresh JWT (RFC 7523 2.2) naming the client as
// issuer and subject, for audience aud, signed with the key
// auth.client_assertion_key references. Errors never hold the key.
func (in *Injector) clientAssertion(ctx context.Context, a catalog.Auth, aud string) (string, error) {
	if in.Secrets == nil {
		return "", errors.New("no secret resolver")
	}
	raw, err := in.Secrets.Resolve(ctx, a.ClientAssertionKey)
	if err != nil {
		return "", fmt.Errorf("auth.client_assertion_key: %w", err)
	}
	key, alg, err := signingKey([]byte(raw), a.ClientAssertionAlg)
	if err != nil {
		return "", fmt.Errorf("auth.client_assertion_key (%s): %w", a.ClientAssertionKey, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("auth.client_assertion_key (%s): %w", a.ClientAssertionKey, err)
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	return josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: a.ClientID, Subject: a.ClientID, Audience: josejwt.Audience{aud},
		IssuedAt: josejwt.NewNumericDate(now), NotBefore: josejwt.NewNumericDate(now.Add(-5 * time.Second)),
		Expiry: josejwt.NewNumericDate(now.Add(assertionLifetime)), ID: base64.RawURLEncoding.EncodeToString(jti),
	}).Serialize()
}

// signingKey reads a PEM private key (PKCS#8, SEC 1 EC or PKCS#1 RSA)
// and the algorithm to sign with: want, else the key's usual one.
func signingKey(pemBytes []byte, want string) (any, jose.SignatureAlgorithm, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, "", errors.New("not a PEM private key (want -----BEGIN PRIVATE KEY----- or an EC or RSA private key)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("a PEM block of type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, "", errors.New("the PEM private key does not parse")
	}
	var usual jose.SignatureAlgorithm
	var fits []jose.SignatureAlgorithm
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			usual = jose.ES256
		case elliptic.P384():
			usual = jose.ES384
		case elliptic.P521():
			usual = jose.ES512
		default:
			return nil, "", errors.New("an EC key on an unsupported curve (want P-256, P-384 or P-521)")
		}
		fits = []jose.SignatureAlgorithm{usual}
	case *rsa.PrivateKey:
		usual, fits = jose.RS256, []jose.SignatureAlgorithm{jose.RS256, jose.PS256}
	default:
		return nil, "", fmt.Errorf("a %T key cannot sign a client assertion (want EC or RSA)", key)
	}
	if want == "" {
		return key, usual, nil
	}
	for _, f := range fits {
		if string(f) == want {
			return key, f, nil
		}
	}
	return nil, "", fmt.Errorf("client_assertion_alg %s does not fit this key (it signs with %s)", want, usual)
}
