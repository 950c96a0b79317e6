package oauthusertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// ResourceServer is an MCP server over Streamable HTTP at /mcp that
// requires bearer tokens issued by an issuer for an audience (go-sdk's
// RequireBearerToken), publishes RFC 9728 protected-resource metadata, and
// offers one tool, whoami, answering the token's email.
type ResourceServer struct {
	// Handler serves /mcp and the metadata.
	Handler http.Handler
	// Calls counts whoami calls that got through; Refused counts
	// requests the middleware refused.
	Calls, Refused atomic.Int32
	// Introspect, when set, also presents each token to the issuer's
	// userinfo endpoint, so one the issuer no longer honours (revoked,
	// or issued before a restart of an issuer with memory storage) is
	// refused with 401 though its signature and expiry are fine, as a
	// resource server that introspects tokens does.
	Introspect atomic.Bool
}

// NewResourceServer discovers issuer and builds the server; resourceURL is
// its own /mcp URL as clients reach it (the metadata's resource).
func NewResourceServer(ctx context.Context, issuer, audience, resourceURL, metadataURL string) (*ResourceServer, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", issuer, err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: audience})
	rs := &ResourceServer{}
	verify := func(ctx context.Context, raw string, _ *http.Request) (*auth.TokenInfo, error) {
		tok, err := verifier.Verify(ctx, raw)
		if err == nil && rs.Introspect.Load() {
			_, err = provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: raw, TokenType: "Bearer"}))
		}
		if err != nil {
			rs.Refused.Add(1)
			return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
		}
		var c struct {
			Email string `json:"email"`
		}
		if err := tok.Claims(&c); err != nil {
			return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{UserID: tok.Subject, Expiration: tok.Expiry, Extra: map[string]any{"email": c.Email}}, nil
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "bearer-upstream", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "Answers the email of the token's user."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			ti := req.Extra.TokenInfo
			if ti == nil {
				return nil, nil, errors.New("no token info")
			}
			rs.Calls.Add(1)
			email, _ := ti.Extra["email"].(string)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: email}}}, nil, nil
		})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	meta := &oauthex.ProtectedResourceMetadata{
		Resource: resourceURL, AuthorizationServers: []string{issuer}, BearerMethodsSupported: []string{"header"},
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(meta))
	mux.Handle("/.well-known/oauth-protected-resource", auth.ProtectedResourceMetadataHandler(meta))
	mux.Handle("/mcp", auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: metadataURL})(mcpHandler))
	rs.Handler = mux
	return rs, nil
}
