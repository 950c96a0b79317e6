package creds

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/shim"
)

// crossApp is cross-app access: the caller's ID token, exchanged at the
// identity provider (the auth block's issuer) for an ID-JAG for the
// server, which the server's authorization server (named by the server's
// protected-resource metadata) takes for an access token — once per
// session, recorded without a token.
func (in *Injector) crossApp(ctx context.Context, s *catalog.Server, req Request) (shim.Credentials, error) {
	tok, err := in.crossAppToken(ctx, s, req)
	key := vault.Key{User: req.User, Server: s.ID, Name: "cross_app"}
	if err != nil {
		in.record(vault.Event{Action: vault.ActionRefused, Key: key, Kind: vault.KindToken, Reason: err.Error()})
		return shim.Credentials{}, err
	}
	in.record(vault.Event{Action: ActionExchange, Key: key, Kind: vault.KindToken, Reason: "ID-JAG from " + cmpStr(s.Auth.Issuer, s.Auth.TokenURL) + " for " + crossAppResource(s)})
	return bearer(s, req.Stdio, tok)
}

func crossAppResource(s *catalog.Server) string {
	return cmpStr(s.Auth.Resource, s.Launch.URL)
}

func (in *Injector) crossAppToken(ctx context.Context, s *catalog.Server, req Request) (string, error) {
	a := s.Auth
	subject := inboundToken(req.Inbound)
	if subject == "" {
		return "", &Error{Server: s.ID, Err: errors.New("cross-app access needs the caller's ID token; there is none"), Hint: "reach the server through the gateway with the identity provider's ID token"}
	}
	resource := crossAppResource(s)
	if resource == "" {
		return "", &Error{Server: s.ID, Err: errors.New("cross-app access needs the server's URL (its launch url, or auth.resource)")}
	}
	idpSecret, err := in.clientSecret(ctx, a)
	if err != nil {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("auth.client_secret: %w", err)}
	}
	secret := ""
	if a.ServerClientSecret != "" {
		if in.Secrets == nil {
			return "", &Error{Server: s.ID, Err: errors.New("no secret resolver")}
		}
		if secret, err = in.Secrets.Resolve(ctx, a.ServerClientSecret); err != nil {
			return "", &Error{Server: s.ID, Err: fmt.Errorf("auth.server_client_secret: %w", err)}
		}
	}
	xa := &oauthuser.CrossApp{IdPIssuer: a.Issuer, IdPTokenURL: a.TokenURL, IdPClientID: a.ClientID, IdPClientSecret: idpSecret,
		ClientID: a.ServerClientID, ClientSecret: secret, ServerIssuer: a.ServerIssuer, Resource: resource, Scopes: a.Scopes, HTTPClient: in.HTTPClient}
	t, err := xa.Token(ctx, subject)
	if err != nil {
		return "", &Error{Server: s.ID, Err: fmt.Errorf("cross-app access: %w", err),
			Hint: "the identity provider decides whether the caller may reach the server (its policy for mcpgov's client and this audience); check client_id, server_client_id and their secrets"}
	}
	return t.AccessToken, nil
}
