package creds

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
)

// The client assertion (RFC 7523 private_key_jwt) is signed with the
// referenced key, names the client as issuer and subject and the
// authorization server as audience, expires within minutes and is unique;
// a key that does not fit the configured algorithm is refused with a
// message that holds no key material.
func TestClientAssertion(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	keys := map[string]string{"EC_KEY": ecPEM, "RSA_KEY": rsaPEM, "NOT_PEM": "ghp_0123456789abcdefghij"}
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(k string) string { return keys[k] }}}
	ctx := context.Background()

	a := catalog.Auth{Type: catalog.AuthOAuthClient, ClientID: "mcpgov-client", ClientAssertionKey: "env:EC_KEY"}
	first, err := in.clientAssertion(ctx, a, "https://as.example")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.ParseSigned(first, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c josejwt.Claims
	if err := tok.Claims(&ec.PublicKey, &c); err != nil {
		t.Fatalf("the assertion does not verify with the key's public half: %v", err)
	}
	if c.Issuer != "mcpgov-client" || c.Subject != "mcpgov-client" || !c.Audience.Contains("https://as.example") || c.ID == "" {
		t.Fatalf("claims = %+v", c)
	}
	if err := c.ValidateWithLeeway(josejwt.Expected{Issuer: "mcpgov-client", AnyAudience: josejwt.Audience{"https://as.example"}, Time: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	if c.Expiry.Time().Sub(c.IssuedAt.Time()) > 5*time.Minute {
		t.Fatalf("the assertion lives %s", c.Expiry.Time().Sub(c.IssuedAt.Time()))
	}
	second, err := in.clientAssertion(ctx, a, "https://as.example")
	if err != nil || second == first {
		t.Fatalf("a second assertion: %v (same as the first: %v)", err, second == first)
	}

	// RSA: RS256 by default, PS256 on request; ES256 does not fit it.
	for alg, want := range map[string]jose.SignatureAlgorithm{"": jose.RS256, "PS256": jose.PS256} {
		s, err := in.clientAssertion(ctx, catalog.Auth{ClientID: "c", ClientAssertionKey: "env:RSA_KEY", ClientAssertionAlg: alg}, "https://as.example")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := josejwt.ParseSigned(s, []jose.SignatureAlgorithm{want}); err != nil {
			t.Fatalf("alg %q: %v", alg, err)
		}
	}
	if _, err := in.clientAssertion(ctx, catalog.Auth{ClientID: "c", ClientAssertionKey: "env:RSA_KEY", ClientAssertionAlg: "ES256"}, "x"); err == nil || !strings.Contains(err.Error(), "does not fit this key") {
		t.Fatalf("ES256 with an RSA key: %v", err)
	}
	_, err = in.clientAssertion(ctx, catalog.Auth{ClientID: "c", ClientAssertionKey: "env:NOT_PEM"}, "x")
	if err == nil || !strings.Contains(err.Error(), "not a PEM private key") || strings.Contains(err.Error(), "ghp_") {
		t.Fatalf("a value that is no key: %v", err)
	}
}

// An oauth_client server with no issuer or token URL: the token endpoint
// is the one of the authorization server its RFC 9728 metadata names, and
// the token is asked for that server (resource), with the client's secret.
func TestClientCredentialsDiscovered(t *testing.T) {
	var form url.Values
	var basic string
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, srv.URL+"/mcp", srv.URL+"/as")
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server/as", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"response_types_supported":["code"]}`, srv.URL+"/as", srv.URL+"/as/token")
	})
	mux.HandleFunc("/as/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form, basic = r.PostForm, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"cc-1","token_type":"Bearer","expires_in":3600}`)
	})
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(string) string { return "s3cret" }}}
	s := &catalog.Server{ID: "jobs", Launch: catalog.Launch{URL: srv.URL + "/mcp"},
		Auth: catalog.Auth{Type: catalog.AuthOAuthClient, ClientID: "mcpgov", ClientSecret: "env:S", Scopes: []string{"jobs:run"}}}
	tok, err := in.clientCredentials(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "cc-1" || form.Get("grant_type") != "client_credentials" || form.Get("resource") != srv.URL+"/mcp" ||
		form.Get("scope") != "jobs:run" || !strings.HasPrefix(basic, "Basic ") {
		t.Fatalf("token %q; the token request: %v, Authorization %q", tok.AccessToken, form, basic)
	}
}
