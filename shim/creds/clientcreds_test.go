package creds

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
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
