package govern

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login"
)

// TokenVerifier verifies a bearer token against the issuer's keys
// (*login.Manager does).
type TokenVerifier interface {
	VerifyToken(ctx context.Context, raw string) (login.Identity, time.Time, error)
}

// BearerToken is the identity of one request's bearer token: a gateway
// makes one per request, where the shim's LocalLogin is fixed for its one
// connection. An identity is always required: a request without a valid
// token is refused, never run anonymously.
type BearerToken struct {
	Verifier TokenVerifier
	Token    string
}

var _ IdentitySource = BearerToken{}

// ErrNoToken is returned for a request that carries no bearer token.
var ErrNoToken = errors.New("no bearer token")

// Identity verifies the token.
func (b BearerToken) Identity(ctx context.Context) (audit.Identity, error) {
	none := audit.Identity{Method: "none"}
	if b.Token == "" {
		return none, ErrNoToken
	}
	id, _, err := b.Verifier.VerifyToken(ctx, b.Token)
	if err != nil {
		return none, fmt.Errorf("bearer token: %w", err)
	}
	return AuditIdentity(id, "token"), nil
}

// Required is true: a gateway serves no one it cannot name.
func (BearerToken) Required() bool { return true }
